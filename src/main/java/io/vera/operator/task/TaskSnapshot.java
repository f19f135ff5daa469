package io.vera.operator.task;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.TaskType;
import java.time.Instant;

/** An immutable copy of a task's state at one moment, for readers outside the dispatcher. */
public record TaskSnapshot(
    TaskKey key,
    String uid,
    String handler,
    TaskPriority priority,
    TaskType taskType,
    PoolKey pool,
    String description,
    JsonNode payload,
    JsonNode context,
    TaskPhase phase,
    String pendingReason,
    int attempts,
    int maxRetries,
    int timeoutSeconds,
    String worker,
    String leaseId,
    Instant leaseExpiry,
    Instant createdAt,
    Instant queuedAt,
    Instant startedAt,
    Instant completedAt,
    Instant nextRetryAt,
    JsonNode result,
    TaskError error,
    TaskUsage usage,
    Integer ttlSecondsAfterFinished,
    Long observedGeneration,
    TaskProgress progress) {}
