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
    description =
        "Sleeps payload.seconds (0-3600), then returns how long it slept, reporting progress each second")
public class Sleep implements TaskHandler {
  @Override
  public JsonNode handle(TaskInvocation invocation) throws InterruptedException {
    double seconds = Payloads.requireNumber(invocation.payload(), "seconds");
    if (seconds < 0 || seconds > 3600) {
      throw new TaskInputException(
          "payload field 'seconds' must be between 0 and 3600, got " + seconds);
    }
    long started = System.nanoTime();
    long total = (long) (seconds * 1000);
    // Wakes once a second to report how much of the sleep is done.
    for (long slept = 0; slept < total; ) {
      long step = Math.min(1000, total - slept);
      Thread.sleep(step);
      slept += step;
      invocation.progress(
          (double) slept / total, String.format("slept %.0f of %.0f s", slept / 1000.0, seconds));
    }
    ObjectNode result = Json.NODES.objectNode();
    result.put("slept_seconds", (System.nanoTime() - started) / 1e9);
    return result;
  }
}
