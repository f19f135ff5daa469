package io.vera.operator.task;

/** A lifecycle transition, published to listeners after the dispatcher applied it. */
public record TaskEvent(Type type, TaskSnapshot task) {
  /** Transitions worth telling a client about. */
  public enum Type {
    SUBMITTED,
    STARTED,
    RETRYING,
    COMPLETED,
    FAILED,
    CANCELLED,
    /** The running attempt reported progress; published at most once a second per task. */
    PROGRESS;

    /** The legacy WebSocket event name, e.g. {@code task_completed}. */
    public String legacyName() {
      return "task_" + name().toLowerCase(java.util.Locale.ROOT);
    }
  }
}
