package io.vera.operator.handler.builtin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.handler.HandlerInfo;
import io.vera.operator.handler.Payloads;
import io.vera.operator.handler.TaskHandler;
import io.vera.operator.handler.TaskInputException;
import io.vera.operator.handler.TaskInvocation;
import java.util.List;

/** Count, sum, mean, median, min, max and population standard deviation of {@code numbers}. */
@HandlerInfo(
    name = "compute.stats",
    timeoutSeconds = 30,
    cpuCores = 0.1,
    memoryMb = 128,
    labels = {"compute"},
    description = "Descriptive statistics of payload.numbers")
public class ComputeStats implements TaskHandler {
  @Override
  public JsonNode handle(TaskInvocation invocation) {
    List<Double> numbers = Payloads.requireNumbers(invocation.payload(), "numbers", 1_000_000);
    if (numbers.isEmpty()) {
      throw new TaskInputException("payload field 'numbers' must not be empty");
    }
    double[] sorted = numbers.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    double sum = 0;
    for (double v : sorted) {
      sum += v;
    }
    double mean = sum / sorted.length;
    double squares = 0;
    for (double v : sorted) {
      squares += (v - mean) * (v - mean);
    }
    int mid = sorted.length / 2;
    double median = sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    ObjectNode result = Json.NODES.objectNode();
    result.put("count", sorted.length);
    result.set("sum", Json.number(sum));
    result.put("mean", mean);
    result.set("median", Json.number(median));
    result.set("min", Json.number(sorted[0]));
    result.set("max", Json.number(sorted[sorted.length - 1]));
    result.put("stddev", Math.sqrt(squares / sorted.length));
    return result;
  }
}
