package io.vera.operator.task;

import io.vera.operator.api.TaskType;

/**
 * A queue's identity: namespace, what feeds it, and the name of that (a WorkerPool, a
 * ComputeResource, a task type for allocation, a Provider). {@link #name()} is the queue's name as
 * {@code status.pool} records it.
 */
public record PoolKey(String namespace, QueueKind kind, String target) {

  /** A queue by its recorded name: a WorkerPool's name, or a name with its kind's prefix. */
  public PoolKey(String namespace, String name) {
    this(namespace, QueueKind.of(name), name.substring(QueueKind.of(name).prefix().length()));
  }

  /** The queue of tasks that name one ComputeResource in {@code resourceRef.name}. */
  public static PoolKey ofComputeResource(String namespace, String resourceName) {
    return new PoolKey(namespace, QueueKind.COMPUTE_RESOURCE, resourceName);
  }

  /** The queue of tasks that let the operator pick any fitting ComputeResource of a task type. */
  public static PoolKey ofAllocation(String namespace, TaskType taskType) {
    return new PoolKey(namespace, QueueKind.COMPUTE_ALLOCATION, taskType.name());
  }

  /** The queue of tasks that call one Provider ({@code providerRef.name}). */
  public static PoolKey ofProvider(String namespace, String providerName) {
    return new PoolKey(namespace, QueueKind.PROVIDER, providerName);
  }

  /** The queue's name as {@code status.pool} records it. */
  public String name() {
    return kind.prefix() + target;
  }

  /** Whether this queue feeds operator-side provider calls rather than a WorkerPool. */
  public boolean isProvider() {
    return kind == QueueKind.PROVIDER;
  }

  /** Whether this queue feeds ComputeResources rather than a WorkerPool. */
  public boolean isCompute() {
    return kind == QueueKind.COMPUTE_RESOURCE || kind == QueueKind.COMPUTE_ALLOCATION;
  }

  @Override
  public String toString() {
    return namespace + "/" + name();
  }
}
