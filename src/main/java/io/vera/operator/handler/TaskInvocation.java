package io.vera.operator.handler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import java.time.Instant;

/**
 * One attempt of a task as a handler sees it.
 *
 * @param attempt 1 for the first run; raised on every retry and after a lost lease
 * @param deadline when the attempt is interrupted for exceeding its timeout
 */
public record TaskInvocation(
    String taskId,
    String handler,
    JsonNode payload,
    JsonNode context,
    int attempt,
    Instant deadline) {

  public TaskInvocation {
    payload = payload == null ? NullNode.getInstance() : payload;
    context = context == null ? NullNode.getInstance() : context;
  }
}
