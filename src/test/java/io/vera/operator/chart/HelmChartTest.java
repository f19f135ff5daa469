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
    String rendered = template.call();
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
        .isEqualTo("/healthz");
    assertThat(container.path("livenessProbe").isMissingNode()).isFalse();
    assertThat(container.path("resources").path("limits").path("memory").asText()).isNotBlank();
    assertThat(container.path("args").toString())
        .contains("--namespace=vera-system")
        .contains("--operator-url=http://vera-vera-operator.vera-system.svc:8000");
    String serviceAccount = only(objects, "ServiceAccount").path("metadata").path("name").asText();
    assertThat(pod.path("serviceAccountName").asText()).isEqualTo(serviceAccount);
    assertThat(only(objects, "Service").path("spec").path("ports").get(0).path("port").asInt())
        .isEqualTo(8000);
    assertThat(objects.stream().map(o -> o.path("kind").asText())).doesNotContain("ServiceMonitor");
  }

  @Test
  void rbacGrantsOnlyWhatTheOperatorUses() throws IOException {
    JsonNode role = only(render(), "ClusterRole");
    List<String> grants = new ArrayList<>();
    for (JsonNode rule : role.path("rules")) {
      for (JsonNode resource : rule.path("resources")) {
        for (JsonNode verb : rule.path("verbs")) {
          grants.add(resource.asText() + ":" + verb.asText());
        }
      }
    }
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
            "events:create");
    JsonNode writer = only(render(), "Role");
    assertThat(writer.path("metadata").path("namespace").asText()).isEqualTo("vera-system");
    assertThat(writer.path("rules").get(0).path("resources").toString()).isEqualTo("[\"secrets\"]");
    JsonNode binding = only(render(), "ClusterRoleBinding");
    assertThat(binding.path("subjects").get(0).path("namespace").asText()).isEqualTo("vera-system");
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
  void valuesOutsideTheSchemaAreRefused() {
    assertThatThrownBy(() -> render("replicaCount", "2")).hasMessageContaining("replicaCount");
    assertThatThrownBy(() -> render("legacyPoolRuntime", "Threads"))
        .hasMessageContaining("legacyPoolRuntime");
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
