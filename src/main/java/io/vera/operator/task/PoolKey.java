package io.vera.operator.task;

import io.vera.operator.api.TaskType;

/**
 * A queue's identity: namespace and name. Most queues belong to a WorkerPool of that name; queues
 * of tasks that run in ComputeResources have names no Kubernetes object can have (they contain a
 * colon), so the two never collide.
 */
public record PoolKey(String namespace, String name) {
  private static final String RESOURCE_PREFIX = "computeresource:";
  private static final String ALLOCATION_PREFIX = "computeresource-allocation:";
  private static final String PROVIDER_PREFIX = "provider:";

  /** The queue of tasks that name one ComputeResource in {@code resourceRef.name}. */
  public static PoolKey ofComputeResource(String namespace, String resourceName) {
    return new PoolKey(namespace, RESOURCE_PREFIX + resourceName);
  }

  /** The queue of tasks that let the operator pick any fitting ComputeResource of a task type. */
  public static PoolKey ofAllocation(String namespace, TaskType taskType) {
    return new PoolKey(namespace, ALLOCATION_PREFIX + taskType.name());
  }

  /** The queue of tasks that call one Provider ({@code providerRef.name}). */
  public static PoolKey ofProvider(String namespace, String providerName) {
    return new PoolKey(namespace, PROVIDER_PREFIX + providerName);
  }

  /** Whether this queue feeds operator-side provider calls rather than a WorkerPool. */
  public boolean isProvider() {
    return name.startsWith(PROVIDER_PREFIX);
  }

  /** Whether this queue feeds ComputeResources rather than a WorkerPool. */
  public boolean isCompute() {
    return name.startsWith(RESOURCE_PREFIX) || name.startsWith(ALLOCATION_PREFIX);
  }

  @Override
  public String toString() {
    return namespace + "/" + name;
  }
}
