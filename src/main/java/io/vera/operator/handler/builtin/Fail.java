package io.vera.operator.handler.builtin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.handler.HandlerInfo;
import io.vera.operator.handler.TaskHandler;
import io.vera.operator.handler.TaskInvocation;

/**
 * Fails its first {@code failAttempts} attempts (all of them when absent) with {@code message},
 * then succeeds: exercises retries and failure reporting.
 */
@HandlerInfo(
    name = "fail",
    timeoutSeconds = 30,
    maxRetries = 3,
    cpuCores = 0.01,
    memoryMb = 16,
    labels = {"test"},
    description = "Fails the first payload.failAttempts attempts with payload.message")
public class Fail implements TaskHandler {
  @Override
  public JsonNode handle(TaskInvocation invocation) {
    JsonNode payload = invocation.payload();
    int failAttempts = payload.path("failAttempts").asInt(Integer.MAX_VALUE);
    if (invocation.attempt() <= failAttempts) {
      throw new IllegalStateException(payload.path("message").asText("requested failure"));
    }
    ObjectNode result = Json.NODES.objectNode();
    result.put("attempt", invocation.attempt());
    return result;
  }
}
