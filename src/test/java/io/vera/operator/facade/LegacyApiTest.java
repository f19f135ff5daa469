package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.app.OperatorHarness.Response;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The legacy /orchestrator API end to end: REST in, resources and workers behind it. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LegacyApiTest {
  private OperatorHarness harness;

  @BeforeAll
  void start() {
    harness = new OperatorHarness();
    Response init =
        harness.post(
            "/orchestrator/initialize", "{\"general_workers\": 3, \"cpu_threshold\": 100}");
    assertThat(init.status()).isEqualTo(200);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> harness.get("/orchestrator/status").json().path("worker_count").asInt() == 14);
  }

  @AfterAll
  void stop() {
    harness.close();
  }

  private String submit(String body) {
    Response response = harness.post("/orchestrator/tasks/submit", body);
    assertThat(response.status()).as(response.text()).isEqualTo(200);
    return response.json().get("task_id").asText();
  }

  private JsonNode result(String id, int timeoutSeconds) {
    Response response =
        harness.get("/orchestrator/tasks/result/" + id + "?timeout=" + timeoutSeconds);
    assertThat(response.status()).as(response.text()).isEqualTo(200);
    return response.json();
  }

  @Test
  void statusBeforeAndAfterInitializeHasTheLegacyShape() {
    JsonNode status = harness.get("/orchestrator/status").json();
    assertThat(status.get("initialized").asBoolean()).isTrue();
    assertThat(status.get("running").asBoolean()).isTrue();
    int workers = 0;
    for (JsonNode pool : harness.get("/orchestrator/workers/pools").json().get("pools")) {
      workers += pool.get("num_workers").asInt();
    }
    assertThat(status.get("worker_count").asInt())
        .isEqualTo(workers)
        .isGreaterThanOrEqualTo(3 + 4 + 1 + 1 + 2 + 3);
    assertThat(status.get("queue_sizes").fieldNames())
        .toIterable()
        .contains("LLM", "TOOL", "WHISPER", "ML_MODEL", "BACKGROUND", "GENERAL");
    assertThat(status.has("active_workers")).isTrue();
    assertThat(status.get("active_tasks").asInt()).isEqualTo(status.get("active_workers").asInt());
    JsonNode llm = status.get("worker_pools").get("LLM");
    assertThat(llm.get("num_workers").asInt()).isEqualTo(3);
    assertThat(llm.get("pools").get(0).asText()).isEqualTo("vera-llm");
    assertThat(llm.get("idle_workers").asInt()).isBetween(0, 3);
    assertThat(status.has("queue_size")).isTrue();
    JsonNode pools = harness.get("/orchestrator/workers/pools").json();
    assertThat(pools.get("count").asInt()).isEqualTo(6);
    assertThat(
            harness
                .client()
                .resources(WorkerPool.class)
                .inNamespace(OperatorHarness.NAMESPACE)
                .withName("vera-llm")
                .get()
                .getSpec()
                .replicas)
        .isEqualTo(3);
  }

  @Test
  void submittedTaskRunsAndItsResultIsReturned() {
    String id = submit("{\"name\": \"compute.sum\", \"payload\": {\"a\": 10, \"b\": 20}}");
    JsonNode result = result(id, 10);
    assertThat(result.get("status").asText()).isEqualTo("completed");
    assertThat(result.get("result").asInt()).isEqualTo(30);
    assertThat(result.get("attempts").asInt()).isEqualTo(1);
    assertThat(result.get("worker_id").asText()).startsWith("embedded/vera-general/");
    assertThat(harness.get("/orchestrator/tasks/" + id + "/status").json().get("status").asText())
        .isEqualTo("completed");
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () -> {
              VeraTask task = harness.task(id);
              assertThat(task.getStatus().phase).isEqualTo(TaskPhase.Succeeded);
              assertThat(task.getStatus().result.asInt()).isEqualTo(30);
              assertThat(task.getStatus().conditions)
                  .filteredOn(c -> List.of("Ready", "Succeeded").contains(c.getType()))
                  .hasSize(2)
                  .allSatisfy(c -> assertThat(c.getStatus()).isEqualTo("True"));
            });
  }

  @Test
  void unknownTaskIdsAre404WithDetail() {
    for (Response response :
        List.of(
            harness.get("/orchestrator/tasks/result/no-such-task"),
            harness.get("/orchestrator/tasks/no-such-task/status"),
            harness.post("/orchestrator/tasks/no-such-task/cancel", null),
            harness.post("/orchestrator/tasks/no-such-task/retry", null),
            harness.get("/orchestrator/tasks/..%2F..%2Fetc/status"))) {
      assertThat(response.status()).as(response.text()).isEqualTo(404);
      assertThat(response.json().get("detail").asText()).isNotBlank();
    }
  }

  @Test
  void badSubmissionsAreRefusedWithClearDetails() {
    Map<String, Integer> cases =
        Map.of(
            "{\"payload\": {}}", 422,
            "{\"name\": 42}", 422,
            "{\"name\": \"compute.sum\", \"priority\": \"urgent\"}", 422,
            "{\"name\": \"compute.sum\", \"context\": [1]}", 422,
            "{\"name\": \"no.such.task\"}", 400,
            "{\"name\": \"compute.sum\"", 400,
            "[1, 2]", 422,
            "{\"name\": \"compute.sum\", \"timeout\": -1}", 422,
            "{\"name\": \"compute.sum\", \"task_type\": \"QUANTUM\"}", 422);
    cases.forEach(
        (body, status) -> {
          Response response = harness.post("/orchestrator/tasks/submit", body);
          assertThat(response.status()).as(body + " -> " + response.text()).isEqualTo(status);
          assertThat(response.json().get("detail").asText()).as(body).isNotBlank();
        });
    Response huge =
        harness.post(
            "/orchestrator/tasks/submit",
            "{\"name\": \"echo\", \"payload\": \"" + "x".repeat(2_000_000) + "\"}");
    assertThat(huge.status()).isEqualTo(413);
    Response deep =
        harness.post(
            "/orchestrator/tasks/submit",
            "{\"name\": \"echo\", \"payload\": " + "[".repeat(500) + "]".repeat(500) + "}");
    assertThat(deep.status()).isEqualTo(400);
    assertThat(harness.get("/orchestrator/health").status()).isEqualTo(200);
  }

  @Test
  void invalidPayloadFailsTheTaskWithoutRetriesAndSaysWhy() {
    String id = submit("{\"name\": \"compute.sum\", \"payload\": {\"a\": \"ten\", \"b\": 2}}");
    JsonNode result = result(id, 10);
    assertThat(result.get("status").asText()).isEqualTo("failed");
    assertThat(result.get("error_type").asText()).isEqualTo("InvalidInput");
    assertThat(result.get("error").asText()).contains("'a' must be a number");
    assertThat(result.get("attempts").asInt()).isEqualTo(1);
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () ->
                assertThat(harness.events())
                    .anySatisfy(
                        e -> {
                          assertThat(e.getInvolvedObject().getName()).isEqualTo(id);
                          assertThat(e.getType()).isEqualTo("Warning");
                          assertThat(e.getReason()).isEqualTo("InvalidInput");
                        }));
  }

  @Test
  void failedAttemptsAreRetriedAsAsked() {
    String id =
        submit("{\"name\": \"fail\", \"payload\": {\"failAttempts\": 2}, \"max_retries\": 3}");
    JsonNode result = result(id, 20);
    assertThat(result.get("status").asText()).isEqualTo("completed");
    assertThat(result.get("attempts").asInt()).isEqualTo(3);
    assertThat(result.get("result").get("attempt").asInt()).isEqualTo(3);
  }

  @Test
  void runningTaskPastItsTimeoutFailsWithReasonTimeout() {
    String id =
        submit(
            "{\"name\": \"sleep\", \"payload\": {\"seconds\": 30}, \"timeout\": 1, \"max_retries\": 0}");
    JsonNode result = result(id, 10);
    assertThat(result.get("status").asText()).isEqualTo("failed");
    assertThat(result.get("error_type").asText()).isEqualTo("Timeout");
    assertThat(result.get("duration_ms").asDouble()).isLessThan(5000);
  }

  @Test
  void cancelStopsARunningTaskAndRetrySubmitsACopy() {
    String id =
        submit(
            "{\"name\": \"sleep\", \"payload\": {\"seconds\": 30}, \"task_type\": \"background\"}");
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                "running"
                    .equals(
                        harness
                            .get("/orchestrator/tasks/" + id + "/status")
                            .json()
                            .get("status")
                            .asText()));
    Response cancel = harness.post("/orchestrator/tasks/" + id + "/cancel", null);
    assertThat(cancel.status()).isEqualTo(200);
    // At once, without waiting: the status read waits for the cancel to be stored.
    assertThat(harness.get("/orchestrator/tasks/" + id + "/status").json().get("status").asText())
        .isEqualTo("cancelled");
    assertThat(result(id, 5).get("status").asText()).isEqualTo("cancelled");
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> Boolean.TRUE.equals(harness.task(id).getSpec().cancel));
    assertThat(harness.get("/orchestrator/tasks/active").json().toString()).doesNotContain(id);

    Response retry = harness.post("/orchestrator/tasks/" + id + "/retry", null);
    assertThat(retry.status()).isEqualTo(200);
    String copy = retry.json().get("task_id").asText();
    assertThat(copy).isNotEqualTo(id);
    assertThat(retry.json().get("retry_of").asText()).isEqualTo(id);
    assertThat(harness.post("/orchestrator/tasks/" + copy + "/cancel", null).status())
        .isEqualTo(200);

    String done = submit("{\"name\": \"echo\", \"payload\": 1}");
    result(done, 5);
    assertThat(harness.post("/orchestrator/tasks/" + done + "/cancel", null).status())
        .isEqualTo(409);
    assertThat(harness.post("/orchestrator/tasks/" + done + "/retry", null).status())
        .isEqualTo(409);
  }

  @Test
  void tasksRunInPriorityOrderThenSubmissionOrder() {
    harness.createEmbeddedPool("z-ordering", TaskType.GENERAL, 1, true);
    List<String> priorities = List.of("low", "normal", "background", "critical", "normal", "high");
    List<String> ids = new ArrayList<>();
    for (String priority : priorities) {
      ids.add(
          submit(
              "{\"name\": \"echo\", \"payload\": \""
                  + priority
                  + "\", \"priority\": \""
                  + priority
                  + "\", \"pool\": \"z-ordering\"}"));
    }
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                harness
                        .get("/orchestrator/tasks/queue/detailed")
                        .json()
                        .path("total_queued")
                        .asInt()
                    >= 6);
    JsonNode queue =
        harness.get("/orchestrator/tasks/queue/detailed").json().get("queues").get("GENERAL");
    List<String> queued = new ArrayList<>();
    queue.forEach(
        item -> {
          if (item.get("pool").asText().equals("z-ordering")) {
            queued.add(item.get("task_id").asText());
            assertThat(item.get("position").asInt()).isEqualTo(queued.size());
          }
        });
    List<String> expected =
        List.of(ids.get(3), ids.get(5), ids.get(1), ids.get(4), ids.get(0), ids.get(2));
    assertThat(queued).containsExactlyElementsOf(expected);

    harness
        .client()
        .resources(WorkerPool.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName("z-ordering")
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"suspend\":false}}");
    List<JsonNode> results = new ArrayList<>();
    for (String id : ids) {
      results.add(result(id, 10));
    }
    List<String> started =
        results.stream()
            .sorted(Comparator.comparingDouble(r -> r.get("started_at").asDouble()))
            .map(r -> r.get("task_id").asText())
            .toList();
    assertThat(started).containsExactlyElementsOf(expected);
  }

  @Test
  void taskAppliedAsAResourceRunsAndIsDeletedAfterItsTtl() {
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withName("from-kubectl")
            .withNamespace(OperatorHarness.NAMESPACE)
            .build());
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.handler = "compute.multiply";
    spec.payload =
        io.fabric8.kubernetes.client.utils.Serialization.jsonMapper()
            .valueToTree(Map.of("a", 6, "b", 7));
    spec.ttlSecondsAfterFinished = 2;
    task.setSpec(spec);
    harness.client().resource(task).create();
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              VeraTask live = harness.task("from-kubectl");
              assertThat(live.getStatus()).isNotNull();
              assertThat(live.getStatus().phase).isEqualTo(TaskPhase.Succeeded);
              assertThat(live.getStatus().result.asInt()).isEqualTo(42);
            });
    assertThat(harness.get("/orchestrator/tasks/from-kubectl/status").json().get("result").asInt())
        .isEqualTo(42);
    await().atMost(Duration.ofSeconds(10)).until(() -> harness.task("from-kubectl") == null);
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> harness.get("/orchestrator/tasks/from-kubectl/status").status() == 404);
  }

  @Test
  void scalingAPoolChangesItsWorkersAndUnknownTypesAreRefused() {
    Response scaled =
        harness.post(
            "/orchestrator/workers/scale", "{\"task_type\": \"whisper\", \"num_workers\": 3}");
    assertThat(scaled.status()).as(scaled.text()).isEqualTo(200);
    assertThat(scaled.json().get("pool").asText()).isEqualTo("vera-whisper");
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              WorkerPool pool =
                  harness
                      .client()
                      .resources(WorkerPool.class)
                      .inNamespace(OperatorHarness.NAMESPACE)
                      .withName("vera-whisper")
                      .get();
              assertThat(pool.getSpec().replicas).isEqualTo(3);
              assertThat(pool.getStatus().replicas).isEqualTo(3);
              assertThat(pool.getStatus().readyReplicas).isEqualTo(3);
            });
    assertThat(
            harness
                .post("/orchestrator/workers/scale", "{\"task_type\": \"GPU\", \"num_workers\": 3}")
                .status())
        .isEqualTo(422);
    assertThat(
            harness
                .post(
                    "/orchestrator/workers/scale", "{\"task_type\": \"LLM\", \"num_workers\": -1}")
                .status())
        .isEqualTo(422);
    assertThat(harness.post("/orchestrator/workers/scale", "{\"task_type\": \"LLM\"}").status())
        .isEqualTo(422);
  }

  @Test
  void historyRegistryAndQueriesDescribeFinishedTasks() {
    String id = submit("{\"name\": \"compute.fibonacci\", \"payload\": {\"n\": 90}}");
    assertThat(result(id, 10).get("result").asText()).isEqualTo("2880067194370816120");
    JsonNode history = harness.get("/orchestrator/tasks/history?limit=1000").json();
    assertThat(history.get("tasks").toString()).contains(id);
    JsonNode query =
        harness
            .post(
                "/orchestrator/tasks/history/query",
                "{\"status\": [\"completed\"], \"task_name\": \"compute.fibonacci\"}")
            .json();
    assertThat(query.get("tasks"))
        .allSatisfy(t -> assertThat(t.get("name").asText()).isEqualTo("compute.fibonacci"));
    assertThat(query.get("tasks").toString()).contains(id);
    assertThat(
            harness
                .post("/orchestrator/tasks/history/query", "{\"status\": [\"exploded\"]}")
                .status())
        .isEqualTo(422);
    assertThat(harness.get("/orchestrator/tasks/history?limit=0").status()).isEqualTo(422);
    JsonNode registry = harness.get("/orchestrator/tasks/registry").json();
    assertThat(registry.get("tasks").get("compute.sum").get("task_type").asText())
        .isEqualTo("GENERAL");
    assertThat(registry.get("tasks").get("compute.sum").get("timeout").asInt()).isEqualTo(30);
  }

  @Test
  void systemEndpointsAndMetricsAnswer() {
    JsonNode metrics = harness.get("/orchestrator/system/metrics").json().get("metrics");
    assertThat(metrics.get("memory_total_gb").asDouble()).isPositive();
    assertThat(metrics.get("heap_used_mb").asDouble()).isPositive();
    assertThat(harness.get("/orchestrator/system/processes").json().get("processes").size())
        .isBetween(1, 20);
    result(submit("{\"name\": \"echo\"}"), 5);
    String prometheus = harness.get("/metrics").text();
    assertThat(prometheus)
        .contains("vera_tasks_total{")
        .contains("vera_task_run_seconds_bucket")
        .contains("vera_queue_depth")
        .contains("operator_sdk_");
    Response unknown = harness.get("/orchestrator/nothing-here");
    assertThat(unknown.status()).isEqualTo(404);
    assertThat(unknown.json().get("detail").asText()).contains("not found");
  }

  @Test
  void webSocketSendsInitialStatusAndTaskEvents() throws Exception {
    List<String> messages = new CopyOnWriteArrayList<>();
    WebSocket socket =
        HttpClient.newHttpClient()
            .newWebSocketBuilder()
            .buildAsync(
                URI.create(harness.baseUrl().replace("http", "ws") + "/orchestrator/ws/updates"),
                new WebSocket.Listener() {
                  private final StringBuilder partial = new StringBuilder();

                  @Override
                  public CompletionStage<?> onText(
                      WebSocket webSocket, CharSequence data, boolean last) {
                    partial.append(data);
                    if (last) {
                      messages.add(partial.toString());
                      partial.setLength(0);
                    }
                    webSocket.request(1);
                    return null;
                  }
                })
            .get();
    await().atMost(Duration.ofSeconds(5)).until(() -> !messages.isEmpty());
    assertThat(messages.get(0)).startsWith("{\"type\":\"initial_status\"");
    String id = submit("{\"name\": \"echo\", \"payload\": \"ws\"}");
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () -> {
              List<String> types =
                  messages.stream()
                      .filter(m -> m.contains(id))
                      .map(m -> m.substring(9, m.indexOf('"', 9)))
                      .toList();
              assertThat(types)
                  .containsSubsequence("task_submitted", "task_started", "task_completed");
            });
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> messages.stream().anyMatch(m -> m.startsWith("{\"type\":\"status_update\"")));
    socket.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get();
  }
}
