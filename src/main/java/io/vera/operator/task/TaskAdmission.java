package io.vera.operator.task;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.api.VeraTaskStatus;
import io.vera.operator.handler.HandlerMetadata;
import io.vera.operator.handler.HandlerRegistry;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Admission of a VeraTask: what its spec asks for, with the defaults of its handler (or the
 * operator's) filled in, the queue it goes to decided, and what no retry can fix refused. It holds
 * no dispatcher state, so it also tells how a resource the dispatcher does not hold reads ({@link
 * #view}).
 */
public final class TaskAdmission {

  /**
   * The handler of tasks with a {@code resourceRef}: their command runs in a ComputeResource, and
   * their payload is the target ({@code command}, {@code workdir}, {@code env}).
   */
  public static final String RESOURCE_EXEC_HANDLER = "resource.exec";

  /**
   * The handler of tasks with a {@code providerRef}: a call through the Provider's gateway, made by
   * the operator itself (it alone holds the credentials) from the Provider's own queue ({@link
   * PoolKey#ofProvider}). Their payload is the target ({@code name}, {@code prompt}, {@code model},
   * {@code params}) plus {@code task_name} (spec.handler) and {@code input} (spec.payload).
   */
  public static final String PROVIDER_CALL_HANDLER = "provider.call";

  private final HandlerRegistry handlers;
  private final int defaultTimeoutSeconds;
  private final int defaultRetries;
  private final Clock clock;
  private final ObjectMapper mapper = new ObjectMapper();

  /** Submission order among tasks created in the same instant; the queue's last tie-breaker. */
  private final AtomicLong sequence = new AtomicLong();

  /**
   * @param defaultTimeoutSeconds and {@code defaultRetries}: for tasks whose handler the operator
   *     does not know (it may live only in a worker image)
   */
  TaskAdmission(
      HandlerRegistry handlers, int defaultTimeoutSeconds, int defaultRetries, Clock clock) {
    this.handlers = handlers;
    this.defaultTimeoutSeconds = defaultTimeoutSeconds;
    this.defaultRetries = defaultRetries;
    this.clock = clock;
  }

  /** A task entry for a resource: its spec with defaults applied and its queue decided. */
  TaskEntry admit(TaskKey key, VeraTask resource) {
    VeraTaskSpec spec = resource.getSpec() == null ? new VeraTaskSpec() : resource.getSpec();
    VeraTaskSpec.ResourceTarget target = spec.resourceRef;
    VeraTaskSpec.ProviderTarget call = target == null ? spec.providerRef : null;
    String handler =
        target != null
            ? RESOURCE_EXEC_HANDLER
            : call != null ? PROVIDER_CALL_HANDLER : spec.handler;
    Optional<HandlerMetadata> meta =
        Optional.ofNullable(handler).flatMap(handlers::find).map(h -> h.metadata());
    TaskPriority priority =
        spec.priority != null
            ? spec.priority
            : meta.map(HandlerMetadata::priority).orElse(TaskPriority.NORMAL);
    TaskType type =
        spec.taskType != null
            ? spec.taskType
            : meta.map(HandlerMetadata::taskType).orElse(TaskType.GENERAL);
    int timeout =
        spec.timeoutSeconds != null
            ? spec.timeoutSeconds
            : meta.map(HandlerMetadata::timeoutSeconds).orElse(defaultTimeoutSeconds);
    VeraTaskSpec.RetryPolicy retries = spec.retries;
    int retryLimit =
        retries != null && retries.limit != null
            ? retries.limit
            : meta.map(HandlerMetadata::maxRetries).orElse(defaultRetries);
    int backoff = retries != null && retries.backoffSeconds != null ? retries.backoffSeconds : 1;
    int maxBackoff =
        retries != null && retries.maxBackoffSeconds != null ? retries.maxBackoffSeconds : 300;
    String created = resource.getMetadata().getCreationTimestamp();
    Instant createdAt = created == null ? clock.instant() : Instant.parse(created);
    return new TaskEntry(
        key,
        resource.getMetadata().getUid(),
        sequence.incrementAndGet(),
        handler,
        priority,
        type,
        queue(key.namespace(), spec, type),
        spec.description,
        target != null
            ? mapper.valueToTree(target)
            : call != null ? callPayload(spec) : spec.payload,
        spec.context,
        Math.max(1, timeout),
        Math.max(0, retryLimit),
        Math.max(0, backoff),
        Math.max(0, maxBackoff),
        spec.ttlSecondsAfterFinished,
        createdAt);
  }

  /**
   * The queue a task must go to: its named ComputeResource's, or its task type's allocation queue
   * (resource tasks); its Provider's (provider calls); its poolRef's; null for the first WorkerPool
   * of its task type.
   */
  private static PoolKey queue(String namespace, VeraTaskSpec spec, TaskType type) {
    VeraTaskSpec.ResourceTarget target = spec.resourceRef;
    if (target != null) {
      return target.name == null || target.name.isBlank()
          ? PoolKey.ofAllocation(namespace, type)
          : PoolKey.ofComputeResource(namespace, target.name);
    }
    if (spec.providerRef != null) {
      return PoolKey.ofProvider(namespace, spec.providerRef.name);
    }
    return spec.poolRef == null || spec.poolRef.isBlank()
        ? null
        : new PoolKey(namespace, QueueKind.WORKER_POOL, spec.poolRef);
  }

  /** A provider task's payload: its target, the legacy task name and the handler input. */
  private JsonNode callPayload(VeraTaskSpec spec) {
    ObjectNode payload = mapper.valueToTree(spec.providerRef);
    if (spec.handler != null) {
      payload.put("task_name", spec.handler);
    }
    if (spec.payload != null) {
      payload.set("input", spec.payload);
    }
    return payload;
  }

  /** Why a task can never run, whatever happens later; empty when it can. */
  Optional<TaskError> invalid(TaskEntry entry) {
    if (entry.handler == null || entry.handler.isBlank()) {
      return Optional.of(
          new TaskError(
              TaskError.INVALID_INPUT,
              "spec.handler is required unless spec.resourceRef or spec.providerRef is set"));
    }
    return Optional.empty();
  }

  /**
   * How a task resource the dispatcher does not hold reads: its spec with the defaults admission
   * would apply, and the state its status records. Nothing is queued or kept.
   */
  TaskSnapshot view(VeraTask resource) {
    TaskKey key =
        new TaskKey(resource.getMetadata().getNamespace(), resource.getMetadata().getName());
    TaskEntry entry = admit(key, resource);
    VeraTaskStatus status = resource.getStatus();
    entry.generation = resource.getMetadata().getGeneration();
    if (status != null) {
      entry.phase = status.phase == null ? TaskPhase.Pending : status.phase;
      entry.pool = status.pool == null ? null : new PoolKey(key.namespace(), status.pool);
      entry.worker = status.worker;
      entry.nextRetryAt = parse(status.nextRetryTime);
      readRecorded(entry, status);
      entry.generation =
          status.observedGeneration == null ? entry.generation : status.observedGeneration;
    }
    return entry.snapshot();
  }

  /** Copies what a status records of past attempts (counts, times, result, usage, error). */
  static void readRecorded(TaskEntry entry, VeraTaskStatus status) {
    if (status == null) {
      return;
    }
    entry.attempts = status.attempts == null ? 0 : status.attempts;
    entry.queuedAt = parse(status.queuedTime);
    entry.startedAt = parse(status.startTime);
    entry.completedAt = parse(status.completionTime);
    entry.result = status.result;
    entry.usage = usage(status.usage);
    entry.error =
        status.error == null ? null : new TaskError(status.error.type, status.error.message);
  }

  private static TaskUsage usage(VeraTaskStatus.Usage usage) {
    return usage == null
        ? null
        : new TaskUsage(
            usage.tokensIn == null ? 0 : usage.tokensIn,
            usage.tokensOut == null ? 0 : usage.tokensOut,
            usage.costUsd,
            usage.latencyMs == null ? 0 : usage.latencyMs);
  }

  /** A recorded time, or null when absent or unreadable (a status edited by hand). */
  static Instant parse(String time) {
    try {
      return time == null ? null : Instant.parse(time);
    } catch (RuntimeException e) {
      return null;
    }
  }
}
