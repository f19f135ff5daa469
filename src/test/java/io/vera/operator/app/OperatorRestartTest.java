package io.vera.operator.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.task.PoolKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** After an operator restart the queues are rebuilt from the resources and no task is lost. */
class OperatorRestartTest {
  private final OperatorHarness harness = new OperatorHarness();

  @AfterEach
  void close() {
    harness.close();
  }

  @Test
  void queuedAndRunningTasksSurviveARestart() {
    // Two workers: the long task holds one before and after the restart, the other runs the rest.
    harness.createEmbeddedPool("restart-pool", TaskType.GENERAL, 2, false);
    // Long enough that it is still running at the restart however loaded the machine is.
    String running = submit("sleep", "{\"seconds\": 300}");
    await().atMost(Duration.ofSeconds(10)).until(() -> phase(running) == TaskPhase.Running);
    suspend(true);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                harness
                        .operator()
                        .dispatcher()
                        .poolStats(new PoolKey(OperatorHarness.NAMESPACE, "restart-pool"))
                        .orElseThrow()
                        .queued()
                    == 0);
    List<String> queued = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      queued.add(submit("compute.sum", "{\"a\": " + i + ", \"b\": 1}"));
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> queued.stream().allMatch(id -> phase(id) == TaskPhase.Queued));

    harness.restartOperator();
    suspend(false);

    for (int i = 0; i < queued.size(); i++) {
      JsonNode result =
          harness.get("/orchestrator/tasks/result/" + queued.get(i) + "?timeout=20").json();
      assertThat(result.get("status").asText()).isEqualTo("completed");
      assertThat(result.get("result").asInt()).isEqualTo(i + 1);
      assertThat(result.get("attempts").asInt()).isEqualTo(1);
    }
    // The new process runs it again, and counts the attempt that died with the old one.
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> phase(running) == TaskPhase.Running && attempts(running) == 2);
    assertThat(harness.post("/orchestrator/tasks/" + running + "/cancel", "").status())
        .isEqualTo(200);
    await().atMost(Duration.ofSeconds(10)).until(() -> phase(running) == TaskPhase.Cancelled);
  }

  private String submit(String handler, String payload) {
    String body =
        "{\"name\": \""
            + handler
            + "\", \"payload\": "
            + payload
            + ", \"max_retries\": 2, \"pool\": \"restart-pool\"}";
    OperatorHarness.Response response = harness.post("/orchestrator/tasks/submit", body);
    assertThat(response.status()).as(response.text()).isEqualTo(200);
    return response.json().get("task_id").asText();
  }

  private TaskPhase phase(String id) {
    VeraTask task = harness.task(id);
    return task.getStatus() == null ? null : task.getStatus().phase;
  }

  private int attempts(String id) {
    VeraTask task = harness.task(id);
    return task.getStatus() == null || task.getStatus().attempts == null
        ? 0
        : task.getStatus().attempts;
  }

  private void suspend(boolean suspended) {
    harness
        .client()
        .resources(WorkerPool.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName("restart-pool")
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"suspend\":" + suspended + "}}");
  }
}
