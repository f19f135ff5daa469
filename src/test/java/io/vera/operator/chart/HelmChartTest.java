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
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The Helm chart lints, renders what the operator needs, and ships the CRDs the build generates.
 */
class HelmChartTest {
  private static final Path CHART = Path.of("helm", "vera-operator");
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  private static List<JsonNode> render(String... sets) throws IOException {
    var template = new Helm(CHART).template().withName("vera").withNamespace("vera-system");
    for (int i = 0; i < sets.length; i += 2) {
      template = template.set(sets[i], sets[i + 1]);
    }
    return parse(template.call());
  }

  /** Renders with a values file: numbers then reach the templates as floats, unlike --set. */
  private static List<JsonNode> renderValues(String values) throws IOException {
    Path file = Files.createTempFile("vera-values", ".yaml");
    try {
      Files.writeString(file, values);
      return parse(
          new Helm(CHART)
              .template()
              .withName("vera")
              .withNamespace("vera-system")
              .withValuesFile(file)
              .call());
    } finally {
      Files.deleteIfExists(file);
    }
  }

  private static List<JsonNode> parse(String rendered) throws IOException {
    List<JsonNode> objects = new ArrayList<>();
    for (JsonNode doc : YAML.readerFor(JsonNode.class).<JsonNode>readValues(rendered).readAll()) {
      if (doc != null && doc.has("kind")) {
        objects.add(doc);
      }
    }
    return objects;
  }

  private static JsonNode only(List<JsonNode> objects, String kind) {
    List<JsonNode> matching =
        objects.stream().filter(o -> o.path("kind").asText().equals(kind)).toList();
    assertThat(matching).as(kind).hasSize(1);
    return matching.get(0);
  }

  private static JsonNode named(List<JsonNode> objects, String kind, String name) {
    List<JsonNode> matching =
        objects.stream()
            .filter(o -> o.path("kind").asText().equals(kind))
            .filter(o -> o.path("metadata").path("name").asText().equals(name))
            .toList();
    assertThat(matching).as(kind + " " + name).hasSize(1);
    return matching.get(0);
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
  void chartLintsCleanly() {
    LintResult result = new Helm(CHART).lint().strict().call();
    assertThat(result.isFailed()).as(String.join("\n", result.getMessages())).isFalse();
  }

  @Test
  void operatorRunsUnprivilegedWithProbesAndItsServiceAccount() throws IOException {
    List<JsonNode> objects = render();
    JsonNode pod = only(objects, "Deployment").path("spec").path("template").path("spec");
    assertThat(pod.path("securityContext").path("runAsNonRoot").asBoolean()).isTrue();
    JsonNode container = pod.path("containers").get(0);
    assertThat(container.path("securityContext").path("readOnlyRootFilesystem").asBoolean())
        .isTrue();
    assertThat(container.path("securityContext").path("allowPrivilegeEscalation").asBoolean())
        .isFalse();
    assertThat(container.path("readinessProbe").path("httpGet").path("path").asText())
        .isEqualTo("/readyz");
    assertThat(container.path("livenessProbe").path("httpGet").path("path").asText())
        .isEqualTo("/healthz");
    assertThat(container.path("resources").path("limits").path("memory").asText()).isNotBlank();
    assertThat(container.path("args").toString())
        .contains("--namespace=vera-system")
        .contains("--operator-url=http://vera-vera-operator.vera-system.svc:8000");
    String serviceAccount =
        named(objects, "ServiceAccount", "vera-vera-operator")
            .path("metadata")
            .path("name")
            .asText();
    assertThat(pod.path("serviceAccountName").asText()).isEqualTo(serviceAccount);
    assertThat(only(objects, "Service").path("spec").path("ports").get(0).path("port").asInt())
        .isEqualTo(8000);
    assertThat(objects.stream().map(o -> o.path("kind").asText())).doesNotContain("ServiceMonitor");
  }

  @Test
  void rbacGrantsOnlyWhatTheOperatorUses() throws IOException {
    JsonNode role = named(render(), "ClusterRole", "vera-vera-operator");
    List<String> grants = grants(role);
    assertThat(grants).noneMatch(g -> g.contains("*"));
    assertThat(grants.stream().filter(g -> g.startsWith("secrets:")))
        .as("Secrets are read by name only, never listed or watched cluster-wide")
        .containsExactly("secrets:get");
    assertThat(grants)
        .contains(
            "veratasks:watch",
            "veratasks/status:patch",
            "workerpools/status:patch",
            "deployments:create",
            "events:create",
            "tokenreviews:create",
            "subjectaccessreviews:create");
    assertThat(grants).noneMatch(g -> g.endsWith(":call") || g.endsWith(":exec"));
    assertThat(grants.stream().filter(g -> g.startsWith("namespaces:")))
        .containsExactly("namespaces:get");
    JsonNode namespaces = null;
    for (JsonNode rule : role.path("rules")) {
      if (rule.path("resources").toString().equals("[\"namespaces\"]")) {
        namespaces = rule;
      }
    }
    assertThat(namespaces.path("resourceNames").toString())
        .as("only the release namespace, whose UID is the installation id")
        .isEqualTo("[\"vera-system\"]");
    JsonNode writer = named(render(), "Role", "vera-vera-operator-secrets");
    assertThat(writer.path("metadata").path("namespace").asText()).isEqualTo("vera-system");
    assertThat(writer.path("rules").get(0).path("resources").toString()).isEqualTo("[\"secrets\"]");
    JsonNode binding = named(render(), "ClusterRoleBinding", "vera-vera-operator");
    assertThat(binding.path("subjects").get(0).path("namespace").asText()).isEqualTo("vera-system");
  }

  @Test
  void pricingConfigMapIsReadOnlyInTheReleaseNamespace() throws IOException {
    List<JsonNode> objects = render();
    assertThat(only(objects, "Deployment").toString())
        .contains("--pricing-configmap=vera-system/vera-pricing");
    JsonNode role = named(objects, "Role", "vera-vera-operator-pricing");
    assertThat(role.path("metadata").path("namespace").asText()).isEqualTo("vera-system");
    assertThat(grants(role))
        .containsExactlyInAnyOrder("configmaps:get", "configmaps:list", "configmaps:watch");
    JsonNode binding = named(objects, "RoleBinding", "vera-vera-operator-pricing");
    assertThat(binding.path("metadata").path("namespace").asText()).isEqualTo("vera-system");
    assertThat(binding.path("roleRef").path("name").asText())
        .isEqualTo("vera-vera-operator-pricing");
    assertThat(binding.path("subjects").get(0).path("name").asText())
        .isEqualTo("vera-vera-operator");
    assertThat(binding.path("subjects").get(0).path("namespace").asText()).isEqualTo("vera-system");
    assertThat(objects.stream().filter(o -> o.path("kind").asText().startsWith("Cluster")))
        .as("no cluster-wide grant on ConfigMaps")
        .noneMatch(o -> o.toString().contains("configmaps"));
    assertThat(grants(named(objects, "ClusterRole", "vera-vera-operator")))
        .as("refused entries are reported as Events")
        .contains("events:create");

    assertThat(only(render("pricing.configMapName", "llm-prices"), "Deployment").toString())
        .contains("--pricing-configmap=vera-system/llm-prices");
    assertThatThrownBy(() -> render("pricing.configMapName", "Not/A Name"))
        .hasMessageContaining("configMapName");
  }

  @Test
  void serviceMonitorAndWatchedNamespacesAreOptional() throws IOException {
    List<JsonNode> objects =
        render("serviceMonitor.enabled", "true", "watchNamespaces[0]", "team-a");
    assertThat(
            only(objects, "ServiceMonitor")
                .path("spec")
                .path("endpoints")
                .get(0)
                .path("path")
                .asText())
        .isEqualTo("/metrics");
    assertThat(only(objects, "Deployment").toString()).contains("--watch-namespace=team-a");
  }

  @Test
  void instanceIdIsPassedOnlyWhenSetAndMustFitALabelValue() throws IOException {
    assertThat(only(render(), "Deployment").toString()).doesNotContain("--instance-id");
    assertThat(only(render("instanceId", "prod-eu-1"), "Deployment").toString())
        .contains("--instance-id=prod-eu-1");
    assertThatThrownBy(() -> render("instanceId", "Prod_EU")).hasMessageContaining("instanceId");
    assertThatThrownBy(() -> render("instanceId", "x".repeat(64)))
        .hasMessageContaining("instanceId");
  }

  @Test
  void valuesOutsideTheSchemaAreRefused() {
    assertThatThrownBy(() -> render("replicaCount", "6")).hasMessageContaining("replicaCount");
    assertThatThrownBy(() -> render("replicaCount", "2", "leaderElection.enabled", "false"))
        .as("two operators without leader election would both dispatch")
        .hasMessageContaining("replicaCount");
    assertThatThrownBy(() -> render("legacyPoolRuntime", "Threads"))
        .hasMessageContaining("legacyPoolRuntime");
  }

  @Test
  void leaderElectionIsOnByDefaultWithALeaseRoleAndTwoReplicasPossible() throws IOException {
    List<JsonNode> objects = render("replicaCount", "2");
    JsonNode deployment = only(objects, "Deployment");
    assertThat(deployment.path("spec").path("replicas").asInt()).isEqualTo(2);
    assertThat(deployment.path("spec").path("strategy").path("type").asText())
        .isEqualTo("RollingUpdate");
    JsonNode rollingUpdate = deployment.path("spec").path("strategy").path("rollingUpdate");
    assertThat(rollingUpdate.path("maxUnavailable").asInt())
        .as("a new pod is a Ready standby before an old one stops")
        .isZero();
    assertThat(rollingUpdate.path("maxSurge").asInt()).isEqualTo(1);
    assertThat(deployment.toString())
        .contains("--leader-election\"")
        .contains("--leader-election-lease-name=vera-operator-leader")
        .contains("--leader-election-namespace=vera-system")
        .doesNotContain("--insecure-disable-auth");
    JsonNode leases = named(objects, "Role", "vera-vera-operator-leader-election");
    assertThat(grants(leases))
        .as("the Lease, and labelling the leader's pod: no get, watch, update or delete of pods")
        .containsExactlyInAnyOrder(
            "leases:get",
            "leases:create",
            "leases:update",
            "leases:patch",
            "pods:list",
            "pods:patch");
    assertThat(leases.path("metadata").path("namespace").asText()).isEqualTo("vera-system");
    assertThat(leases.path("rules").get(0).path("apiGroups").toString())
        .isEqualTo("[\"coordination.k8s.io\"]");
    assertThat(leases.path("rules").get(1).path("apiGroups").toString()).isEqualTo("[\"\"]");
    assertThat(
            named(objects, "RoleBinding", "vera-vera-operator-leader-election")
                .path("subjects")
                .get(0)
                .path("name")
                .asText())
        .isEqualTo("vera-vera-operator");

    List<JsonNode> single = render("leaderElection.enabled", "false");
    JsonNode alone = only(single, "Deployment");
    assertThat(alone.path("spec").path("strategy").path("type").asText()).isEqualTo("Recreate");
    assertThat(alone.toString()).contains("--no-leader-election").doesNotContain("--leader-pod");
    assertThat(only(single, "Service").path("spec").path("selector").has("vera.io/leader"))
        .as("without election the one replica serves, unlabelled")
        .isFalse();
    assertThat(single.stream().map(o -> o.path("metadata").path("name").asText()))
        .doesNotContain("vera-vera-operator-leader-election");
  }

  @Test
  void theServiceSelectsTheLeaderByTheLabelTheOperatorPutsOnItsOwnPod() throws IOException {
    List<JsonNode> objects = render("replicaCount", "2", "leaderElection.leaseName", "vera-lead");
    JsonNode selector = only(objects, "Service").path("spec").path("selector");
    assertThat(selector.path("vera.io/leader").asText()).isEqualTo("vera-lead");
    assertThat(selector.path("app.kubernetes.io/instance").asText()).isEqualTo("vera");
    JsonNode container =
        only(objects, "Deployment")
            .path("spec")
            .path("template")
            .path("spec")
            .path("containers")
            .get(0);
    // The pod's own name and namespace, expanded by the kubelet from the downward API.
    assertThat(container.path("args").toString())
        .contains("--leader-pod=$(POD_NAMESPACE)/$(HOSTNAME)")
        .contains("--leader-election-lease-name=vera-lead");
    List<String> fieldRefs = new ArrayList<>();
    for (JsonNode env : container.path("env")) {
      if (env.path("name").asText().matches("HOSTNAME|POD_NAMESPACE")) {
        fieldRefs.add(
            env.path("name").asText()
                + "="
                + env.path("valueFrom").path("fieldRef").path("fieldPath").asText());
      }
    }
    assertThat(fieldRefs)
        .containsExactlyInAnyOrder("HOSTNAME=metadata.name", "POD_NAMESPACE=metadata.namespace");
    assertThat(
            only(objects, "Deployment")
                .path("spec")
                .path("selector")
                .path("matchLabels")
                .has("vera.io/leader"))
        .as("the Deployment owns standbys too")
        .isFalse();

    assertThatThrownBy(() -> render("leaderElection.leaseName", "l".repeat(64)))
        .as("the Lease name is the label's value")
        .hasMessageContaining("leaseName");
    JsonNode onHostNetwork =
        only(render("hostNetwork", "true"), "Deployment")
            .path("spec")
            .path("strategy")
            .path("rollingUpdate");
    assertThat(onHostNetwork.path("maxSurge").asInt())
        .as("a second pod on the node could not bind the port")
        .isZero();
    assertThat(onHostNetwork.path("maxUnavailable").asInt()).isEqualTo(1);
  }

  @Test
  void authIsOnWithUserRolesAndAWorkerServiceAccountThatMayOnlyLease() throws IOException {
    List<JsonNode> objects = render();
    JsonNode viewer = named(objects, "ClusterRole", "vera-vera-operator-viewer");
    assertThat(
            viewer
                .path("metadata")
                .path("labels")
                .path("rbac.authorization.k8s.io/aggregate-to-view")
                .asText())
        .isEqualTo("true");
    assertThat(grants(viewer))
        .contains("veratasks:get", "veratasks:list", "veratasks:watch")
        .noneMatch(g -> g.endsWith(":create") || g.endsWith(":patch"));
    JsonNode submitter = named(objects, "ClusterRole", "vera-vera-operator-submitter");
    assertThat(
            submitter
                .path("metadata")
                .path("labels")
                .path("rbac.authorization.k8s.io/aggregate-to-edit")
                .asText())
        .isEqualTo("true");
    assertThat(grants(submitter))
        .contains("veratasks:create", "veratasks:patch")
        .noneMatch(g -> g.endsWith(":call") || g.endsWith(":exec"));
    JsonNode admin = named(objects, "ClusterRole", "vera-vera-operator-admin");
    assertThat(
            admin
                .path("metadata")
                .path("labels")
                .path("rbac.authorization.k8s.io/aggregate-to-admin")
                .asText())
        .isEqualTo("true");
    assertThat(grants(admin))
        .contains(
            "providers:call",
            "computeresources:exec",
            "workerpools/scale:update",
            "workerpools:create",
            "computeresources:delete");

    JsonNode worker = named(objects, "ClusterRole", "vera-vera-operator-worker");
    assertThat(grants(worker)).containsExactly("workerpools:lease");
    named(objects, "ServiceAccount", "vera-vera-operator-worker");
    JsonNode workerBinding = named(objects, "RoleBinding", "vera-vera-operator-worker");
    assertThat(workerBinding.path("roleRef").path("name").asText())
        .isEqualTo("vera-vera-operator-worker");
    assertThat(workerBinding.path("subjects").get(0).path("name").asText())
        .isEqualTo("vera-vera-operator-worker");
    assertThat(only(objects, "Deployment").toString())
        .contains("--worker-service-account=vera-vera-operator-worker");

    List<JsonNode> insecure = render("auth.enabled", "false", "auth.userRoles", "false");
    assertThat(only(insecure, "Deployment").toString()).contains("--insecure-disable-auth");
    assertThat(insecure.stream().map(o -> o.path("metadata").path("name").asText()))
        .doesNotContain("vera-vera-operator-viewer", "vera-vera-operator-admin");
  }

  @Test
  void chartShipsExactlyTheGeneratedCrds() throws IOException {
    List<Path> committed;
    try (Stream<Path> files = Files.list(Path.of("crds"))) {
      committed = files.sorted().toList();
    }
    try (Stream<Path> files = Files.list(CHART.resolve("crds"))) {
      assertThat(files.count()).isEqualTo(committed.size());
    }
    for (Path crd : committed) {
      assertThat(Files.readString(CHART.resolve("crds").resolve(crd.getFileName())))
          .as(
              "helm/vera-operator/crds/%s differs from crds/%s; copy it over",
              crd.getFileName(), crd.getFileName())
          .isEqualTo(Files.readString(crd));
    }
  }

  @Test
  void dockerSocketIsOffByDefault() throws IOException {
    JsonNode pod = only(render(), "Deployment").path("spec").path("template").path("spec");
    assertThat(pod.path("volumes").toString()).doesNotContain("hostPath", "docker");
    assertThat(pod.path("containers").get(0).path("volumeMounts").toString())
        .doesNotContain("docker.sock");
    assertThat(pod.path("securityContext").has("supplementalGroups")).isFalse();
  }

  @Test
  void dockerSocketMountsTheNodeSocketAndJoinsItsGroupStillUnprivileged() throws IOException {
    JsonNode pod =
        only(
                renderValues(
                    "docker:\n  socket:\n    enabled: true\n"
                        + "    hostPath: /run/user-docker/docker.sock\n    groupId: 1000001\n"),
                "Deployment")
            .path("spec")
            .path("template")
            .path("spec");
    JsonNode volume = null;
    for (JsonNode v : pod.path("volumes")) {
      if (v.path("name").asText().equals("docker-socket")) {
        volume = v;
      }
    }
    assertThat(volume).as("the docker-socket volume").isNotNull();
    assertThat(volume.path("hostPath").path("path").asText())
        .isEqualTo("/run/user-docker/docker.sock");
    assertThat(volume.path("hostPath").path("type").asText()).isEqualTo("Socket");
    JsonNode container = pod.path("containers").get(0);
    assertThat(container.path("volumeMounts").toString())
        .contains("{\"name\":\"docker-socket\",\"mountPath\":\"/var/run/docker.sock\"}");
    // The group as a number (not 1e+06), and nothing else of the pod's hardening given up.
    assertThat(pod.path("securityContext").path("supplementalGroups").toString())
        .isEqualTo("[1000001]");
    assertThat(pod.path("securityContext").path("runAsNonRoot").asBoolean()).isTrue();
    assertThat(pod.path("securityContext").path("runAsUser").asInt()).isEqualTo(65532);
    assertThat(container.path("securityContext").path("readOnlyRootFilesystem").asBoolean())
        .isTrue();
    assertThat(container.path("securityContext").path("allowPrivilegeEscalation").asBoolean())
        .isFalse();
    assertThat(container.path("securityContext").path("capabilities").path("drop").toString())
        .isEqualTo("[\"ALL\"]");
    assertThat(container.path("securityContext").has("privileged")).isFalse();

    JsonNode defaultPath =
        only(render("docker.socket.enabled", "true", "docker.socket.groupId", "105"), "Deployment");
    assertThat(defaultPath.toString())
        .contains("{\"path\":\"/var/run/docker.sock\",\"type\":\"Socket\"}");
    assertThatThrownBy(() -> render("docker.socket.enabled", "true"))
        .as("the socket's group must be named")
        .hasMessageContaining("groupId");
    assertThatThrownBy(() -> render("docker.socket.enabled", "true", "docker.socket.groupId", "0"))
        .as("never root's group")
        .hasMessageContaining("groupId");
    assertThatThrownBy(
            () ->
                render(
                    "docker.socket.enabled",
                    "true",
                    "docker.socket.groupId",
                    "105",
                    "docker.socket.hostPath",
                    "docker.sock"))
        .hasMessageContaining("hostPath");
  }

  @Test
  void hostNetworkEnvAndOperatorUrlAreOptional() throws IOException {
    JsonNode defaults = only(render(), "Deployment").path("spec").path("template").path("spec");
    assertThat(defaults.has("hostNetwork")).isFalse();
    JsonNode pod =
        only(
                render(
                    "hostNetwork",
                    "true",
                    "operatorUrl",
                    "http://127.0.0.1:18000",
                    "extraArgs[0]",
                    "--host=127.0.0.1",
                    "env[0].name",
                    "KUBERNETES_SERVICE_HOST",
                    "env[0].value",
                    "127.0.0.1"),
                "Deployment")
            .path("spec")
            .path("template")
            .path("spec");
    assertThat(pod.path("hostNetwork").asBoolean()).isTrue();
    assertThat(pod.path("dnsPolicy").asText()).isEqualTo("ClusterFirstWithHostNet");
    JsonNode container = pod.path("containers").get(0);
    assertThat(container.path("args").toString())
        .contains("\"--operator-url=http://127.0.0.1:18000\"", "\"--host=127.0.0.1\"")
        .doesNotContain(".svc:");
    assertThat(container.path("env").toString())
        .contains("{\"name\":\"KUBERNETES_SERVICE_HOST\",\"value\":\"127.0.0.1\"}");
    assertThatThrownBy(() -> render("extraArgs[0]", "run")).hasMessageContaining("extraArgs");
  }
}
