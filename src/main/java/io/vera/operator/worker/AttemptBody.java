package io.vera.operator.worker;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.task.TaskUsage;

/**
 * What one kind of in-process worker does with a leased attempt (run a handler, exec a command in a
 * ComputeResource, call a Provider); {@link AttemptLoop} does the leasing, revocation and reporting
 * around it.
 */
@FunctionalInterface
public interface AttemptBody {
  /**
   * Runs the attempt on the calling thread.
   *
   * @return the task's result
   * @throws AttemptFailure why the attempt failed and whether a retry could help
   * @throws InterruptedException the attempt was revoked or its worker aborted; nothing is reported
   */
  Result run(Attempt attempt) throws AttemptFailure, InterruptedException;

  /**
   * A successful attempt's result.
   *
   * @param usage the provider usage the attempt recorded, or null
   */
  record Result(JsonNode value, TaskUsage usage) {
    public static Result of(JsonNode value) {
      return new Result(value, null);
    }
  }
}
