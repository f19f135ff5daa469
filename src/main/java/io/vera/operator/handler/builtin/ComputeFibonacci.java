package io.vera.operator.handler.builtin;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.handler.HandlerInfo;
import io.vera.operator.handler.Payloads;
import io.vera.operator.handler.TaskHandler;
import io.vera.operator.handler.TaskInvocation;
import java.math.BigInteger;

/** The n-th Fibonacci number, exact (as a string beyond 2^53 so JSON clients keep every digit). */
@HandlerInfo(
    name = "compute.fibonacci",
    timeoutSeconds = 30,
    cpuCores = 0.1,
    memoryMb = 64,
    labels = {"compute"},
    description = "Fibonacci number n (0 <= n <= 10000)")
public class ComputeFibonacci implements TaskHandler {
  @Override
  public JsonNode handle(TaskInvocation invocation) {
    long n = Payloads.requireInteger(invocation.payload(), "n", 0, 10_000);
    BigInteger a = BigInteger.ZERO;
    BigInteger b = BigInteger.ONE;
    for (long i = 0; i < n; i++) {
      BigInteger next = a.add(b);
      a = b;
      b = next;
    }
    return a.bitLength() < 53
        ? Json.NODES.numberNode(a.longValue())
        : Json.NODES.textNode(a.toString());
  }
}
