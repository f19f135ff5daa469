package io.vera.operator.task;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTaskStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * What each step of a task's life does to it: queued or left pending, leased, retried after a
 * backoff, finished, cancelled, handed back, dropped. Each step moves the task in {@link
 * TaskQueues}, queues its event and the answers to waiters in the {@link TaskOutbox}, and sets or
 * cancels its timers. Every method runs under the queues' lock; the dispatcher takes it and writes
 * the status afterwards.
 */
final class TaskTransitions {

  /**
   * How a timer that fires changes state: under the lock, then the status writes of the tasks the
   * change lists and the delivery of its events, like every change the dispatcher makes.
   */
  @FunctionalInterface
  interface Mutator {
    void mutate(Consumer<List<TaskKey>> change);
  }

  private final TaskQueues queues;
  private final TaskOutbox outbox;
  private final TaskTimers timers;
  private final TaskAdmission admission;
  private final Duration leaseConfirmWindow;
  private final Clock clock;
  private final Mutator later;

  TaskTransitions(
      TaskQueues queues,
      TaskOutbox outbox,
      TaskTimers timers,
      TaskAdmission admission,
      Duration leaseConfirmWindow,
      Clock clock,
      Mutator later) {
    this.queues = queues;
    this.outbox = outbox;
    this.timers = timers;
    this.admission = admission;
    this.leaseConfirmWindow = leaseConfirmWindow;
    this.clock = clock;
    this.later = later;
  }

  /** Puts a newly seen task in the state its status records; returns true if that changed it. */
  boolean restore(TaskEntry entry, VeraTaskStatus status) {
    Optional<TaskError> invalid = admission.invalid(entry);
    if (invalid.isPresent()) {
      finish(entry, TaskPhase.Failed, null, invalid.get());
      return true;
    }
    TaskPhase phase = status == null || status.phase == null ? TaskPhase.Pending : status.phase;
    TaskAdmission.readRecorded(entry, status);
    if (phase.isFinished()) {
      // Finished before this process saw it (by an older operator, or created so): writing it
      // marks it finished, so it leaves the informers and this dispatcher.
      entry.phase = phase;
      return true;
    }
    if (phase == TaskPhase.Running) {
      Instant expiry = TaskAdmission.parse(status.leaseExpireTime);
      boolean remote =
          status.worker != null && !status.worker.startsWith(TaskLeases.EMBEDDED_WORKER_PREFIX);
      if (remote && status.leaseId != null && expiry != null && expiry.isAfter(clock.instant())) {
        // A worker pod may still be running it and will renew against this process.
        entry.phase = TaskPhase.Running;
        entry.worker = status.worker;
        entry.leaseId = status.leaseId;
        entry.leaseExpiry = expiry;
        entry.deadline =
            entry.startedAt == null ? null : entry.startedAt.plusSeconds(entry.timeoutSeconds);
        entry.pool = queues.resolvePool(entry);
        queues.lease(entry);
        scheduleDeadline(entry);
        return false;
      }
      // The attempt died with its worker (or with the previous operator process).
      attemptFailed(
          entry,
          new TaskError(
              TaskError.LEASE_EXPIRED,
              "the worker running attempt " + entry.attempts + " stopped renewing its lease"),
          true);
      return true;
    }
    Instant retryAt = status == null ? null : TaskAdmission.parse(status.nextRetryTime);
    if (retryAt != null && retryAt.isAfter(clock.instant())) {
      entry.phase = TaskPhase.Queued;
      entry.nextRetryAt = retryAt;
      entry.pool = queues.resolvePool(entry);
      scheduleRetry(entry, Duration.between(clock.instant(), retryAt));
      return false;
    }
    if (queues.resolvePool(entry) == null) {
      entry.phase = TaskPhase.Pending;
      entry.pendingReason = noPoolReason(entry);
      outbox.event(TaskEvent.Type.SUBMITTED, entry.snapshot());
      return true;
    }
    boolean wasQueued = phase == TaskPhase.Queued;
    queues.enqueue(entry);
    if (!wasQueued) {
      outbox.event(TaskEvent.Type.SUBMITTED, entry.snapshot());
    }
    return !wasQueued;
  }

  /** Queues a waiting task if its pool exists; otherwise it waits Pending and says why. */
  void enqueueOrWait(TaskEntry entry) {
    if (queues.resolvePool(entry) != null) {
      queues.enqueue(entry);
    } else {
      entry.phase = TaskPhase.Pending;
      entry.pendingReason = noPoolReason(entry);
    }
  }

  /** Leases a task just taken from its queue to a worker. */
  Lease start(TaskEntry entry, PoolSettings pool, String workerId, Runnable onRevoke) {
    Instant now = clock.instant();
    entry.phase = TaskPhase.Running;
    entry.attempts++;
    entry.worker = workerId;
    entry.leaseId = UUID.randomUUID().toString();
    entry.leaseExpiry = now.plusSeconds(pool.leaseSeconds());
    entry.startedAt = now;
    entry.deadline = now.plusSeconds(entry.timeoutSeconds);
    entry.nextRetryAt = null;
    entry.onRevoke = onRevoke;
    entry.confirmBy = onRevoke == null ? now.plus(leaseConfirmWindow) : null;
    entry.pendingReason = null;
    entry.progress = null;
    entry.progressPublishedAt = null;
    entry.progressFlushScheduled = false;
    queues.lease(entry);
    scheduleDeadline(entry);
    outbox.event(TaskEvent.Type.STARTED, entry.snapshot());
    return new Lease(entry.leaseId, entry.snapshot(), entry.deadline, entry.leaseExpiry);
  }

  private void scheduleDeadline(TaskEntry entry) {
    if (entry.deadline == null) {
      return;
    }
    String leaseId = entry.leaseId;
    entry.deadlineTimer =
        timers.after(
            Duration.between(clock.instant(), entry.deadline),
            () ->
                onLeaseLater(
                    leaseId,
                    e ->
                        attemptFailed(
                            e,
                            new TaskError(
                                TaskError.TIMEOUT,
                                "attempt "
                                    + e.attempts
                                    + " exceeded its timeout of "
                                    + e.timeoutSeconds
                                    + "s"),
                            true)));
  }

  /**
   * Keeps a running attempt's progress report; true when it is to be published now, else its
   * publication is scheduled for the end of the interval {@code every} since the last one.
   */
  boolean progress(TaskEntry entry, double fraction, String message, Duration every) {
    Instant now = clock.instant();
    entry.progress = new TaskProgress(fraction, message, now);
    if (entry.progressFlushScheduled) {
      return false;
    }
    Instant due = entry.progressPublishedAt == null ? now : entry.progressPublishedAt.plus(every);
    if (now.isBefore(due)) {
      entry.progressFlushScheduled = true;
      String leaseId = entry.leaseId;
      timers.after(Duration.between(now, due), () -> onLeaseLater(leaseId, this::publishProgress));
      return false;
    }
    publishProgress(entry);
    return true;
  }

  private void publishProgress(TaskEntry entry) {
    entry.progressFlushScheduled = false;
    entry.progressPublishedAt = clock.instant();
    outbox.event(TaskEvent.Type.PROGRESS, entry.snapshot());
  }

  /** Ends a leased attempt that succeeded. */
  void complete(TaskEntry entry, JsonNode result, TaskUsage usage) {
    leaveQueueOrRun(entry);
    if (usage != null) {
      entry.usage = usage;
    }
    finish(entry, TaskPhase.Succeeded, result, null);
  }

  /** Ends an attempt that failed: it is retried after its backoff if it may be, else it fails. */
  void attemptFailed(TaskEntry entry, TaskError error, boolean retryable) {
    leaveQueueOrRun(entry);
    entry.error = error;
    if (retryable && entry.attempts <= entry.retryLimit && !entry.cancelRequested) {
      long backoff = (long) entry.backoffSeconds << Math.min(20, Math.max(0, entry.attempts - 1));
      Duration delay = Duration.ofSeconds(Math.min(entry.maxBackoffSeconds, backoff));
      if (entry.retryAfter != null && entry.retryAfter.compareTo(delay) > 0) {
        delay = min(entry.retryAfter, Duration.ofSeconds(entry.maxBackoffSeconds));
      }
      entry.phase = TaskPhase.Queued;
      entry.worker = null;
      entry.nextRetryAt = clock.instant().plus(delay);
      entry.queuedAt = clock.instant();
      entry.pool = queues.resolvePool(entry);
      outbox.event(TaskEvent.Type.RETRYING, entry.snapshot());
      scheduleRetry(entry, delay);
    } else {
      finish(entry, TaskPhase.Failed, null, error);
    }
    entry.retryAfter = null;
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  private void scheduleRetry(TaskEntry entry, Duration delay) {
    String uid = entry.uid;
    int attempts = entry.attempts;
    timers.after(
        delay,
        () ->
            later.mutate(
                changed -> {
                  TaskEntry current = queues.task(entry.key);
                  if (current == entry
                      && current.uid.equals(uid)
                      && current.attempts == attempts
                      && current.phase == TaskPhase.Queued
                      && current.nextRetryAt != null) {
                    current.nextRetryAt = null;
                    enqueueOrWait(current);
                    changed.add(entry.key);
                  }
                }));
  }

  /**
   * Undoes a lease the worker never confirmed or handed back: it queues again as if never leased.
   */
  void returnUnconfirmed(TaskEntry entry) {
    leaveQueueOrRun(entry);
    entry.attempts--;
    entry.worker = null;
    entry.startedAt = null;
    entry.confirmBy = null;
    entry.phase = TaskPhase.Pending;
    enqueueOrWait(entry);
  }

  /** Cancels a task not yet finished; true if that changed it. */
  boolean cancel(TaskEntry entry, String reason) {
    entry.cancelRequested = true;
    if (entry.phase.isFinished()) {
      return false;
    }
    leaveQueueOrRun(entry);
    finish(entry, TaskPhase.Cancelled, null, new TaskError("Cancelled", reason));
    return true;
  }

  /**
   * Fails a task that waited longer than its own timeout without running; {@code waitedFor} ends
   * the message ("waited more than 30s " + waitedFor).
   */
  void timedOutWaiting(TaskEntry entry, String waitedFor) {
    queues.dequeue(entry);
    finish(
        entry,
        TaskPhase.Failed,
        null,
        new TaskError(
            TaskError.TIMEOUT, "waited more than " + entry.timeoutSeconds + "s " + waitedFor));
  }

  /** The task leaves: out of its queue or running set, its lease revoked, its waiters answered. */
  void drop(TaskEntry entry) {
    queues.remove(entry);
    revoke(entry);
    outbox.ended(entry);
  }

  /** Takes a task out of its queue or running set and revokes its lease. */
  private void leaveQueueOrRun(TaskEntry entry) {
    queues.leave(entry);
    if (entry.phase == TaskPhase.Running) {
      revoke(entry);
    }
    entry.nextRetryAt = null;
  }

  private void revoke(TaskEntry entry) {
    queues.unlease(entry);
    if (entry.deadlineTimer != null) {
      entry.deadlineTimer.cancel(false);
      entry.deadlineTimer = null;
    }
    Runnable hook = entry.onRevoke;
    entry.onRevoke = null;
    if (hook != null) {
      timers.run(hook);
    }
  }

  private void finish(TaskEntry entry, TaskPhase phase, JsonNode result, TaskError error) {
    boolean wasRunning = entry.startedAt != null && entry.attempts > 0;
    entry.phase = phase;
    entry.result = result;
    entry.error = error;
    entry.completedAt = clock.instant();
    entry.pendingReason = null;
    if (phase == TaskPhase.Succeeded && entry.progress != null) {
      entry.progress = new TaskProgress(1, entry.progress.message(), entry.completedAt);
    }
    if (wasRunning) {
      queues.countFinished(entry, phase);
    }
    TaskEvent.Type type =
        switch (phase) {
          case Succeeded -> TaskEvent.Type.COMPLETED;
          case Cancelled -> TaskEvent.Type.CANCELLED;
          default -> TaskEvent.Type.FAILED;
        };
    outbox.event(type, entry.snapshot());
    outbox.ended(entry);
  }

  /** Applies a change to the task a lease holds, when a timer fires, if the lease still holds. */
  private void onLeaseLater(String leaseId, Consumer<TaskEntry> change) {
    later.mutate(
        changed -> {
          TaskEntry entry = queues.leased(leaseId);
          if (entry != null) {
            change.accept(entry);
            changed.add(entry.key);
          }
        });
  }

  /** Why a task waits Pending: the queue it needs does not exist (yet). */
  static String noPoolReason(TaskEntry entry) {
    String namespace = entry.key.namespace();
    if (entry.queue == null) {
      return "no WorkerPool for task type " + entry.taskType + " in namespace " + namespace;
    }
    return switch (entry.queue.kind()) {
      case PROVIDER ->
          "Provider "
              + entry.queue.target()
              + " does not exist in namespace "
              + namespace
              + " or is not callable (Docker and Proxmox providers take no calls)";
      case COMPUTE_ALLOCATION ->
          "no Available ComputeResource of task type "
              + entry.taskType
              + " in namespace "
              + namespace;
      case COMPUTE_RESOURCE ->
          "ComputeResource " + entry.queue.target() + " is not Available in namespace " + namespace;
      case WORKER_POOL ->
          "WorkerPool " + entry.queue.target() + " does not exist in namespace " + namespace;
    };
  }
}
