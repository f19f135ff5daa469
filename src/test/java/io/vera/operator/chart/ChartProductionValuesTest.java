package io.vera.operator.chart;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a platform team sets when it installs the chart next to others: pull secrets, security
 * context overrides, scheduling, a PodDisruptionBudget, a NetworkPolicy, and the chart as a
 * subchart of an umbrella chart.
 */
class ChartProductionValuesTest {
  private static final Path CHART = Path.of("helm", "vera-operator");
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  @TempDir Path temp;

  private List<JsonNode> render(String values) throws IOException {
    Path file = Files.createTempFile(temp, "values", ".yaml");
    Files.writeString(file, values);
    return parse(
        new Helm(CHART)
            .template()
            .withName("vera")
            .withNamespace("vera-system")
            .withValuesFile(file)
            .call());
  }

  static List<JsonNode> parse(String rendered) throws IOException {
    List<JsonNode> objects = new ArrayList<>();
    for (JsonNode doc : YAML.readerFor(JsonNode.class).<JsonNode>readValues(rendered).readAll()) {
      if (doc != null && doc.has("kind")) {
        objects.add(doc);
      }
    }
    return objects;
  }

  static List<JsonNode> ofKind(List<JsonNode> objects, String kind) {
    return objects.stream().filter(o -> o.path("kind").asText().equals(kind)).toList();
  }

  static JsonNode only(List<JsonNode> objects, String kind) {
    List<JsonNode> matching = ofKind(objects, kind);
    assertThat(matching).as(kind).hasSize(1);
    return matching.get(0);
  }

  private static JsonNode podSpec(List<JsonNode> objects) {
    return only(objects, "Deployment").path("spec").path("template").path("spec");
  }

  /** The values a cautious production install turns on, all at once. */
  private static final String EVERYTHING_ON =
      """
      replicaCount: 2
      imagePullSecrets: [{name: regcred}]
      priorityClassName: system-cluster-critical
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}
      podDisruptionBudget: {enabled: true}
      networkPolicy: {enabled: true}
      watchNamespaces: [team-a, team-b]
      serviceMonitor: {enabled: true}
      prometheusRule: {enabled: true}
      grafanaDashboard: {enabled: true}
      """;

  @Test
  void chartWithEveryProductionValueOnLintsCleanly() throws IOException {
    Path copy = copyChart(temp.resolve("vera-operator"));
    JsonNode values = YAML.readTree(copy.resolve("values.yaml").toFile());
    // Merged key by key, as Helm merges values files.
    values = YAML.readerForUpdating(values).readValue(EVERYTHING_ON);
    YAML.writeValue(copy.resolve("values.yaml").toFile(), values);
    LintResult result = new Helm(copy).lint().strict().call();
    assertThat(result.isFailed()).as(String.join("\n", result.getMessages())).isFalse();
  }

  @Test
  void defaultsAddNoDisruptionBudgetNorNetworkPolicyAndKeepThePodHardened() throws IOException {
    List<JsonNode> objects = render("{}");
    assertThat(objects.stream().map(o -> o.path("kind").asText()))
        .doesNotContain("PodDisruptionBudget", "NetworkPolicy");
    JsonNode pod = podSpec(objects);
    assertThat(pod.path("securityContext").toString())
        .isEqualTo(
            "{\"runAsGroup\":65532,\"runAsNonRoot\":true,\"runAsUser\":65532,"
                + "\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}");
    assertThat(pod.path("containers").get(0).path("securityContext").toString())
        .isEqualTo(
            "{\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"ALL\"]},"
                + "\"readOnlyRootFilesystem\":true}");
    assertThat(pod.has("imagePullSecrets")).isFalse();
    assertThat(pod.has("priorityClassName")).isFalse();
    assertThat(pod.has("topologySpreadConstraints")).isFalse();
  }

  @Test
  void imagePullSecretsReachTheOperatorPodAndTheWorkerServiceAccount() throws IOException {
    List<JsonNode> objects = render("imagePullSecrets: [{name: regcred}]\n");
    assertThat(podSpec(objects).path("imagePullSecrets").toString())
        .isEqualTo("[{\"name\":\"regcred\"}]");
    JsonNode workerAccount =
        ofKind(objects, "ServiceAccount").stream()
            .filter(a -> a.path("metadata").path("name").asText().endsWith("-worker"))
            .findFirst()
            .orElseThrow();
    assertThat(workerAccount.path("imagePullSecrets").toString())
        .as("worker pods run the same image")
        .isEqualTo("[{\"name\":\"regcred\"}]");
    assertThatThrownBy(() -> render("imagePullSecrets: [regcred]\n"))
        .hasMessageContaining("imagePullSecrets");
  }

  @Test
  void securityContextsAreMergedOverTheDefaults() throws IOException {
    JsonNode pod =
        podSpec(
            render(
                """
                podSecurityContext: {runAsUser: null, runAsGroup: null, fsGroup: 2000}
                securityContext:
                  seLinuxOptions: {type: spc_t}
                docker: {socket: {enabled: true, groupId: 999}}
                """));
    JsonNode security = pod.path("securityContext");
    assertThat(security.has("runAsUser")).as("null drops the fixed user (OpenShift)").isFalse();
    assertThat(security.has("runAsGroup")).isFalse();
    assertThat(security.path("runAsNonRoot").asBoolean()).isTrue();
    assertThat(security.path("fsGroup").asInt()).isEqualTo(2000);
    assertThat(security.path("seccompProfile").path("type").asText()).isEqualTo("RuntimeDefault");
    assertThat(security.path("supplementalGroups").toString()).isEqualTo("[999]");
    JsonNode container = pod.path("containers").get(0).path("securityContext");
    assertThat(container.path("seLinuxOptions").path("type").asText()).isEqualTo("spc_t");
    assertThat(container.path("readOnlyRootFilesystem").asBoolean()).isTrue();
    assertThat(container.path("allowPrivilegeEscalation").asBoolean()).isFalse();
  }

  @Test
  void priorityClassAndTopologySpreadAreScheduledWithTheOperatorsOwnLabels() throws IOException {
    JsonNode pod = podSpec(render(EVERYTHING_ON));
    assertThat(pod.path("priorityClassName").asText()).isEqualTo("system-cluster-critical");
    JsonNode spread = pod.path("topologySpreadConstraints").get(0);
    assertThat(spread.path("topologyKey").asText()).isEqualTo("topology.kubernetes.io/zone");
    assertThat(spread.path("labelSelector").path("matchLabels").toString())
        .isEqualTo(
            "{\"app.kubernetes.io/instance\":\"vera\",\"app.kubernetes.io/name\":\"vera-operator\"}");
    assertThatThrownBy(
            () -> render("topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone}]\n"))
        .hasMessageContaining("whenUnsatisfiable");
  }

  @Test
  void disruptionBudgetCoversTheReplicasAndIsRefusedForASingleOne() throws IOException {
    List<JsonNode> objects = render(EVERYTHING_ON);
    JsonNode budget = only(objects, "PodDisruptionBudget");
    assertThat(budget.path("spec").path("maxUnavailable").asInt()).isEqualTo(1);
    assertThat(budget.path("spec").has("minAvailable")).isFalse();
    assertThat(budget.path("spec").path("selector").path("matchLabels"))
        .isEqualTo(only(objects, "Deployment").path("spec").path("selector").path("matchLabels"));
    assertThat(budget.path("metadata").path("namespace").asText()).isEqualTo("vera-system");
    assertThatThrownBy(() -> render("podDisruptionBudget: {enabled: true}\n"))
        .as("a budget over one pod blocks every drain")
        .hasMessageContaining("replicaCount");
  }

  @Test
  void networkPolicyLetsWorkersAndTheReleaseNamespaceInAndTheOperatorOutToWhatItCalls()
      throws IOException {
    JsonNode policy = only(render(EVERYTHING_ON), "NetworkPolicy");
    JsonNode spec = policy.path("spec");
    assertThat(spec.path("podSelector").path("matchLabels").path("app.kubernetes.io/name").asText())
        .isEqualTo("vera-operator");
    assertThat(spec.path("policyTypes").toString()).isEqualTo("[\"Ingress\",\"Egress\"]");
    JsonNode ingress = spec.path("ingress").get(0);
    assertThat(ingress.path("ports").toString()).contains("\"port\":\"http\"");
    List<String> from = new ArrayList<>();
    ingress
        .path("from")
        .forEach(
            peer ->
                from.add(
                    peer.path("namespaceSelector")
                        .path("matchLabels")
                        .path("kubernetes.io/metadata.name")
                        .asText()));
    assertThat(from).containsExactly("vera-system", "team-a", "team-b");
    List<String> egressPorts = new ArrayList<>();
    spec.path("egress")
        .forEach(
            rule ->
                rule.path("ports")
                    .forEach(
                        p -> egressPorts.add(p.path("protocol").asText() + "/" + p.path("port"))));
    assertThat(egressPorts)
        .as("DNS, the API server, HTTPS providers")
        .containsExactly("UDP/53", "TCP/53", "TCP/443", "TCP/6443", "TCP/443");

    JsonNode everywhere =
        only(
                render(
                    """
                    networkPolicy:
                      enabled: true
                      ingress:
                        from: [{namespaceSelector: {matchLabels: {team: monitoring}}}]
                      egress:
                        apiServer: {cidrs: [10.0.0.1/32], ports: [6443]}
                        to: [{to: [{ipBlock: {cidr: 192.168.10.0/24}}], ports: [{port: 8006}]}]
                    """),
                "NetworkPolicy")
            .path("spec");
    assertThat(everywhere.path("ingress").get(0).path("from").toString())
        .as("all namespaces are watched, so worker pods may run in any")
        .isEqualTo(
            "[{\"namespaceSelector\":{}},"
                + "{\"namespaceSelector\":{\"matchLabels\":{\"team\":\"monitoring\"}}}]");
    assertThat(everywhere.path("egress").get(1).toString())
        .isEqualTo(
            "{\"ports\":[{\"port\":6443,\"protocol\":\"TCP\"}],"
                + "\"to\":[{\"ipBlock\":{\"cidr\":\"10.0.0.1/32\"}}]}");
    assertThat(everywhere.path("egress").get(2).toString()).contains("192.168.10.0/24", "8006");

    JsonNode ingressOnly =
        only(render("networkPolicy: {enabled: true, egress: {enabled: false}}\n"), "NetworkPolicy")
            .path("spec");
    assertThat(ingressOnly.path("policyTypes").toString()).isEqualTo("[\"Ingress\"]");
    assertThat(ingressOnly.has("egress")).isFalse();
    assertThatThrownBy(() -> render("networkPolicy: {egress: {apiServer: {cidrs: [10.0.0.1]}}}\n"))
        .hasMessageContaining("cidrs");
  }

  private static List<String> grants(JsonNode role) {
    List<String> grants = new ArrayList<>();
    for (JsonNode rule : role.path("rules")) {
      for (JsonNode resource : rule.path("resources")) {
        for (JsonNode verb : rule.path("verbs")) {
          grants.add(resource.asText() + ":" + verb.asText());
        }
      }
    }
    return grants;
  }

  @Test
  void watchedNamespacesGetRolesAndTheClusterRoleKeepsOnlyWhatIsClusterWide() throws IOException {
    List<JsonNode> objects = render("watchNamespaces: [team-a, vera-system]\n");
    JsonNode clusterRole =
        ofKind(objects, "ClusterRole").stream()
            .filter(r -> r.path("metadata").path("name").asText().equals("vera-vera-operator"))
            .findFirst()
            .orElseThrow();
    assertThat(grants(clusterRole))
        .containsExactlyInAnyOrder(
            "namespaces:get", "tokenreviews:create", "subjectaccessreviews:create");

    List<JsonNode> operatorRoles =
        ofKind(objects, "Role").stream()
            .filter(r -> r.path("metadata").path("name").asText().equals("vera-vera-operator"))
            .toList();
    assertThat(operatorRoles.stream().map(r -> r.path("metadata").path("namespace").asText()))
        .as("each watched namespace and the release namespace, once")
        .containsExactly("vera-system", "team-a");
    for (JsonNode role : operatorRoles) {
      assertThat(grants(role))
          .contains(
              "pods/exec:create",
              "secrets:get",
              "veratasks:watch",
              "veratasks/status:patch",
              "deployments:create",
              "events:create")
          .doesNotContain("secrets:list", "secrets:watch");
    }
    List<JsonNode> bindings =
        ofKind(objects, "RoleBinding").stream()
            .filter(b -> b.path("roleRef").path("name").asText().equals("vera-vera-operator"))
            .toList();
    assertThat(bindings.stream().map(b -> b.path("metadata").path("namespace").asText()))
        .containsExactly("vera-system", "team-a");
    for (JsonNode binding : bindings) {
      assertThat(binding.path("roleRef").path("kind").asText()).isEqualTo("Role");
      assertThat(binding.path("subjects").get(0).path("namespace").asText())
          .isEqualTo("vera-system");
    }

    List<String> allNamespaces =
        grants(
            ofKind(render("{}"), "ClusterRole").stream()
                .filter(r -> r.path("metadata").path("name").asText().equals("vera-vera-operator"))
                .findFirst()
                .orElseThrow());
    assertThat(allNamespaces)
        .as("every namespace watched: one ClusterRole")
        .contains("pods/exec:create", "secrets:get");
  }

  /**
   * The metric families the operator serves, as MetricsConventionsTest finds them in a scrape (the
   * provider ones as ProviderMetricsTest does).
   */
  private static final Set<String> SERVED =
      Set.of(
          "vera_leader",
          "vera_tasks_total",
          "vera_queue_depth",
          "vera_queue_oldest_age_seconds",
          "vera_tasks_running",
          "vera_task_queue_wait_seconds",
          "vera_task_run_seconds",
          "vera_provider_requests_total",
          "vera_provider_latency_seconds",
          "vera_provider_tokens_total",
          "vera_provider_cost_usd_total",
          "vera_provider_month_cost_usd",
          "vera_provider_budget_monthly_usd",
          "vera_provider_ready",
          "vera_provider_time_to_first_token_seconds");

  private static Set<String> metricsIn(String text) {
    Set<String> names = new TreeSet<>();
    Matcher m = Pattern.compile("vera_[a-z_]+").matcher(text);
    while (m.find()) {
      names.add(m.group().replaceAll("_(bucket|count|sum)$", ""));
    }
    return names;
  }

  @Test
  void alertsCoverTheOperatorsFailuresAndUseOnlyMetricsItServes() throws IOException {
    assertThat(render("{}").stream().map(o -> o.path("kind").asText()))
        .doesNotContain("PrometheusRule");
    JsonNode rule = only(render(EVERYTHING_ON), "PrometheusRule");
    List<String> alerts = new ArrayList<>();
    StringBuilder exprs = new StringBuilder();
    for (JsonNode r : rule.path("spec").path("groups").get(0).path("rules")) {
      alerts.add(r.path("alert").asText());
      exprs.append(r.path("expr").asText()).append('\n');
      assertThat(r.path("annotations").path("summary").asText()).isNotBlank();
      assertThat(r.path("expr").asText()).contains("job=\"vera-vera-operator\"");
    }
    assertThat(alerts)
        .containsExactlyInAnyOrder(
            "VeraOperatorNotLeading",
            "VeraQueueStuck",
            "VeraOldestQueuedTaskTooOld",
            "VeraTaskErrorRate",
            "VeraProviderNotReady",
            "VeraProviderBudget80Percent",
            "VeraProviderBudgetExhausted");
    assertThat(metricsIn(exprs.toString())).isSubsetOf(SERVED);
    assertThat(exprs.toString()).contains("> 900", "> 0.1", ">= 0.8 *");
    assertThat(exprs.toString())
        .as("provider not Ready from the readiness gauge, not from failed calls")
        .contains("vera_provider_ready");
  }

  @Test
  void grafanaDashboardIsAConfigMapForTheSidecarOverServedMetrics() throws IOException {
    assertThat(render("{}").stream().map(o -> o.path("kind").asText())).doesNotContain("ConfigMap");
    JsonNode map =
        only(
            render(
                "grafanaDashboard: {enabled: true, namespace: monitoring,"
                    + " annotations: {grafana_folder: Operators}}\n"),
            "ConfigMap");
    assertThat(map.path("metadata").path("labels").path("grafana_dashboard").asText())
        .isEqualTo("1");
    assertThat(map.path("metadata").path("namespace").asText()).isEqualTo("monitoring");
    assertThat(map.path("metadata").path("annotations").path("grafana_folder").asText())
        .isEqualTo("Operators");
    String json = map.path("data").path("vera-operator.json").asText();
    JsonNode dashboard = new ObjectMapper().readTree(json);
    assertThat(dashboard.path("uid").asText()).isEqualTo("vera-operator");
    List<String> titles = new ArrayList<>();
    dashboard.path("panels").forEach(p -> titles.add(p.path("title").asText()));
    assertThat(titles)
        .contains(
            "Tasks and pools",
            "Compute resources",
            "Providers and spend",
            "Queue depth by pool",
            "Month spend against budget",
            "Provider Ready",
            "Time to first token p95");
    assertThat(metricsIn(json)).isSubsetOf(SERVED).contains("vera_queue_depth", "vera_leader");
  }

  @Test
  void rendersAsASubchartOfAnUmbrellaChartWithGlobalValues() throws IOException {
    Path umbrella = temp.resolve("platform");
    copyChart(umbrella.resolve("charts").resolve("vera-operator"));
    Files.writeString(
        umbrella.resolve("Chart.yaml"),
        """
        apiVersion: v2
        name: platform
        version: 1.0.0
        dependencies:
          - name: vera-operator
            version: ">=0.1.0"
        """);
    Files.writeString(
        umbrella.resolve("values.yaml"),
        """
        global:
          imageRegistry: registry.example
          storageClass: fast
        vera-operator:
          replicaCount: 2
          imagePullSecrets: [{name: regcred}]
          podDisruptionBudget: {enabled: true}
          networkPolicy: {enabled: true}
        """);
    List<JsonNode> objects =
        parse(new Helm(umbrella).template().withName("platform").withNamespace("apps").call());
    JsonNode deployment = only(objects, "Deployment");
    assertThat(deployment.path("metadata").path("name").asText())
        .isEqualTo("platform-vera-operator");
    assertThat(deployment.path("spec").path("replicas").asInt()).isEqualTo(2);
    assertThat(deployment.toString()).contains("--namespace=apps", "regcred");
    only(objects, "PodDisruptionBudget");
    only(objects, "NetworkPolicy");
    assertThat(ofKind(objects, "ClusterRole")).isNotEmpty();
  }

  /** A copy of the chart at {@code target}, to change its values or nest it in another chart. */
  private static Path copyChart(Path target) throws IOException {
    try (Stream<Path> files = Files.walk(CHART)) {
      for (Path source : files.sorted(Comparator.naturalOrder()).toList()) {
        Path dest = target.resolve(CHART.relativize(source).toString());
        if (Files.isDirectory(source)) {
          Files.createDirectories(dest);
        } else {
          Files.copy(source, dest);
        }
      }
    }
    return target;
  }
}
