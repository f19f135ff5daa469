package io.vera.operator.task;

import java.util.Optional;

/**
 * How the owners of queues (the WorkerPool reconciler, the ComputeResource and Provider workers)
 * open, update and close them, read their counts and hear of their tasks. A queue exists from its
 * first {@link #upsertPool} to {@link #removePool}; tasks for a queue that does not exist wait
 * Pending and say so.
 */
public interface PoolRegistry {

  /**
   * Registers or updates a pool. The baseline counters carry the totals a previous operator process
   * wrote to the pool's status, so they survive restarts.
   */
  void upsertPool(PoolKey key, PoolSettings settings, long succeededBaseline, long failedBaseline);

  /** Forgets a pool; its queued tasks wait as Pending until a pool for them appears. */
  void removePool(PoolKey key);

  /** A registered pool's counts, as its status reports them. */
  Optional<TaskQueueView.PoolStats> poolStats(PoolKey key);

  /** Told of every task transition after it happened, in order, outside the dispatcher's lock. */
  void addListener(TaskListener listener);
}
