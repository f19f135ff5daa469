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
import io.vera.operator.task.TaskError;
import io.vera.operator.task.TaskKey;
import io.vera.operator.task.TaskSnapshot;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The one attempt loop: revocation and stopping hit exactly the attempt they mean. */
class AttemptLoopTest {
  private static final PoolKey POOL = new PoolKey("ns", "general");
  private static final Duration WAIT = Duration.ofMillis(200);

  private final TaskDispatcher dispatcher =
      new TaskDispatcher(
          HandlerRegistry.loadDefault(),
          key -> {},
          new TaskDispatcher.Settings(1000, 300, 0, Duration.ofSeconds(10)),
          Clock.systemUTC());
  private AttemptLoop loop;

  AttemptLoopTest() {
    dispatcher.upsertPool(POOL, new PoolSettings(TaskType.GENERAL, false, null, 30), 0, 0);
  }

  @AfterEach
  void stop() {
    if (loop != null) {
      loop.stop(true);
    }
    dispatcher.close();
  }

  @Test
  void aTaskCancelledBeforeItsAttemptBeginsNeverRuns() throws Exception {
    dispatcher.track(task("early-cancel", 0));
    List<String> ran = new CopyOnWriteArrayList<>();
    loop =
        new AttemptLoop(
            "test/0",
            "attempt-loop-test",
            dispatcher,
            (id, onRevoke) -> {
              var lease = dispatcher.lease(POOL, id, WAIT, () -> 0.0, onRevoke);
              if (lease.isPresent() && lease.get().task().key().name().equals("early-cancel")) {
                dispatcher.cancel(lease.get().task().key(), "test");
                dispatcher.track(task("next", 0));
              }
              return lease;
            },
            attempt -> {
              ran.add(attempt.task().key().name());
              return AttemptBody.Result.of(TextNode.valueOf("ran"));
            });
    loop.start();

    // One thread: once the next task ran, the cancelled one had its turn and did not run.
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> phase("next") == TaskPhase.Succeeded);
    assertThat(ran).containsExactly("next");
    assertThat(phase("early-cancel")).isEqualTo(TaskPhase.Cancelled);
  }

  @Test
  void cancelInterruptsTheRunningBodyAndRunsItsRevokeActions() throws Exception {
    dispatcher.track(task("long", 0));
    CountDownLatch running = new CountDownLatch(1);
    AtomicBoolean interrupted = new AtomicBoolean();
    AtomicBoolean revokeActionRan = new AtomicBoolean();
    loop =
        new AttemptLoop(
            "test/0",
            "attempt-loop-test",
            dispatcher,
            (id, onRevoke) -> dispatcher.lease(POOL, id, WAIT, () -> 0.0, onRevoke),
            attempt -> {
              attempt.onRevoke(() -> revokeActionRan.set(true));
              running.countDown();
              try {
                Thread.sleep(60_000);
              } catch (InterruptedException e) {
                interrupted.set(true);
                throw e;
              }
              return AttemptBody.Result.of(TextNode.valueOf("late"));
            });
    loop.start();

    assertThat(running.await(10, TimeUnit.SECONDS)).isTrue();
    dispatcher.cancel(new TaskKey("ns", "long"), "test");
    Awaitility.await().atMost(Duration.ofSeconds(10)).untilTrue(interrupted);
    assertThat(revokeActionRan).isTrue();
    assertThat(phase("long")).isEqualTo(TaskPhase.Cancelled);
  }

  @Test
  void aGracefulStopRightAfterALeaseLetsThatAttemptFinishAndReportsIt() throws Exception {
    dispatcher.track(task("graceful", 0));
    AtomicReference<AttemptLoop> self = new AtomicReference<>();
    loop =
        new AttemptLoop(
            "test/0",
            "attempt-loop-test",
            dispatcher,
            (id, onRevoke) -> {
              var lease = dispatcher.lease(POOL, id, WAIT, () -> 0.0, onRevoke);
              // The stop's wake-up comes as the wait ends, the race the loop closes.
              lease.ifPresent(l -> self.get().stop(false));
              return lease;
            },
            attempt -> {
              Thread.sleep(100); // an interrupt meant for the lease wait would end this
              return AttemptBody.Result.of(TextNode.valueOf("done"));
            });
    self.set(loop);
    loop.start();

    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> phase("graceful") == TaskPhase.Succeeded);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !loop.isAlive());
  }

  @Test
  void anAttemptLeasedAsTheLoopIsAbortedIsHandedBackUncounted() throws Exception {
    dispatcher.track(task("handed-back", 2));
    AtomicReference<AttemptLoop> self = new AtomicReference<>();
    AtomicBoolean ran = new AtomicBoolean();
    loop =
        new AttemptLoop(
            "test/0",
            "attempt-loop-test",
            dispatcher,
            (id, onRevoke) -> {
              var lease = dispatcher.lease(POOL, id, WAIT, () -> 0.0, onRevoke);
              lease.ifPresent(l -> self.get().stop(true));
              return lease;
            },
            attempt -> {
              ran.set(true);
              return AttemptBody.Result.of(TextNode.valueOf("ran"));
            });
    self.set(loop);
    loop.start();

    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !loop.isAlive());
    TaskSnapshot task = dispatcher.get(new TaskKey("ns", "handed-back")).orElseThrow();
    assertThat(ran).isFalse();
    assertThat(task.phase()).isEqualTo(TaskPhase.Queued);
    assertThat(task.attempts()).isZero();
  }

  @Test
  void aClassifiedFailureReachesTheDispatcherAsItsBodySaidIt() throws Exception {
    dispatcher.track(task("fails", 3));
    loop =
        new AttemptLoop(
            "test/0",
            "attempt-loop-test",
            dispatcher,
            (id, onRevoke) -> dispatcher.lease(POOL, id, WAIT, () -> 0.0, onRevoke),
            attempt -> {
              throw new AttemptFailure(new TaskError("InvalidInput", "no"), false);
            });
    loop.start();

    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> phase("fails") == TaskPhase.Failed);
    TaskSnapshot task = dispatcher.get(new TaskKey("ns", "fails")).orElseThrow();
    assertThat(task.attempts()).isEqualTo(1);
    assertThat(task.error().type()).isEqualTo("InvalidInput");
  }

  private TaskPhase phase(String name) {
    return dispatcher.get(new TaskKey("ns", name)).orElseThrow().phase();
  }

  private static VeraTask task(String name, int retries) {
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
    spec.retries = new VeraTaskSpec.RetryPolicy();
    spec.retries.limit = retries;
    task.setSpec(spec);
    return task;
  }
}
