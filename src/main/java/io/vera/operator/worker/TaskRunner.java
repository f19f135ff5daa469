package io.vera.operator.worker;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.handler.ProgressReporter;
import io.vera.operator.handler.TaskInputException;
import io.vera.operator.handler.TaskInvocation;
import io.vera.operator.task.TaskError;
import java.time.Instant;
import java.util.Optional;

/**
 * Runs one attempt of a task with the handler of its name, on the calling thread, and turns what
 * happened into an {@link AttemptOutcome}. Shared by in-process and pod workers so both report
 * failures the same way.
 */
public final class TaskRunner {
  private final HandlerRegistry handlers;

  public TaskRunner(HandlerRegistry handlers) {
    this.handlers = handlers;
  }

  AttemptOutcome run(
      String taskId,
      String handlerName,
      JsonNode payload,
      JsonNode context,
      int attempt,
      Instant deadline) {
    return run(null, taskId, handlerName, payload, context, attempt, deadline);
  }

  /** Like the other {@code run}, for an attempt inside the operator that knows its namespace. */
  AttemptOutcome run(
      String namespace,
      String taskId,
      String handlerName,
      JsonNode payload,
      JsonNode context,
      int attempt,
      Instant deadline) {
    return run(
        namespace, taskId, handlerName, payload, context, attempt, deadline, ProgressReporter.NONE);
  }

  /** Like the other {@code run}, with where the handler's progress reports go. */
  AttemptOutcome run(
      String namespace,
      String taskId,
      String handlerName,
      JsonNode payload,
      JsonNode context,
      int attempt,
      Instant deadline,
      ProgressReporter progress) {
    Optional<HandlerRegistry.RegisteredHandler> handler = handlers.find(handlerName);
    if (handler.isEmpty()) {
      return AttemptOutcome.failure(
          TaskError.UNKNOWN_HANDLER,
          "no handler named '"
              + handlerName
              + "' on this worker; it has: "
              + String.join(", ", handlers.names()),
          false);
    }
    try {
      JsonNode result =
          handler
              .get()
              .handler()
              .handle(
                  new TaskInvocation(
                      taskId,
                      handlerName,
                      payload,
                      context,
                      attempt,
                      deadline,
                      namespace,
                      progress));
      return AttemptOutcome.success(result);
    } catch (TaskInputException e) {
      return AttemptOutcome.failure(TaskError.INVALID_INPUT, e.getMessage(), false);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return AttemptOutcome.failure(TaskError.HANDLER_ERROR, "interrupted", true);
    } catch (Exception | StackOverflowError | OutOfMemoryError e) {
      String message =
          e.getMessage() == null
              ? e.getClass().getSimpleName()
              : e.getClass().getSimpleName() + ": " + e.getMessage();
      return AttemptOutcome.failure(TaskError.HANDLER_ERROR, message, true);
    }
  }
}
