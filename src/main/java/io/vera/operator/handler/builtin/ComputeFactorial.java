package io.vera.operator.handler.builtin;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.handler.HandlerInfo;
import io.vera.operator.handler.Payloads;
import io.vera.operator.handler.TaskHandler;
import io.vera.operator.handler.TaskInvocation;
import java.math.BigInteger;

/** n! exact (as a string beyond 2^53). */
@HandlerInfo(
    name = "compute.factorial",
    timeoutSeconds = 30,
    cpuCores = 0.1,
    memoryMb = 64,
    labels = {"compute"},
    description = "Factorial of n (0 <= n <= 2000)")
public class ComputeFactorial implements TaskHandler {
  @Override
  public JsonNode handle(TaskInvocation invocation) {
    long n = Payloads.requireInteger(invocation.payload(), "n", 0, 2000);
    BigInteger product = BigInteger.ONE;
    for (long i = 2; i <= n; i++) {
      product = product.multiply(BigInteger.valueOf(i));
    }
    return product.bitLength() < 53
        ? Json.NODES.numberNode(product.longValue())
        : Json.NODES.textNode(product.toString());
  }
}
