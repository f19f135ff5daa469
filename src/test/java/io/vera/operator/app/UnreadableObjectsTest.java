package io.vera.operator.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.embedded.EmbeddedApiServer;
import io.vera.operator.kube.TolerantReads;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An object the operator cannot read (here: rows of the embedded store written by hand, as bad data
 * in a cluster or an object from another version would be) is skipped with a Warning Event and a
 * condition on it, and the operator goes on serving every other object.
 */
class UnreadableObjectsTest {

  private static final String NS = OperatorHarness.NAMESPACE;

  @TempDir Path state;

  @Test
  void anObjectThatDoesNotFitTheModelIsReportedAndSkippedAndTheRestRuns() throws Exception {
    EmbeddedApiServer before = EmbeddedApiServer.startDurable(0, state, false);
    before.installCrds();
    before.client().resource(task("bad-priority")).create();
    WorkerPool badPool = pool("bad-replicas");
    before.client().resource(badPool).create();
    before.close();
    corrupt("bad-priority", "$.spec.priority", "{\"level\":5}");
    corrupt("bad-replicas", "$.spec.replicas", "\"many\"");

    try (OperatorHarness harness =
        new OperatorHarness(
            EmbeddedApiServer.startDurable(0, state, false), ClusterSettings.embedded())) {
      harness.createEmbeddedPool("workers", TaskType.GENERAL, 1, false);
      harness.client().resource(task("good")).create();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  harness.task("good").getStatus() != null
                      && harness.task("good").getStatus().phase == TaskPhase.Succeeded);

      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(
              () -> {
                assertThat(warning(harness, "bad-priority").getMessage()).contains("spec.priority");
                assertThat(warning(harness, "bad-replicas").getMessage()).contains("spec.replicas");
              });
      // Read, it is the stored object with the unreadable field left out and why.
      VeraTask read = harness.task("bad-priority");
      assertThat(read.getSpec().priority).isNull();
      assertThat(TolerantReads.unreadable(read)).contains("spec.priority");
      assertThat(read.getStatus() == null ? null : read.getStatus().phase)
          .as("never worked on")
          .isNotEqualTo(TaskPhase.Succeeded);
    }
  }

  private Event warning(OperatorHarness harness, String name) {
    List<Event> found =
        harness.events().stream()
            .filter(e -> name.equals(e.getInvolvedObject().getName()))
            .filter(e -> "Unreadable".equals(e.getReason()))
            .toList();
    assertThat(found).as("Unreadable events on %s", name).isNotEmpty();
    assertThat(found.get(0).getType()).isEqualTo("Warning");
    return found.get(0);
  }

  /** Sets a field of a stored object's JSON in the state database, as no API server would. */
  private void corrupt(String name, String path, String json) throws Exception {
    try (Connection c =
            DriverManager.getConnection(
                "jdbc:sqlite:" + state.resolve("store.db").toAbsolutePath());
        PreparedStatement s =
            c.prepareStatement(
                "UPDATE objects SET json = json_set(json, ?, json(?)) WHERE name = ?")) {
      s.setString(1, path);
      s.setString(2, json);
      s.setString(3, name);
      assertThat(s.executeUpdate()).isEqualTo(1);
    }
  }

  private static VeraTask task(String name) {
    VeraTask task = new VeraTask();
    task.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    task.setSpec(new VeraTaskSpec());
    task.getSpec().handler = "echo";
    return task;
  }

  private static WorkerPool pool(String name) {
    WorkerPool pool = new WorkerPool();
    pool.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    WorkerPoolSpec spec = new WorkerPoolSpec();
    spec.taskType = TaskType.GENERAL;
    spec.replicas = 1;
    spec.runtime = WorkerPoolSpec.Runtime.Embedded;
    pool.setSpec(spec);
    return pool;
  }
}
