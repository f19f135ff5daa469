package io.vera.operator.pool;

import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.task.PoolKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Sizes a pool from its queue: enough workers for queued plus running tasks at the target per
 * worker, within min and max. Growing is immediate; shrinking waits until the queue has justified
 * fewer workers for the whole scale-down delay, so a burst does not make the pool flap.
 */
final class Autoscaler {
  private final Map<PoolKey, Instant> shrinkWantedSince = new ConcurrentHashMap<>();

  int desiredReplicas(
      PoolKey pool, WorkerPoolSpec spec, int current, int queued, int running, Instant now) {
    WorkerPoolSpec.Autoscaling scaling = spec.autoscaling;
    if (scaling == null || !Boolean.TRUE.equals(scaling.enabled)) {
      shrinkWantedSince.remove(pool);
      return spec.replicasOrDefault();
    }
    int min = scaling.minReplicas == null ? 0 : scaling.minReplicas;
    int max = Math.max(min, scaling.maxReplicas == null ? min : scaling.maxReplicas);
    int perWorker =
        Math.max(1, scaling.targetTasksPerWorker == null ? 1 : scaling.targetTasksPerWorker)
            * spec.concurrencyOrDefault();
    int load = queued + running;
    int wanted = clamp((load + perWorker - 1) / perWorker, min, max);
    int from = clamp(current, min, max);
    if (wanted >= from) {
      shrinkWantedSince.remove(pool);
      return wanted;
    }
    Duration delay =
        Duration.ofSeconds(
            scaling.scaleDownDelaySeconds == null ? 60 : scaling.scaleDownDelaySeconds);
    Instant since = shrinkWantedSince.computeIfAbsent(pool, k -> now);
    if (!now.isBefore(since.plus(delay))) {
      shrinkWantedSince.remove(pool);
      return wanted;
    }
    return from;
  }

  /** Whether no scale-down is waiting out its delay, so time alone will not change the size. */
  boolean settled(PoolKey pool) {
    return !shrinkWantedSince.containsKey(pool);
  }

  void forget(PoolKey pool) {
    shrinkWantedSince.remove(pool);
  }

  private static int clamp(int value, int min, int max) {
    return Math.max(min, Math.min(max, value));
  }
}
