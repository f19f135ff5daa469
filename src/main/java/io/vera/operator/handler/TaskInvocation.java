package io.vera.operator.handler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import java.time.Instant;

/**
 * One attempt of a task as a handler sees it.
 *
 * @param attempt 1 for the first run; raised on every retry and after a lost lease
 * @param deadline when the attempt is interrupted for exceeding its timeout
 * @param namespace the task's namespace when the attempt runs inside the operator, so a handler
 *     that uses the operator's services (a Provider) stays within it; null in worker pods
 */
public record TaskInvocation(
    String taskId,
    String handler,
    JsonNode payload,
    JsonNode context,
    int attempt,
    Instant deadline,
    String namespace) {

  public TaskInvocation(
      String taskId,
      String handler,
      JsonNode payload,
      JsonNode context,
      int attempt,
      Instant deadline) {
    this(taskId, handler, payload, context, attempt, deadline, null);
  }

  public TaskInvocation {
    payload = payload == null ? NullNode.getInstance() : payload;
    context = context == null ? NullNode.getInstance() : context;
  }
}
