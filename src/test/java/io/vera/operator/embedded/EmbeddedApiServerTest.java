package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.APIGroup;
import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Discovery documents, /version and CRD installation of the embedded API server. */
class EmbeddedApiServerTest {

  /** The JDK client asks for an h2c upgrade on every http:// request unless told otherwise. */
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  private final EmbeddedApiServer server = EmbeddedApiServer.start(0);
  private final KubernetesClient client = server.client();

  @AfterEach
  void close() {
    server.close();
  }

  @Test
  void listensOnLoopbackOnAFreePort() {
    assertThat(server.port()).isPositive();
    assertThat(server.url()).isEqualTo("http://127.0.0.1:" + server.port());
    assertThat(client.getMasterUrl().toString()).startsWith(server.url());
  }

  @Test
  void servesVersion() {
    assertThat(client.getKubernetesVersion().getMajor()).isEqualTo("1");
    assertThat(client.getKubernetesVersion().getMinor()).isEqualTo("32");
  }

  @Test
  void servesCoreDiscovery() throws Exception {
    assertThat(get("/api").body()).contains("\"versions\":[\"v1\"]");
    assertThat(client.getApiResources("v1").getResources())
        .extracting(APIResource::getName, APIResource::getNamespaced, APIResource::getShortNames)
        .contains(
            tuple("namespaces", false, List.of("ns")),
            tuple("pods", true, List.of("po")),
            tuple("services", true, List.of("svc")),
            tuple("configmaps", true, List.of("cm")),
            tuple("secrets", true, List.of()),
            tuple("events", true, List.of("ev")),
            tuple("serviceaccounts", true, List.of("sa")));
    assertThat(resource("v1", "pods").getVerbs())
        .containsExactlyInAnyOrder(
            "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch");
    assertThat(resource("v1", "pods").getKind()).isEqualTo("Pod");
  }

  @Test
  void servesBuiltInGroups() {
    assertThat(client.getApiGroups().getGroups())
        .extracting(APIGroup::getName)
        .containsExactly("apps", "coordination.k8s.io", "events.k8s.io", "apiextensions.k8s.io");
    assertThat(resource("apps/v1", "deployments").getShortNames()).containsExactly("deploy");
    assertThat(resource("apps/v1", "replicasets").getKind()).isEqualTo("ReplicaSet");
    assertThat(resource("apps/v1", "deployments/status").getVerbs())
        .containsExactly("get", "patch", "update");
    APIResource scale = resource("apps/v1", "deployments/scale");
    assertThat(List.of(scale.getGroup(), scale.getVersion(), scale.getKind()))
        .containsExactly("autoscaling", "v1", "Scale");
    assertThat(resource("coordination.k8s.io/v1", "leases").getKind()).isEqualTo("Lease");
    assertThat(resource("events.k8s.io/v1", "events").getShortNames()).containsExactly("ev");
    APIResource crds = resource("apiextensions.k8s.io/v1", "customresourcedefinitions");
    assertThat(crds.getShortNames()).containsExactly("crd", "crds");
    assertThat(crds.getNamespaced()).isFalse();
  }

  @Test
  void derivesVeraDiscoveryFromTheInstalledCrds() throws Exception {
    assertThat(get("/apis/vera.io/v1alpha1").statusCode()).isEqualTo(404);

    server.installCrds();

    assertThat(client.getApiGroup("vera.io").getPreferredVersion().getGroupVersion())
        .isEqualTo("vera.io/v1alpha1");
    assertThat(client.getApiResources("vera.io/v1alpha1").getResources())
        .filteredOn(r -> !r.getName().contains("/"))
        .extracting(
            APIResource::getName,
            APIResource::getSingularName,
            APIResource::getKind,
            APIResource::getShortNames,
            APIResource::getCategories,
            APIResource::getNamespaced)
        .containsExactlyInAnyOrder(
            tuple("veratasks", "veratask", "VeraTask", List.of("vtask"), List.of("vera"), true),
            tuple(
                "workerpools", "workerpool", "WorkerPool", List.of("vpool"), List.of("vera"), true),
            tuple(
                "computeresources",
                "computeresource",
                "ComputeResource",
                List.of("vres"),
                List.of("vera"),
                true),
            tuple("providers", "provider", "Provider", List.of("vprov"), List.of("vera"), true));
    assertThat(client.getApiResources("vera.io/v1alpha1").getResources())
        .extracting(APIResource::getName)
        .contains(
            "veratasks/status",
            "workerpools/status",
            "workerpools/scale",
            "computeresources/status",
            "providers/status")
        .doesNotContain("veratasks/scale");
    APIResource scale = resource("vera.io/v1alpha1", "workerpools/scale");
    assertThat(List.of(scale.getGroup(), scale.getVersion(), scale.getKind()))
        .containsExactly("autoscaling", "v1", "Scale");
  }

  @Test
  void installsTheFourCrdsIdempotently() {
    server.installCrds();
    server.installCrds();

    assertThat(client.apiextensions().v1().customResourceDefinitions().list().getItems())
        .extracting(crd -> crd.getMetadata().getName())
        .containsExactlyInAnyOrder(
            "veratasks.vera.io",
            "workerpools.vera.io",
            "computeresources.vera.io",
            "providers.vera.io");
    assertThat(client.getApiGroups().getGroups()).extracting(APIGroup::getName).contains("vera.io");
  }

  @Test
  void answersUnknownDiscoveryWithNotFound() throws Exception {
    assertThat(get("/apis/example.com/v1").statusCode()).isEqualTo(404);
    assertThat(get("/apis/example.com").statusCode()).isEqualTo(404);
    assertThat(get("/openapi/v3/apis/example.com/v1").statusCode()).isEqualTo(404);
  }

  @Test
  void servesOpenApiV2WithEachKindsDefinitionForOlderKubectl() throws Exception {
    server.installCrds();
    HttpResponse<String> answer = get("/openapi/v2");
    assertThat(answer.statusCode()).isEqualTo(200);
    // Like a real API server's plain HTTP port, it declines the client's h2c upgrade: over it
    // this large answer once stalled for good.
    assertThat(answer.version()).isEqualTo(HttpClient.Version.HTTP_1_1);
    JsonNode root = Serialization.jsonMapper().readTree(answer.body());
    assertThat(root.path("swagger").asText()).isEqualTo("2.0");
    List<String> definitions = new ArrayList<>();
    root.path("definitions").fieldNames().forEachRemaining(definitions::add);
    assertThat(definitions).anyMatch(name -> name.endsWith(".VeraTask"));
  }

  @Test
  void servesOpenApiV3WithEachKindsSchemaAndServerSideFieldValidation() throws Exception {
    server.installCrds();
    JsonNode root = Serialization.jsonMapper().readTree(get("/openapi/v3").body());
    String url = root.at("/paths/apis~1vera.io~1v1alpha1/serverRelativeURL").asText();
    assertThat(url).startsWith("/openapi/v3/apis/vera.io/v1alpha1?hash=");
    assertThat(root.at("/paths/api~1v1/serverRelativeURL").asText()).startsWith("/openapi/v3/");

    JsonNode document = Serialization.jsonMapper().readTree(get(url).body());

    JsonNode task = document.at("/components/schemas/io.vera.v1alpha1.VeraTask");
    assertThat(task.at("/x-kubernetes-group-version-kind/0/kind").asText()).isEqualTo("VeraTask");
    assertThat(task.at("/properties/spec/properties/priority/enum").toString())
        .contains("critical");
    JsonNode patch =
        document.at(
            "/paths/~1apis~1vera.io~1v1alpha1~1namespaces~1{namespace}~1veratasks~1{name}/patch");
    assertThat(patch.at("/x-kubernetes-group-version-kind/kind").asText()).isEqualTo("VeraTask");
    assertThat(patch.path("parameters").findValuesAsText("name")).contains("fieldValidation");
  }

  private APIResource resource(String groupVersion, String name) {
    APIResourceList list = client.getApiResources(groupVersion);
    return list.getResources().stream()
        .filter(r -> r.getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError(name + " not in " + groupVersion));
  }

  private HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(server.url() + path))
            .timeout(Duration.ofSeconds(30))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
