package io.vera.operator.task;

/**
 * Result of a cancel request, from the dispatcher and from {@link TaskService#cancel}; its own type
 * so that callers of the task service need not name the dispatcher.
 */
public enum CancelOutcome {
  CANCELLED,
  ALREADY_FINISHED,
  NOT_FOUND
}
