package io.vera.operator.handler.builtin;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.handler.HandlerInfo;
import io.vera.operator.handler.TaskHandler;
import io.vera.operator.handler.TaskInvocation;

/** Returns its payload unchanged: a no-op task for tests and benchmarks. */
@HandlerInfo(
    name = "echo",
    timeoutSeconds = 30,
    cpuCores = 0.01,
    memoryMb = 16,
    labels = {"test"},
    description = "Returns the payload")
public class Echo implements TaskHandler {
  @Override
  public JsonNode handle(TaskInvocation invocation) {
    return invocation.payload();
  }
}
