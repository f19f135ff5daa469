package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.app.OperatorHarness;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A handler's progress reaches the REST task view and the VeraTask's status. */
class TaskProgressTest {
  private static OperatorHarness harness;

  @BeforeAll
  static void start() {
    harness = new OperatorHarness();
    harness.createEmbeddedPool("general", TaskType.GENERAL, 1, false);
  }

  @AfterAll
  static void stop() {
    harness.close();
  }

  @Test
  void aRunningSleepReportsItsProgressInRestAndInItsStatus() {
    String id =
        harness
            .post("/orchestrator/tasks/submit", "{\"name\":\"sleep\",\"payload\":{\"seconds\":30}}")
            .json()
            .get("task_id")
            .asText();
    JsonNode progress =
        Awaitility.await()
            .atMost(Duration.ofSeconds(15))
            .until(
                () -> harness.get("/orchestrator/tasks/" + id + "/status").json().path("progress"),
                p -> p.path("fraction").asDouble() > 0);
    assertThat(progress.path("message").asText()).matches("slept \\d+ of 30 s");

    VeraTask stored =
        Awaitility.await()
            .atMost(Duration.ofSeconds(15))
            .until(
                () -> harness.task(id),
                t -> t.getStatus() != null && t.getStatus().progress != null);
    assertThat(stored.getStatus().progress.percent).isBetween(1, 100);
    assertThat(stored.getStatus().progress.message).startsWith("slept ");
    harness.post("/orchestrator/tasks/" + id + "/cancel", "{}");
  }
}
