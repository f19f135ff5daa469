package io.vera.operator.handler;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Work a worker can run. Implementations carry {@link HandlerInfo} and are listed in {@code
 * META-INF/services/io.vera.operator.handler.TaskHandler}, so a jar on the worker's classpath adds
 * handlers. A handler must return promptly when its thread is interrupted (timeout or cancel).
 */
public interface TaskHandler {
  /**
   * Runs one attempt of a task and returns its JSON result.
   *
   * @throws TaskInputException when the payload is unusable; the task then fails without retries
   * @throws Exception any other failure, retried as the task's retry policy allows
   */
  JsonNode handle(TaskInvocation invocation) throws Exception;
}
