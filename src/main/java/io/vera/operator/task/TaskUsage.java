package io.vera.operator.task;

/**
 * What a provider call made by a task used, written to {@code status.usage} so a task's own tokens,
 * cost and latency are visible beside its result.
 *
 * @param costUsd null when the call could not be priced
 */
public record TaskUsage(long tokensIn, long tokensOut, Double costUsd, double latencyMs) {}
