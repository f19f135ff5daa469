package io.vera.operator.compute;

import java.time.Instant;

/** Live usage of one machine; -1 where the host has no figure. */
public record MachineStats(
    double cpuPercent,
    long memoryUsageBytes,
    long memoryLimitBytes,
    long networkRxBytes,
    long networkTxBytes,
    Instant readAt) {}
