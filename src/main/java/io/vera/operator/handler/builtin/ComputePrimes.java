package io.vera.operator.handler.builtin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.handler.HandlerInfo;
import io.vera.operator.handler.Payloads;
import io.vera.operator.handler.TaskHandler;
import io.vera.operator.handler.TaskInvocation;
import java.util.BitSet;

/** Primes up to a limit by sieve: their count, and the largest few. Checks for interruption. */
@HandlerInfo(
    name = "compute.primes",
    timeoutSeconds = 60,
    cpuCores = 1,
    memoryMb = 128,
    labels = {"compute"},
    description = "Count of primes <= limit (2 <= limit <= 50,000,000) and the last ten of them")
public class ComputePrimes implements TaskHandler {
  @Override
  public JsonNode handle(TaskInvocation invocation) throws InterruptedException {
    int limit = (int) Payloads.requireInteger(invocation.payload(), "limit", 2, 50_000_000);
    BitSet composite = new BitSet(limit + 1);
    // Progress: the sieve is the first half of the work, counting the second; measured by how far
    // each has come through the numbers (the sieve's cost per step falls as i grows, so its half is
    // measured by i squared, which tracks the numbers it has finished).
    int reportEvery = Math.max(1, limit / 100);
    int nextReport = reportEvery;
    for (int i = 2; (long) i * i <= limit; i++) {
      if (Thread.interrupted()) {
        throw new InterruptedException("interrupted while sieving");
      }
      if ((long) i * i >= nextReport) {
        invocation.progress(0.5 * i * i / limit, "sieving up to " + i * i);
        nextReport = (int) Math.min(limit, (long) i * i + reportEvery);
      }
      if (!composite.get(i)) {
        for (int j = i * i; j <= limit; j += i) {
          composite.set(j);
        }
      }
    }
    int count = 0;
    int[] last = new int[10];
    for (int i = 2; i <= limit; i++) {
      if (i % reportEvery == 0) {
        invocation.progress(0.5 + 0.5 * i / limit, "counted " + count + " primes up to " + i);
      }
      if (!composite.get(i)) {
        last[count % 10] = i;
        count++;
      }
    }
    ObjectNode result = Json.NODES.objectNode();
    result.put("limit", limit);
    result.put("count", count);
    ArrayNode largest = result.putArray("largest");
    for (int k = Math.max(0, count - 10); k < count; k++) {
      largest.add(last[k % 10]);
    }
    return result;
  }
}
