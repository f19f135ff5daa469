package io.vera.operator.task;

import io.vera.operator.api.VeraTask;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;

/**
 * What the facade, the dashboard, metrics and the compute autoscaler read of the queues and the
 * tasks in flight, and how they hear of its changes. Nothing here changes them; every answer is a
 * copy taken under the dispatcher's lock.
 */
public interface TaskQueueView {

  /** Counts a pool reports in its status. */
  record PoolStats(
      int queued, int running, long succeeded, long failed, Long oldestQueuedAgeSeconds) {}

  /** Every queue known: WorkerPools', ComputeResources' and Providers'. */
  List<PoolKey> pools();

  Optional<PoolStats> poolStats(PoolKey key);

  /** The queued tasks of a pool in the order they will be leased (position 1 is next). */
  List<TaskSnapshot> queueOrder(PoolKey key);

  Optional<TaskSnapshot> get(TaskKey key);

  /** Tasks in flight (and just finished) that match a filter, newest first. */
  List<TaskSnapshot> list(Predicate<TaskSnapshot> filter);

  /**
   * Tasks not yet finished that match a filter, newest first; cheaper than {@link #list} for a
   * caller that looks often, since finished tasks are passed over before they are copied.
   */
  List<TaskSnapshot> unfinished(Predicate<TaskSnapshot> filter);

  /**
   * How a task resource the dispatcher does not hold reads: its spec with the defaults admission
   * would apply, and the state its status records.
   */
  TaskSnapshot view(VeraTask resource);

  /**
   * Completes when the task finishes or leaves the dispatcher (with null if it never held it); at
   * once if it already has. Waiting changes nothing of the task.
   */
  CompletableFuture<TaskSnapshot> awaitFinished(TaskKey key);

  /** Tasks held: the queued, running and waiting ones, and the just finished. */
  int size();

  /** Told of every task transition after it happened, in order, outside the dispatcher's lock. */
  void addListener(TaskListener listener);
}
