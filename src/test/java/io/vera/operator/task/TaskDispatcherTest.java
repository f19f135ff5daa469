package io.vera.operator.task;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.TextNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.api.VeraTaskStatus;
import io.vera.operator.handler.HandlerRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TaskDispatcherTest {
  private static final String NS = "ns";
  private static final PoolKey POOL = new PoolKey(NS, "general");
  private static final Duration NO_WAIT = Duration.ZERO;

  private final Set<TaskKey> changed = ConcurrentHashMap.newKeySet();
  private final TaskDispatcher dispatcher =
      new TaskDispatcher(
          HandlerRegistry.loadDefault(),
          changed::add,
          new TaskDispatcher.Settings(1000, 300, 3, Duration.ofSeconds(1)),
          Clock.systemUTC());

  @AfterEach
  void close() {
    dispatcher.close();
  }

  private void pool(boolean suspended, Double cpuThreshold, int leaseSeconds) {
    dispatcher.upsertPool(
        POOL, new PoolSettings(TaskType.GENERAL, suspended, cpuThreshold, leaseSeconds), 0, 0);
  }

  private static VeraTask task(String name, TaskPriority priority, Instant created) {
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace(NS)
            .withName(name)
            .withUid(UUID.randomUUID().toString())
            .withGeneration(1L)
            .withCreationTimestamp(created.toString())
            .build());
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.handler = "echo";
    spec.priority = priority;
    spec.payload = TextNode.valueOf(name);
    task.setSpec(spec);
    return task;
  }

  private static VeraTask task(String name) {
    return task(name, TaskPriority.NORMAL, Instant.parse("2026-01-01T00:00:00Z"));
  }

  private static VeraTask withRetries(VeraTask task, int limit, int backoffSeconds) {
    task.getSpec().retries = new VeraTaskSpec.RetryPolicy();
    task.getSpec().retries.limit = limit;
    task.getSpec().retries.backoffSeconds = backoffSeconds;
    return task;
  }

  private Lease lease() throws InterruptedException {
    return dispatcher.lease(POOL, "w", NO_WAIT, () -> 0, null).orElseThrow();
  }

  private TaskSnapshot get(String name) {
    return dispatcher.get(new TaskKey(NS, name)).orElseThrow();
  }

  @Test
  void aReconcileOfAnOlderCopyRunAfterTheInformerReportedTheTaskGoneDoesNotRestoreIt()
      throws Exception {
    pool(false, null, 30);
    VeraTask created = task("cancelled-meanwhile");
    TaskKey key = new TaskKey(NS, "cancelled-meanwhile");
    dispatcher.track(created);
    Lease lease = lease();
    // The copy JOSDK queued a reconcile with: running attempt 1 on an embedded worker.
    VeraTask olderCopy = task("cancelled-meanwhile");
    olderCopy.getMetadata().setUid(created.getMetadata().getUid());
    olderCopy.setStatus(
        status(TaskPhase.Running, 1, lease.task().worker(), Instant.now().plusSeconds(30)));

    assertThat(dispatcher.cancel(key, "cancelled through the REST API"))
        .isEqualTo(CancelOutcome.CANCELLED);
    // Marked finished: the task leaves the informer's cache before its end is reported stored.
    dispatcher.forget(key, created.getMetadata().getUid());
    dispatcher.stored(key, created.getMetadata().getUid());
    dispatcher.track(olderCopy);

    assertThat(dispatcher.get(key)).as("not restored as a lost attempt").isEmpty();
    assertThat(dispatcher.queueOrder(POOL)).isEmpty();
  }

  @Test
  void queuedTasksAreLeasedInPriorityOrderThenInSubmissionOrder() throws Exception {
    pool(false, null, 30);
    Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
    dispatcher.track(task("low-1", TaskPriority.LOW, t0));
    dispatcher.track(task("normal-1", TaskPriority.NORMAL, t0.plusSeconds(1)));
    dispatcher.track(task("critical-1", TaskPriority.CRITICAL, t0.plusSeconds(2)));
    dispatcher.track(task("normal-2", TaskPriority.NORMAL, t0.plusSeconds(1)));
    dispatcher.track(task("background-1", TaskPriority.BACKGROUND, t0));
    dispatcher.track(task("high-1", TaskPriority.HIGH, t0.plusSeconds(3)));
    dispatcher.track(task("normal-0", TaskPriority.NORMAL, t0));

    assertThat(dispatcher.queueOrder(POOL))
        .extracting(s -> s.key().name())
        .containsExactly(
            "critical-1", "high-1", "normal-0", "normal-1", "normal-2", "low-1", "background-1");
    List<String> leased = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      leased.add(lease().task().key().name());
    }
    assertThat(leased)
        .containsExactly(
            "critical-1", "high-1", "normal-0", "normal-1", "normal-2", "low-1", "background-1");
  }

  @Test
  void aFinishedTaskWhoseEndIsStoredIsDroppedAndALateCreationEventDoesNotRunItAgain()
      throws Exception {
    pool(false, null, 30);
    VeraTask created = task("quick");
    dispatcher.track(created);
    dispatcher.track(task("waiting"));
    Lease lease = lease();
    dispatcher.complete(lease.id(), TextNode.valueOf("done"));
    dispatcher.stored(new TaskKey(NS, "quick"), created.getMetadata().getUid());

    assertThat(dispatcher.get(new TaskKey(NS, "quick"))).isEmpty();
    assertThat(dispatcher.size()).as("only the task in flight is held").isEqualTo(1);
    // The informer's lagging report of the creation arrives after the task was dropped.
    assertThat(dispatcher.tracks(created)).isTrue();
    dispatcher.track(created);
    assertThat(dispatcher.get(new TaskKey(NS, "quick"))).isEmpty();
    assertThat(dispatcher.queueOrder(POOL))
        .extracting(t -> t.key().name())
        .containsExactly("waiting");
  }

  @Test
  void aTaskFoundFinishedIsReportedSoItsEndGetsMarked() {
    VeraTask done = task("finished-by-an-older-operator");
    done.setStatus(new VeraTaskStatus());
    done.getStatus().phase = TaskPhase.Succeeded;
    done.getStatus().completionTime = "2026-01-01T00:01:00Z";
    dispatcher.track(done);
    assertThat(changed).containsExactly(new TaskKey(NS, "finished-by-an-older-operator"));
    assertThat(dispatcher.queueOrder(POOL)).isEmpty();
  }

  @Test
  void leaseWaitsForWorkAndReturnsEmptyWhenNoneCame() throws Exception {
    pool(false, null, 30);
    long start = System.nanoTime();
    assertThat(dispatcher.lease(POOL, "w", Duration.ofMillis(300), () -> 0, null)).isEmpty();
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .isGreaterThanOrEqualTo(Duration.ofMillis(290));

    Thread submitter =
        new Thread(
            () -> {
              sleep(200);
              dispatcher.track(task("late"));
            });
    submitter.start();
    Optional<Lease> lease = dispatcher.lease(POOL, "w", Duration.ofSeconds(5), () -> 0, null);
    assertThat(lease).isPresent();
    assertThat(lease.get().task().key().name()).isEqualTo("late");
  }

  @Test
  void completedTaskRecordsResultAndLateAnswersAreRefused() throws Exception {
    pool(false, null, 30);
    dispatcher.track(task("a"));
    Lease lease = lease();
    assertThat(get("a").phase()).isEqualTo(TaskPhase.Running);
    assertThat(dispatcher.complete(lease.id(), TextNode.valueOf("done"))).isTrue();
    assertThat(get("a").phase()).isEqualTo(TaskPhase.Succeeded);
    assertThat(get("a").result().asText()).isEqualTo("done");
    assertThat(dispatcher.complete(lease.id(), TextNode.valueOf("again"))).isFalse();
    assertThat(dispatcher.poolStats(POOL).orElseThrow().succeeded()).isEqualTo(1);
    assertThat(changed).contains(new TaskKey(NS, "a"));
  }

  @Test
  void progressIsKeptAtOnceAndPublishedAtMostOnceAnIntervalWithTheLatestReportLast()
      throws Exception {
    pool(false, null, 30);
    List<TaskEvent> progressEvents = new java.util.concurrent.CopyOnWriteArrayList<>();
    dispatcher.addListener(
        e -> {
          if (e.type() == TaskEvent.Type.PROGRESS) {
            progressEvents.add(e);
          }
        });
    dispatcher.track(task("a"));
    Lease lease = lease();
    for (int i = 1; i <= 50; i++) {
      assertThat(dispatcher.progress(lease.id(), i / 100.0, "step " + i)).isTrue();
    }
    assertThat(get("a").progress().message()).isEqualTo("step 50");
    // The first report goes out at once, the rest of the interval as one trailing publication.
    await()
        .atMost(Duration.ofSeconds(5))
        .until(
            () ->
                !progressEvents.isEmpty()
                    && "step 50"
                        .equals(
                            progressEvents
                                .get(progressEvents.size() - 1)
                                .task()
                                .progress()
                                .message()));
    assertThat(progressEvents).hasSize(2);
    assertThat(progressEvents.get(0).task().progress().message()).isEqualTo("step 1");
    assertThat(get("a").progress().percent()).isEqualTo(50);

    assertThat(dispatcher.progress(lease.id(), 7, "past the end")).isTrue();
    assertThat(get("a").progress().fraction()).isEqualTo(1.0);
    assertThat(dispatcher.progress(lease.id(), Double.NaN, "312 lines so far")).isTrue();
    assertThat(get("a").progress().known()).as("work that cannot tell how much is left").isFalse();
    assertThat(TaskStatusMapper.toStatus(get("a")).progress.percent).isNull();
    assertThat(TaskStatusMapper.toStatus(get("a")).progress.message).isEqualTo("312 lines so far");
    dispatcher.complete(lease.id(), TextNode.valueOf("done"));
    assertThat(dispatcher.progress(lease.id(), 0.5, "late")).isFalse();
    assertThat(get("a").progress().percent()).isEqualTo(100);
  }

  @Test
  void failedAttemptsAreRetriedUntilTheLimitThenTheTaskFails() throws Exception {
    pool(false, null, 30);
    dispatcher.track(withRetries(task("flaky"), 2, 0));
    for (int attempt = 1; attempt <= 3; attempt++) {
      Lease lease = dispatcher.lease(POOL, "w", Duration.ofSeconds(2), () -> 0, null).orElseThrow();
      assertThat(lease.task().attempts()).isEqualTo(attempt);
      dispatcher.fail(lease.id(), new TaskError(TaskError.HANDLER_ERROR, "boom " + attempt), true);
    }
    TaskSnapshot task = get("flaky");
    assertThat(task.phase()).isEqualTo(TaskPhase.Failed);
    assertThat(task.attempts()).isEqualTo(3);
    assertThat(task.error().message()).isEqualTo("boom 3");
    assertThat(dispatcher.lease(POOL, "w", Duration.ofMillis(100), () -> 0, null)).isEmpty();
  }

  @Test
  void retriesWaitForAnExponentialBackoff() throws Exception {
    pool(false, null, 30);
    dispatcher.track(withRetries(task("slow-retry"), 3, 1));
    Lease first = lease();
    Instant firstFailed = Instant.now();
    dispatcher.fail(first.id(), new TaskError(TaskError.HANDLER_ERROR, "first"), true);
    TaskSnapshot waiting = get("slow-retry");
    assertThat(waiting.phase()).isEqualTo(TaskPhase.Queued);
    assertThat(waiting.nextRetryAt()).isAfterOrEqualTo(firstFailed.plusSeconds(1));
    assertThat(dispatcher.lease(POOL, "w", Duration.ofMillis(300), () -> 0, null))
        .as("still backing off")
        .isEmpty();
    Lease second = dispatcher.lease(POOL, "w", Duration.ofSeconds(3), () -> 0, null).orElseThrow();
    assertThat(second.task().attempts()).isEqualTo(2);
    Instant secondFailed = Instant.now();
    dispatcher.fail(second.id(), new TaskError(TaskError.HANDLER_ERROR, "second"), true);
    assertThat(get("slow-retry").nextRetryAt())
        .as("second backoff doubles to 2 s")
        .isAfterOrEqualTo(secondFailed.plusSeconds(2));
  }

  @Test
  void failuresThatCannotBeHelpedByRetryingFailAtOnce() throws Exception {
    pool(false, null, 30);
    dispatcher.track(withRetries(task("bad-input"), 5, 0));
    dispatcher.fail(lease().id(), new TaskError(TaskError.INVALID_INPUT, "a is required"), false);
    assertThat(get("bad-input").phase()).isEqualTo(TaskPhase.Failed);
    assertThat(get("bad-input").attempts()).isEqualTo(1);
  }

  @Test
  void attemptPastItsTimeoutIsInterruptedAndFailsWithReasonTimeout() throws Exception {
    pool(false, null, 30);
    VeraTask slow = withRetries(task("slow"), 0, 0);
    slow.getSpec().timeoutSeconds = 1;
    dispatcher.track(slow);
    AtomicInteger revoked = new AtomicInteger();
    Lease lease =
        dispatcher.lease(POOL, "w", NO_WAIT, () -> 0, revoked::incrementAndGet).orElseThrow();
    await().atMost(Duration.ofSeconds(3)).until(() -> get("slow").phase() == TaskPhase.Failed);
    assertThat(get("slow").error().type()).isEqualTo(TaskError.TIMEOUT);
    await().atMost(Duration.ofSeconds(1)).until(() -> revoked.get() == 1);
    assertThat(dispatcher.renew(lease.id())).isEmpty();
    assertThat(dispatcher.complete(lease.id(), TextNode.valueOf("too late"))).isFalse();
    assertThat(get("slow").phase()).isEqualTo(TaskPhase.Failed);
  }

  @Test
  void aFinishedAttemptLeavesNoDeadlineTimerBehind() throws Exception {
    pool(false, null, 30);
    int before = dispatcher.pendingTimers();
    for (int i = 0; i < 50; i++) {
      dispatcher.track(task("done-" + i));
      assertThat(dispatcher.complete(lease().id(), TextNode.valueOf("ok"))).isTrue();
    }
    dispatcher.track(task("still-running"));
    lease();

    assertThat(get("done-49").phase()).isEqualTo(TaskPhase.Succeeded);
    assertThat(dispatcher.pendingTimers()).isEqualTo(before + 1);
  }

  @Test
  void cancelStopsQueuedAndRunningTasks() throws Exception {
    pool(false, null, 30);
    dispatcher.track(task("running"));
    dispatcher.track(task("queued"));
    AtomicInteger revoked = new AtomicInteger();
    Lease lease =
        dispatcher.lease(POOL, "w", NO_WAIT, () -> 0, revoked::incrementAndGet).orElseThrow();
    assertThat(lease.task().key().name()).isEqualTo("running");

    assertThat(dispatcher.cancel(new TaskKey(NS, "queued"), "test"))
        .isEqualTo(CancelOutcome.CANCELLED);
    assertThat(dispatcher.cancel(new TaskKey(NS, "running"), "test"))
        .isEqualTo(CancelOutcome.CANCELLED);
    assertThat(get("queued").phase()).isEqualTo(TaskPhase.Cancelled);
    assertThat(get("running").phase()).isEqualTo(TaskPhase.Cancelled);
    await().atMost(Duration.ofSeconds(1)).until(() -> revoked.get() == 1);
    assertThat(dispatcher.poolStats(POOL).orElseThrow().running()).isZero();
    assertThat(dispatcher.queueOrder(POOL)).isEmpty();
    assertThat(dispatcher.cancel(new TaskKey(NS, "missing"), "test"))
        .isEqualTo(CancelOutcome.NOT_FOUND);
  }

  @Test
  void cancelRequestedInTheSpecIsApplied() throws Exception {
    pool(false, null, 30);
    VeraTask task = task("to-cancel");
    dispatcher.track(task);
    task.getSpec().cancel = true;
    dispatcher.track(task);
    assertThat(get("to-cancel").phase()).isEqualTo(TaskPhase.Cancelled);
  }

  @Test
  void tracksOnlyTheSameResourceAtTheSameGeneration() {
    pool(false, null, 30);
    VeraTask task = task("known");
    assertThat(dispatcher.tracks(task)).isFalse();
    dispatcher.track(task);
    assertThat(dispatcher.tracks(task)).isTrue();
    VeraTask edited = task("known");
    edited.getMetadata().setUid(task.getMetadata().getUid());
    edited.getMetadata().setGeneration(2L);
    assertThat(dispatcher.tracks(edited)).as("a newer generation").isFalse();
    VeraTask recreated = task("known");
    assertThat(dispatcher.tracks(recreated)).as("same name, another UID").isFalse();
  }

  @Test
  void leaseThatIsNotRenewedExpiresAndTheTaskRunsAgainWithItsAttemptRaised() throws Exception {
    pool(false, null, 1);
    dispatcher.track(withRetries(task("orphaned"), 3, 0));
    Lease first = lease();
    assertThat(dispatcher.renew(first.id())).as("the worker confirms, then dies").isPresent();
    assertThat(first.task().attempts()).isEqualTo(1);
    Lease second = dispatcher.lease(POOL, "w2", Duration.ofSeconds(5), () -> 0, null).orElseThrow();
    assertThat(second.task().key().name()).isEqualTo("orphaned");
    assertThat(second.task().attempts()).isEqualTo(2);
    assertThat(dispatcher.complete(first.id(), TextNode.valueOf("stale"))).isFalse();
    assertThat(dispatcher.renew(second.id())).isPresent();
  }

  @Test
  void leaseNeverConfirmedByItsWorkerReturnsTheTaskWithoutUsingAnAttempt() throws Exception {
    pool(false, null, 30);
    dispatcher.track(withRetries(task("abandoned-poll"), 0, 0));
    Lease phantom = lease();
    Lease real = dispatcher.lease(POOL, "w2", Duration.ofSeconds(5), () -> 0, null).orElseThrow();
    assertThat(real.task().key().name()).isEqualTo("abandoned-poll");
    assertThat(real.task().attempts()).isEqualTo(1);
    assertThat(dispatcher.renew(phantom.id())).isEmpty();
    assertThat(dispatcher.renew(real.id())).isPresent();
    assertThat(dispatcher.complete(real.id(), TextNode.valueOf("ok"))).isTrue();
    assertThat(get("abandoned-poll").phase()).isEqualTo(TaskPhase.Succeeded);
  }

  @Test
  void renewedLeaseDoesNotExpire() throws Exception {
    pool(false, null, 1);
    dispatcher.track(task("long"));
    Lease lease = lease();
    for (int i = 0; i < 5; i++) {
      sleep(500);
      assertThat(dispatcher.renew(lease.id())).isPresent();
    }
    assertThat(get("long").phase()).isEqualTo(TaskPhase.Running);
    assertThat(get("long").attempts()).isEqualTo(1);
  }

  @Test
  void resultsOverTheCapFailTheTaskWithAClearError() throws Exception {
    pool(false, null, 30);
    dispatcher.track(task("big"));
    Lease lease = lease();
    dispatcher.complete(lease.id(), TextNode.valueOf("x".repeat(2000)));
    TaskSnapshot task = get("big");
    assertThat(task.phase()).isEqualTo(TaskPhase.Failed);
    assertThat(task.error().type()).isEqualTo(TaskError.RESULT_TOO_LARGE);
    assertThat(task.error().message()).contains("1000 bytes");
  }

  @Test
  void taskWithoutAPoolWaitsAsPendingUntilOneAppears() throws Exception {
    dispatcher.track(task("early"));
    assertThat(get("early").phase()).isEqualTo(TaskPhase.Pending);
    assertThat(get("early").pendingReason()).contains("no WorkerPool for task type GENERAL");
    pool(false, null, 30);
    assertThat(get("early").phase()).isEqualTo(TaskPhase.Queued);
    assertThat(lease().task().key().name()).isEqualTo("early");
  }

  @Test
  void suspendedPoolLeasesNothing() throws Exception {
    pool(true, null, 30);
    dispatcher.track(task("held"));
    assertThat(dispatcher.lease(POOL, "w", Duration.ofMillis(100), () -> 0, null)).isEmpty();
    pool(false, null, 30);
    assertThat(lease().task().key().name()).isEqualTo("held");
  }

  @Test
  void aboveTheCpuThresholdAPoolKeepsExactlyOneTaskRunning() throws Exception {
    pool(false, 50.0, 30);
    dispatcher.track(task("first"));
    dispatcher.track(task("second"));
    Lease first = dispatcher.lease(POOL, "w", NO_WAIT, () -> 90, null).orElseThrow();
    assertThat(dispatcher.lease(POOL, "w", Duration.ofMillis(300), () -> 90, null)).isEmpty();
    assertThat(dispatcher.lease(POOL, "w", NO_WAIT, () -> 10, null)).isPresent();
    dispatcher.complete(first.id(), JsonNodeFactory.instance.nullNode());
  }

  @Test
  void restartRestoresEachTaskFromItsStatus() throws Exception {
    pool(false, null, 30);
    Instant now = Instant.now();
    VeraTask queued = task("was-queued");
    queued.setStatus(status(TaskPhase.Queued, 0, null, null));
    VeraTask embeddedRunning = withRetries(task("was-running-here"), 3, 0);
    embeddedRunning.setStatus(
        status(
            TaskPhase.Running,
            1,
            TaskDispatcher.EMBEDDED_WORKER_PREFIX + "general/0",
            now.plusSeconds(60)));
    VeraTask remoteRunning = task("was-running-in-pod");
    remoteRunning.setStatus(status(TaskPhase.Running, 1, "pod-1", now.plusSeconds(60)));
    VeraTask remoteExpired = withRetries(task("pod-lease-expired"), 3, 0);
    remoteExpired.setStatus(status(TaskPhase.Running, 2, "pod-2", now.minusSeconds(5)));
    VeraTask done = task("was-done");
    done.setStatus(status(TaskPhase.Succeeded, 1, null, null));

    for (VeraTask t : List.of(queued, embeddedRunning, remoteRunning, remoteExpired, done)) {
      dispatcher.track(t);
    }
    assertThat(get("was-queued").phase()).isEqualTo(TaskPhase.Queued);
    assertThat(get("was-running-here").phase())
        .as("its thread died with the old process")
        .isEqualTo(TaskPhase.Queued);
    assertThat(get("was-running-here").error().type()).isEqualTo(TaskError.LEASE_EXPIRED);
    assertThat(get("was-running-in-pod").phase()).isEqualTo(TaskPhase.Running);
    assertThat(dispatcher.renew("lease-pod-1")).as("the pod keeps its lease").isPresent();
    assertThat(get("pod-lease-expired").phase()).isEqualTo(TaskPhase.Queued);
    assertThat(get("was-done").phase()).isEqualTo(TaskPhase.Succeeded);

    List<Integer> attempts = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Lease lease = dispatcher.lease(POOL, "w", Duration.ofSeconds(2), () -> 0, null).orElseThrow();
      attempts.add(lease.task().attempts());
    }
    assertThat(attempts).containsExactlyInAnyOrder(1, 2, 3);
  }

  private static VeraTaskStatus status(
      TaskPhase phase, int attempts, String worker, Instant leaseExpiry) {
    VeraTaskStatus status = new VeraTaskStatus();
    status.phase = phase;
    status.attempts = attempts;
    status.worker = worker;
    if (worker != null) {
      status.leaseId = "lease-" + worker;
      status.leaseExpireTime = leaseExpiry.toString();
      status.startTime = Instant.now().minusSeconds(1).toString();
    }
    return status;
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
