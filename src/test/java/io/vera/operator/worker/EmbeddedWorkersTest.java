package io.vera.operator.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.TextNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.task.PoolKey;
import io.vera.operator.task.PoolSettings;
import io.vera.operator.task.TaskDispatcher;
import io.vera.operator.task.TaskKey;
import java.time.Clock;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/** Embedded workers hold back new leases while too many finished tasks wait to be stored. */
class EmbeddedWorkersTest {
  private static final PoolKey POOL = new PoolKey("ns", "general");

  @Test
  void leaseNothingWhileTheStatusWriterLagsFarBehind() throws Exception {
    AtomicInteger unwrittenFinals = new AtomicInteger(EmbeddedWorkers.MAX_UNWRITTEN_FINALS + 1);
    TaskDispatcher dispatcher =
        new TaskDispatcher(
            HandlerRegistry.loadDefault(),
            key -> {},
            new TaskDispatcher.Settings(1000, 300, 0, Duration.ofSeconds(10)),
            Clock.systemUTC());
    EmbeddedWorkers workers =
        new EmbeddedWorkers(
            dispatcher,
            new TaskRunner(HandlerRegistry.loadDefault()),
            () -> 0,
            unwrittenFinals::get);
    try {
      dispatcher.upsertPool(POOL, new PoolSettings(TaskType.GENERAL, false, null, 30), 0, 0);
      dispatcher.track(task("held"));
      workers.resize(POOL, 2);
      Thread.sleep(1500);
      assertThat(dispatcher.get(new TaskKey("ns", "held")).orElseThrow().phase())
          .isEqualTo(TaskPhase.Queued);

      unwrittenFinals.set(EmbeddedWorkers.MAX_UNWRITTEN_FINALS);
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  dispatcher.get(new TaskKey("ns", "held")).orElseThrow().phase()
                      == TaskPhase.Succeeded);
    } finally {
      workers.close();
      dispatcher.close();
    }
  }

  private static VeraTask task(String name) {
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace("ns")
            .withName(name)
            .withUid(UUID.randomUUID().toString())
            .withGeneration(1L)
            .withCreationTimestamp("2026-01-01T00:00:00Z")
            .build());
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.handler = "echo";
    spec.payload = TextNode.valueOf(name);
    task.setSpec(spec);
    return task;
  }
}
