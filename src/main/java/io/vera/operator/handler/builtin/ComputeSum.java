package io.vera.operator.handler.builtin;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.api.TaskType;
import io.vera.operator.handler.HandlerInfo;
import io.vera.operator.handler.Payloads;
import io.vera.operator.handler.TaskHandler;
import io.vera.operator.handler.TaskInvocation;

/** Adds {@code a} and {@code b}, or every item of {@code numbers}: the legacy guide's example. */
@HandlerInfo(
    name = "compute.sum",
    taskType = TaskType.GENERAL,
    timeoutSeconds = 30,
    cpuCores = 0.1,
    memoryMb = 64,
    labels = {"compute"},
    description = "Sum of payload a and b, or of the array payload.numbers")
public class ComputeSum implements TaskHandler {
  @Override
  public JsonNode handle(TaskInvocation invocation) {
    JsonNode payload = invocation.payload();
    if (payload.has("numbers")) {
      return Json.number(
          Payloads.requireNumbers(payload, "numbers", 1_000_000).stream()
              .mapToDouble(Double::doubleValue)
              .sum());
    }
    return Json.number(Payloads.requireNumber(payload, "a") + Payloads.requireNumber(payload, "b"));
  }
}
