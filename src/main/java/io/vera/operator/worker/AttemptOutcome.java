package io.vera.operator.worker;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.task.TaskError;

/** How one attempt ended: a result, or an error and whether a retry could help. */
record AttemptOutcome(JsonNode result, TaskError error, boolean retryable) {
  static AttemptOutcome success(JsonNode result) {
    return new AttemptOutcome(result, null, false);
  }

  static AttemptOutcome failure(String type, String message, boolean retryable) {
    return new AttemptOutcome(null, new TaskError(type, message), retryable);
  }

  public boolean succeeded() {
    return error == null;
  }
}
