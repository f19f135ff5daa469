package io.vera.operator.task;

/**
 * What feeds a queue, and so who leases from it. A queue's name carries its kind as a prefix with a
 * colon, which no Kubernetes object name can hold, so the queues of WorkerPools (plain names) never
 * collide with the others; the prefixed name is what {@code status.pool} records.
 */
public enum QueueKind {
  /** A WorkerPool's queue; its workers (threads or pods) lease from it. */
  WORKER_POOL(""),
  /** Tasks that name one ComputeResource in {@code resourceRef.name}. */
  COMPUTE_RESOURCE("computeresource:"),
  /** Tasks that let the operator pick any fitting ComputeResource of a task type. */
  COMPUTE_ALLOCATION("computeresource-allocation:"),
  /** Calls through one Provider, made by the operator itself. */
  PROVIDER("provider:");

  private final String prefix;

  QueueKind(String prefix) {
    this.prefix = prefix;
  }

  String prefix() {
    return prefix;
  }

  /** The kind a queue name carries. */
  static QueueKind of(String queueName) {
    for (QueueKind kind : values()) {
      if (kind != WORKER_POOL && queueName.startsWith(kind.prefix)) {
        return kind;
      }
    }
    return WORKER_POOL;
  }
}
