package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.autoscaling.v1.Scale;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.api.VeraTaskStatus;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.api.WorkerPoolStatus;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What the operator relies on from the embedded API server once the CRDs are installed: the status
 * subresource, generation, JSON merge patch, the scale subresource and server-side Tables.
 */
class CustomResourceSemanticsTest {

  private static final String NS = "semantics";
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private static EmbeddedApiServer server;
  private static KubernetesClient client;

  @BeforeAll
  static void start() {
    server = EmbeddedApiServer.start(0);
    server.installCrds();
    client = server.client();
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void createDropsStatusAndStartsAtGenerationOne() {
    VeraTask task = task("create");
    task.setStatus(new VeraTaskStatus());
    task.getStatus().phase = TaskPhase.Running;

    VeraTask created = client.resource(task).create();

    assertThat(created.getStatus()).isNull();
    assertThat(created.getMetadata().getGeneration()).isEqualTo(1L);
  }

  @Test
  void statusWritesLeaveSpecAndGenerationAlone() {
    Resource<VeraTask> task = tasks("status-write");
    VeraTask withStatus = task.get();
    withStatus.getSpec().handler = "changed";
    withStatus.setStatus(new VeraTaskStatus());
    withStatus.getStatus().phase = TaskPhase.Queued;

    VeraTask updated = task.updateStatus(withStatus);

    assertThat(updated.getStatus().phase).isEqualTo(TaskPhase.Queued);
    assertThat(updated.getSpec().handler).isEqualTo("echo");
    assertThat(updated.getMetadata().getGeneration()).isEqualTo(1L);
  }

  @Test
  void specWritesKeepStatusAndBumpGeneration() {
    Resource<VeraTask> task = tasks("spec-write");
    mergeStatus(task, "{\"status\":{\"phase\":\"Queued\"}}");

    VeraTask edited =
        task.edit(
            t -> {
              t.getSpec().description = "new";
              t.getStatus().phase = TaskPhase.Failed;
              return t;
            });

    assertThat(edited.getSpec().description).isEqualTo("new");
    assertThat(edited.getStatus().phase).isEqualTo(TaskPhase.Queued);
    assertThat(edited.getMetadata().getGeneration()).isEqualTo(2L);
  }

  @Test
  void metadataWritesDoNotBumpGeneration() {
    Resource<VeraTask> task = tasks("metadata-write");

    VeraTask labelled =
        task.edit(
            t -> {
              t.getMetadata().getLabels().put("team", "a");
              return t;
            });

    assertThat(labelled.getMetadata().getLabels()).containsEntry("team", "a");
    assertThat(labelled.getMetadata().getGeneration()).isEqualTo(1L);
  }

  @Test
  void mergePatchOnStatusFollowsRfc7386() {
    Resource<VeraTask> task = tasks("merge-patch");
    mergeStatus(
        task,
        "{\"status\":{\"phase\":\"Running\",\"pool\":\"p\",\"attempts\":1,"
            + "\"conditions\":[{\"type\":\"A\",\"status\":\"True\"}]},\"spec\":{\"handler\":\"x\"}}");

    VeraTask patched =
        mergeStatus(
            task,
            "{\"status\":{\"pool\":null,\"conditions\":[{\"type\":\"B\",\"status\":\"True\"}]}}");

    assertThat(patched.getStatus().phase).isEqualTo(TaskPhase.Running);
    assertThat(patched.getStatus().attempts).isEqualTo(1);
    assertThat(patched.getStatus().pool).isNull();
    assertThat(patched.getStatus().conditions).extracting(Condition::getType).containsExactly("B");
    assertThat(patched.getSpec().handler).isEqualTo("echo");
    assertThat(patched.getMetadata().getGeneration()).isEqualTo(1L);
    assertThat(raw(path("veratasks", "merge-patch")).path("status").has("pool")).isFalse();
  }

  @Test
  void mergePatchOnSpecRemovesNullMembers() {
    Resource<VeraTask> task = tasks("merge-spec");
    task.patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"description\":\"d\"}}");

    VeraTask patched =
        task.patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"description\":null}}");

    assertThat(patched.getSpec().description).isNull();
    assertThat(patched.getMetadata().getGeneration()).isEqualTo(3L);
    assertThat(raw(path("veratasks", "merge-spec")).path("spec").has("description")).isFalse();
  }

  @Test
  void mergePatchWithAStaleResourceVersionConflicts() {
    Resource<VeraTask> task = tasks("stale");

    assertThatThrownBy(
            () ->
                task.patch(
                    PatchContext.of(PatchType.JSON_MERGE),
                    "{\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{\"description\":\"d\"}}"))
        .isInstanceOf(KubernetesClientException.class)
        .extracting(e -> ((KubernetesClientException) e).getCode())
        .isEqualTo(409);
  }

  @Test
  void scaleReadsTheReplicaPathsOfTheCrd() {
    Resource<WorkerPool> pool = pools("scale-read", 2);
    WorkerPool withStatus = pool.get();
    withStatus.setStatus(new WorkerPoolStatus());
    withStatus.getStatus().replicas = 1;
    withStatus.getStatus().selector = "vera.io/pool=scale-read";
    pool.updateStatus(withStatus);

    Scale scale = pool.scale();

    assertThat(scale.getApiVersion()).isEqualTo("autoscaling/v1");
    assertThat(scale.getKind()).isEqualTo("Scale");
    assertThat(scale.getMetadata().getName()).isEqualTo("scale-read");
    assertThat(scale.getSpec().getReplicas()).isEqualTo(2);
    assertThat(scale.getStatus().getReplicas()).isEqualTo(1);
    assertThat(scale.getStatus().getSelector()).isEqualTo("vera.io/pool=scale-read");
  }

  @Test
  void scaleWritesSpecReplicas() throws Exception {
    Resource<WorkerPool> pool = pools("scale-write", 1);

    pool.scale(3);
    assertThat(pool.get().getSpec().replicas).isEqualTo(3);

    HttpResponse<String> merged =
        patch(
            path("workerpools", "scale-write") + "/scale",
            "application/merge-patch+json",
            "{\"spec\":{\"replicas\":4}}");
    assertThat(merged.statusCode()).isEqualTo(200);
    assertThat(Serialization.unmarshal(merged.body(), Scale.class).getSpec().getReplicas())
        .isEqualTo(4);

    HttpResponse<String> jsonPatched =
        patch(
            path("workerpools", "scale-write") + "/scale",
            "application/json-patch+json",
            "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":5}]");
    assertThat(jsonPatched.statusCode()).isEqualTo(200);

    WorkerPool scaled = pool.get();
    assertThat(scaled.getSpec().replicas).isEqualTo(5);
    assertThat(scaled.getSpec().taskType).isEqualTo(TaskType.LLM);
    assertThat(scaled.getMetadata().getGeneration()).isEqualTo(4L);
  }

  @Test
  void scaleRejectsInvalidReplicasAndStaleVersions() throws Exception {
    pools("scale-invalid", 1);
    String scalePath = path("workerpools", "scale-invalid") + "/scale";

    assertThat(
            patch(scalePath, "application/merge-patch+json", "{\"spec\":{\"replicas\":-1}}")
                .statusCode())
        .isEqualTo(422);
    assertThat(
            patch(
                    scalePath,
                    "application/merge-patch+json",
                    "{\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{\"replicas\":2}}")
                .statusCode())
        .isEqualTo(409);
    assertThat(patch(path("veratasks", "none") + "/scale", "application/merge-patch+json", "{}"))
        .extracting(HttpResponse::statusCode)
        .isEqualTo(404);
  }

  @Test
  void rendersTablesFromThePrinterColumns() throws Exception {
    pools("table", 1);
    HttpResponse<String> response =
        HTTP.send(
            HttpRequest.newBuilder(
                    URI.create(
                        server.url() + "/apis/vera.io/v1alpha1/namespaces/" + NS + "/workerpools"))
                .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
                .build(),
            HttpResponse.BodyHandlers.ofString());

    JsonNode table = Serialization.unmarshal(response.body(), JsonNode.class);
    assertThat(response.headers().firstValue("Content-Type")).contains(ResourceTables.CONTENT_TYPE);
    assertThat(table.path("kind").asText()).isEqualTo("Table");
    List<String> columns =
        table.path("columnDefinitions").findValuesAsText("name").stream().toList();
    assertThat(columns)
        .startsWith("Name")
        .contains("Type", "Runtime", "Replicas", "Ready", "Queued", "Running", "Age");
    JsonNode row = table.path("rows").get(0);
    assertThat(row.path("cells").get(0).asText()).isEqualTo("table");
    assertThat(row.path("cells").get(columns.indexOf("Type")).asText()).isEqualTo("LLM");
    assertThat(row.path("cells").get(columns.indexOf("Age")).asText()).endsWith("s");
    assertThat(row.path("object").path("metadata").path("namespace").asText()).isEqualTo(NS);
  }

  private static Resource<VeraTask> tasks(String name) {
    client.resource(task(name)).create();
    return client.resources(VeraTask.class).inNamespace(NS).withName(name);
  }

  private static VeraTask task(String name) {
    VeraTask task = new VeraTask();
    task.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    task.setSpec(new VeraTaskSpec());
    task.getSpec().handler = "echo";
    return task;
  }

  private static Resource<WorkerPool> pools(String name, int replicas) {
    WorkerPool pool = new WorkerPool();
    pool.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    pool.setSpec(new WorkerPoolSpec());
    pool.getSpec().taskType = TaskType.LLM;
    pool.getSpec().replicas = replicas;
    client.resource(pool).create();
    return client.resources(WorkerPool.class).inNamespace(NS).withName(name);
  }

  private static VeraTask mergeStatus(Resource<VeraTask> task, String json) {
    return task.subresource("status").patch(PatchContext.of(PatchType.JSON_MERGE), json);
  }

  private static String path(String plural, String name) {
    return "/apis/vera.io/v1alpha1/namespaces/" + NS + "/" + plural + "/" + name;
  }

  private static JsonNode raw(String path) {
    return Serialization.unmarshal(client.raw(server.url() + path), JsonNode.class);
  }

  private static HttpResponse<String> patch(String path, String contentType, String body)
      throws IOException, InterruptedException {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(server.url() + path))
            .method("PATCH", HttpRequest.BodyPublishers.ofString(body))
            .header("Content-Type", contentType)
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
