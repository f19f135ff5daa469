package io.vera.operator.task;

import io.vera.operator.api.TaskType;

/**
 * What the dispatcher needs to know of a pool: which tasks it takes and when leasing pauses.
 *
 * @param cpuThresholdPercent leasing pauses while CPU use is at or above it; null or 100 never
 *     pauses
 */
public record PoolSettings(
    TaskType taskType, boolean suspended, Double cpuThresholdPercent, int leaseSeconds) {

  boolean pausesAt(double cpuPercent) {
    return cpuThresholdPercent != null
        && cpuThresholdPercent < 100.0
        && cpuPercent >= cpuThresholdPercent;
  }
}
