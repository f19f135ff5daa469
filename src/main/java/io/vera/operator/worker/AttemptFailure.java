package io.vera.operator.worker;

import io.vera.operator.task.TaskError;
import java.time.Duration;

/** Why an attempt failed, as its {@link AttemptBody} classified it for the dispatcher. */
public final class AttemptFailure extends Exception {
  private final TaskError error;
  private final boolean retryable;
  private final Duration retryAfter;

  public AttemptFailure(TaskError error, boolean retryable) {
    this(error, retryable, null);
  }

  /**
   * @param retryAfter the least wait before a retry (an upstream's Retry-After), or null
   */
  public AttemptFailure(TaskError error, boolean retryable, Duration retryAfter) {
    super(error.type() + ": " + error.message(), null, false, false);
    this.error = error;
    this.retryable = retryable;
    this.retryAfter = retryAfter;
  }

  public TaskError error() {
    return error;
  }

  public boolean retryable() {
    return retryable;
  }

  public Duration retryAfter() {
    return retryAfter;
  }
}
