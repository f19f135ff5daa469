package io.vera.operator.task;

import io.vera.operator.api.TaskPhase;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dispatcher's once-a-second checks, each run as one change under the lock: leases that were
 * never confirmed or stopped being renewed, tasks starved by a CPU threshold, and resource tasks
 * that no ComputeResource took in time. Each adds the tasks it changed to the list it is given.
 */
final class TaskChecks {
  private static final Logger LOG = LoggerFactory.getLogger(TaskChecks.class);

  private final TaskQueues queues;
  private final TaskTransitions transitions;
  private final Clock clock;

  TaskChecks(TaskQueues queues, TaskTransitions transitions, Clock clock) {
    this.queues = queues;
    this.transitions = transitions;
    this.clock = clock;
  }

  /**
   * Remote leases never confirmed queue again unharmed; attempts whose worker stopped renewing are
   * failed (and retried as their policy allows).
   */
  void expireLeases(List<TaskKey> changed) {
    Instant now = clock.instant();
    for (TaskEntry entry : queues.leased()) {
      if (entry.confirmBy != null && entry.confirmBy.isBefore(now)) {
        LOG.info(
            "worker {} never confirmed its lease of task {}; queueing it again",
            entry.worker,
            entry.key);
        transitions.returnUnconfirmed(entry);
        changed.add(entry.key);
      } else if (entry.onRevoke == null
          && entry.leaseExpiry != null
          && entry.leaseExpiry.isBefore(now)) {
        LOG.info(
            "lease of task {} held by {} expired; the attempt counts as failed",
            entry.key,
            entry.worker);
        transitions.attemptFailed(
            entry,
            new TaskError(
                TaskError.LEASE_EXPIRED, "worker " + entry.worker + " stopped renewing its lease"),
            true);
        changed.add(entry.key);
      }
    }
  }

  /**
   * While a pool is paused by its CPU threshold, queued tasks that waited longer than their own
   * timeout fail with reason Timeout, so a threshold the machine never drops below cannot hold a
   * task forever.
   */
  void failTasksStarvedByCpu(List<TaskKey> changed) {
    for (TaskEntry entry : queues.starvedByCpu(clock.instant())) {
      transitions.timedOutWaiting(
          entry,
          "in queue while CPU use stayed at or above the pool's threshold of "
              + queues.cpuThresholdPercent(entry)
              + "%");
      changed.add(entry.key);
    }
  }

  /**
   * A resource task that waited for a ComputeResource longer than its own timeout (counted from
   * when it was last queued, else created) fails with reason Timeout and says what it waited for,
   * so a {@code minimum} no resource can meet, or a resource that never becomes Available, cannot
   * hold it Pending forever.
   */
  void failResourceTasksNeverPlaced(List<TaskKey> changed) {
    Instant now = clock.instant();
    for (TaskEntry entry : queues.tasks()) {
      Instant waitingSince = entry.queuedAt != null ? entry.queuedAt : entry.createdAt;
      if (entry.queue == null
          || !entry.queue.isCompute()
          || (entry.phase != TaskPhase.Pending && entry.phase != TaskPhase.Queued)
          || waitingSince == null
          || !waitingSince.plusSeconds(entry.timeoutSeconds).isBefore(now)) {
        continue;
      }
      String waitedFor =
          entry.pendingReason != null
              ? entry.pendingReason
              : "no ComputeResource covering its minimum became free";
      transitions.timedOutWaiting(entry, "for a resource: " + waitedFor);
      changed.add(entry.key);
    }
  }
}
