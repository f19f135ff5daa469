package io.vera.operator.app;

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
import io.vera.operator.task.FinishedTaskLabels;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The operator holds the tasks in flight, not the finished ones: those are marked, leave the
 * informer cache and the dispatcher, and are read back from the API server.
 */
class FinishedTasksLeaveTheCachesTest {
  private static final int FINISHED = 2_000;
  private static final int WAITING = 25;

  private final OperatorHarness harness = new OperatorHarness();

  @AfterEach
  void close() {
    harness.close();
  }

  @Test
  void onlyUnfinishedTasksStayCachedAndFinishedOnesStayReadable() throws Exception {
    harness.createEmbeddedPool("workers", TaskType.GENERAL, 8, false);
    harness.createEmbeddedPool("held", TaskType.TOOL, 1, true);
    List<String> waiting = new ArrayList<>();
    for (int i = 0; i < WAITING; i++) {
      waiting.add(submit("{\"name\":\"compute.sum\",\"task_type\":\"TOOL\",\"payload\":{}}"));
    }
    List<String> done = submitConcurrently(FINISHED);

    await().atMost(Duration.ofMinutes(4)).until(() -> markedFinished() == FINISHED);
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              assertThat(harness.operator().cachedTasks())
                  .as("VeraTasks in the informer cache")
                  .isEqualTo(WAITING);
              assertThat(harness.operator().dispatcher().size())
                  .as("tasks the dispatcher holds")
                  .isEqualTo(WAITING);
            });

    for (int i = 0; i < FINISHED; i += 97) {
      String id = done.get(i);
      int expected = i + 1;
      JsonNode result = harness.get("/orchestrator/tasks/result/" + id).json();
      assertThat(result.get("status").asText()).isEqualTo("completed");
      assertThat(result.get("result").asInt()).isEqualTo(expected);
      assertThat(harness.get("/orchestrator/tasks/" + id + "/status").json().get("result").asInt())
          .isEqualTo(expected);
      VeraTask stored = harness.task(id);
      assertThat(stored.getStatus().phase).isEqualTo(TaskPhase.Succeeded);
      assertThat(stored.getStatus().result.asInt()).isEqualTo(expected);
    }
    JsonNode history = harness.get("/orchestrator/tasks/history?limit=5").json();
    assertThat(history.get("total").asInt()).isEqualTo(FINISHED);
    assertThat(history.get("tasks")).hasSize(5);
    assertThat(harness.post("/orchestrator/tasks/" + done.get(0) + "/cancel", "{}").status())
        .as("a finished task cannot be cancelled")
        .isEqualTo(409);
    for (String id : waiting) {
      assertThat(harness.get("/orchestrator/tasks/" + id + "/status").json().get("status").asText())
          .isEqualTo("queued");
    }
  }

  @Test
  void aTaskFinishedWithoutTheMarkIsMarkedAndLeavesTheCache() {
    harness.operator().close();
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withName("finished-by-an-older-operator")
            .withNamespace(OperatorHarness.NAMESPACE)
            .build());
    task.setSpec(new VeraTaskSpec());
    task.getSpec().handler = "compute.sum";
    harness.client().resource(task).create();
    harness
        .client()
        .resources(VeraTask.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName("finished-by-an-older-operator")
        .subresource("status")
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"status\":{\"phase\":\"Succeeded\",\"result\":7,\"attempts\":1,"
                + "\"completionTime\":\"2026-01-01T00:00:00Z\"}}");

    harness.restartOperator();

    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                FinishedTaskLabels.isMarked(harness.task("finished-by-an-older-operator"))
                    && harness.operator().cachedTasks() == 0);
    JsonNode status =
        harness.get("/orchestrator/tasks/finished-by-an-older-operator/status").json();
    assertThat(status.get("status").asText()).isEqualTo("completed");
    assertThat(status.get("result").asInt()).isEqualTo(7);
  }

  @Test
  void aTaskThatExpiresWhileNoOperatorRunsIsDeletedAfterTheRestart() {
    harness.createEmbeddedPool("workers", TaskType.GENERAL, 1, false);
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withName("expires-meanwhile")
            .withNamespace(OperatorHarness.NAMESPACE)
            .build());
    task.setSpec(new VeraTaskSpec());
    task.getSpec().handler = "echo";
    task.getSpec().ttlSecondsAfterFinished = 10;
    harness.client().resource(task).create();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> FinishedTaskLabels.isMarked(harness.task("expires-meanwhile")));
    harness.operator().close();
    assertThat(harness.task("expires-meanwhile")).as("kept while no operator runs").isNotNull();

    harness.restartOperator();

    await().atMost(Duration.ofSeconds(40)).until(() -> harness.task("expires-meanwhile") == null);
  }

  private long markedFinished() {
    return harness
        .client()
        .resources(VeraTask.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withLabelSelector(FinishedTaskLabels.FINISHED_SELECTOR)
        .list()
        .getItems()
        .size();
  }

  /** Submits compute.sum tasks of [i, 1] over REST from a few clients; ids in order of i. */
  private List<String> submitConcurrently(int count) throws Exception {
    ExecutorService clients = Executors.newFixedThreadPool(8);
    try {
      List<Future<String>> ids = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        String body = "{\"name\":\"compute.sum\",\"payload\":{\"numbers\":[" + i + ",1]}}";
        ids.add(clients.submit(() -> submit(body)));
      }
      List<String> result = new ArrayList<>();
      for (Future<String> id : ids) {
        result.add(id.get());
      }
      return result;
    } finally {
      clients.shutdownNow();
    }
  }

  private String submit(String body) {
    OperatorHarness.Response response = harness.post("/orchestrator/tasks/submit", body);
    assertThat(response.status()).as(response.text()).isEqualTo(200);
    return response.json().get("task_id").asText();
  }
}
