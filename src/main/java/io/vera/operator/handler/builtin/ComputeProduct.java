package io.vera.operator.handler.builtin;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.handler.HandlerInfo;
import io.vera.operator.handler.Payloads;
import io.vera.operator.handler.TaskHandler;
import io.vera.operator.handler.TaskInvocation;

/** Multiplies {@code a} by {@code b}. */
@HandlerInfo(
    name = "compute.multiply",
    timeoutSeconds = 30,
    cpuCores = 0.1,
    memoryMb = 64,
    labels = {"compute"},
    description = "Product of payload a and b")
public class ComputeProduct implements TaskHandler {
  @Override
  public JsonNode handle(TaskInvocation invocation) {
    JsonNode payload = invocation.payload();
    return Json.number(Payloads.requireNumber(payload, "a") * Payloads.requireNumber(payload, "b"));
  }
}
