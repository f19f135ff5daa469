package io.vera.operator.handler.builtin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.handler.HandlerInfo;
import io.vera.operator.handler.Payloads;
import io.vera.operator.handler.TaskHandler;
import io.vera.operator.handler.TaskInputException;
import io.vera.operator.handler.TaskInvocation;

/** Sleeps for {@code seconds} (interruptibly): a long task for timeout, cancel and lease tests. */
@HandlerInfo(
    name = "sleep",
    timeoutSeconds = 600,
    maxRetries = 0,
    cpuCores = 0.01,
    memoryMb = 16,
    labels = {"test"},
    description = "Sleeps payload.seconds (0-3600), then returns how long it slept")
public class Sleep implements TaskHandler {
  @Override
  public JsonNode handle(TaskInvocation invocation) throws InterruptedException {
    double seconds = Payloads.requireNumber(invocation.payload(), "seconds");
    if (seconds < 0 || seconds > 3600) {
      throw new TaskInputException(
          "payload field 'seconds' must be between 0 and 3600, got " + seconds);
    }
    long started = System.nanoTime();
    Thread.sleep((long) (seconds * 1000));
    ObjectNode result = Json.NODES.objectNode();
    result.put("slept_seconds", (System.nanoTime() - started) / 1e9);
    return result;
  }
}
