package io.vera.operator.task;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.TaskType;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledFuture;

/**
 * The dispatcher's mutable record of one task. Every field is guarded by the lock of {@link
 * TaskQueues}.
 */
final class TaskEntry {
  final TaskKey key;
  final String uid;
  final long sequence;
  final String handler;
  final TaskPriority priority;
  final TaskType taskType;

  /** The queue it must go to; null for the first WorkerPool of its task type in its namespace. */
  final PoolKey queue;

  final String description;
  final JsonNode payload;
  final JsonNode context;
  final int timeoutSeconds;
  final int retryLimit;
  final int backoffSeconds;
  final int maxBackoffSeconds;
  final Integer ttlSecondsAfterFinished;
  final Instant createdAt;

  PoolKey pool;
  TaskPhase phase = TaskPhase.Pending;
  String pendingReason;
  int attempts;
  String worker;
  String leaseId;
  Instant leaseExpiry;
  Instant deadline;

  /** Fails the attempt at its deadline; cancelled when the lease ends before. */
  ScheduledFuture<?> deadlineTimer;

  Instant queuedAt;
  Instant startedAt;
  Instant completedAt;
  Instant nextRetryAt;
  JsonNode result;
  TaskError error;
  TaskUsage usage;

  /** The running attempt's latest progress report; kept after the task finishes. */
  TaskProgress progress;

  /** When progress was last published (event and status write), to bound the rate. */
  Instant progressPublishedAt;

  /** A publication of the latest progress is scheduled for the end of the current interval. */
  boolean progressFlushScheduled;

  /** The Retry-After of the attempt failing now, honoured by its retry's delay. */
  Duration retryAfter;

  boolean cancelRequested;

  /** metadata.generation of the resource last seen, reported as status.observedGeneration. */
  Long generation;

  /**
   * A remote lease not yet confirmed by the worker's first renewal lapses at this time and the task
   * returns to the queue without using an attempt: its long-poll may have been abandoned.
   */
  Instant confirmBy;

  /** Interrupts an in-process attempt when its lease is revoked; null for remote workers. */
  Runnable onRevoke;

  TaskEntry(
      TaskKey key,
      String uid,
      long sequence,
      String handler,
      TaskPriority priority,
      TaskType taskType,
      PoolKey queue,
      String description,
      JsonNode payload,
      JsonNode context,
      int timeoutSeconds,
      int retryLimit,
      int backoffSeconds,
      int maxBackoffSeconds,
      Integer ttlSecondsAfterFinished,
      Instant createdAt) {
    this.key = key;
    this.uid = uid;
    this.sequence = sequence;
    this.handler = handler;
    this.priority = priority;
    this.taskType = taskType;
    this.queue = queue;
    this.description = description;
    this.payload = payload;
    this.context = context;
    this.timeoutSeconds = timeoutSeconds;
    this.retryLimit = retryLimit;
    this.backoffSeconds = backoffSeconds;
    this.maxBackoffSeconds = maxBackoffSeconds;
    this.ttlSecondsAfterFinished = ttlSecondsAfterFinished;
    this.createdAt = createdAt;
  }

  TaskSnapshot snapshot() {
    return new TaskSnapshot(
        key,
        uid,
        handler,
        priority,
        taskType,
        pool,
        description,
        payload,
        context,
        phase,
        pendingReason,
        attempts,
        retryLimit,
        timeoutSeconds,
        worker,
        leaseId,
        leaseExpiry,
        createdAt,
        queuedAt,
        startedAt,
        completedAt,
        nextRetryAt,
        result,
        error,
        usage,
        ttlSecondsAfterFinished,
        generation,
        progress);
  }
}
