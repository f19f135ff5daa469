package io.vera.operator.handler.builtin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import io.vera.operator.handler.HandlerInfo;
import io.vera.operator.handler.Payloads;
import io.vera.operator.handler.TaskHandler;
import io.vera.operator.handler.TaskInvocation;

/** Sorts {@code numbers}, descending when {@code reverse} is true. */
@HandlerInfo(
    name = "compute.sort",
    timeoutSeconds = 30,
    cpuCores = 0.1,
    memoryMb = 128,
    labels = {"compute"},
    description = "payload.numbers sorted (payload.reverse for descending)")
public class ComputeSort implements TaskHandler {
  @Override
  public JsonNode handle(TaskInvocation invocation) {
    double[] sorted =
        Payloads.requireNumbers(invocation.payload(), "numbers", 1_000_000).stream()
            .mapToDouble(Double::doubleValue)
            .sorted()
            .toArray();
    boolean reverse = invocation.payload().path("reverse").asBoolean(false);
    ArrayNode result = Json.NODES.arrayNode(sorted.length);
    for (int i = 0; i < sorted.length; i++) {
      result.add(Json.number(sorted[reverse ? sorted.length - 1 - i : i]));
    }
    return result;
  }
}
