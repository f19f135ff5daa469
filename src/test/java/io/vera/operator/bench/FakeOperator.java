package io.vera.operator.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpStatus;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * An in-memory stand-in for the operator's submit, result and system-metrics endpoints.
 *
 * <p>Task names steer the outcome: {@code echo} is running on its first result poll and completed
 * on the second, {@code fail} fails, {@code hang} stays running, {@code misspelled} answers a
 * status the API does not have.
 */
final class FakeOperator implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final int failEverySubmit;
  private final boolean reportsHeap;
  private final AtomicInteger submits = new AtomicInteger();
  private final Map<String, String> names = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> polls = new ConcurrentHashMap<>();
  private final Set<String> resultTimeouts = ConcurrentHashMap.newKeySet();
  private final AtomicReference<JsonNode> lastSubmitBody = new AtomicReference<>();
  private final Javalin app;

  /**
   * @param failEverySubmit answer every n-th submit with 503; 0 never
   * @param reportsHeap whether system/metrics carries heap_used_mb and heap_max_mb
   */
  FakeOperator(int failEverySubmit, boolean reportsHeap) {
    this.failEverySubmit = failEverySubmit;
    this.reportsHeap = reportsHeap;
    app = Javalin.create();
    app.post("/orchestrator/tasks/submit", this::submit);
    app.get("/orchestrator/tasks/result/{task_id}", this::result);
    app.get("/orchestrator/system/metrics", this::metrics);
    app.start("127.0.0.1", 0);
  }

  String url() {
    return "http://127.0.0.1:" + app.port();
  }

  int submits() {
    return submits.get();
  }

  Set<String> resultTimeouts() {
    return resultTimeouts;
  }

  JsonNode lastSubmitBody() {
    return lastSubmitBody.get();
  }

  @Override
  public void close() {
    app.stop();
  }

  private void submit(Context ctx) throws Exception {
    int number = submits.incrementAndGet();
    if (failEverySubmit > 0 && number % failEverySubmit == 0) {
      ctx.status(HttpStatus.SERVICE_UNAVAILABLE)
          .json(Map.of("detail", "queue full at submit " + number));
      return;
    }
    JsonNode body = JSON.readTree(ctx.body());
    lastSubmitBody.set(body);
    String taskId = "task-" + number;
    names.put(taskId, body.path("name").asText());
    polls.put(taskId, new AtomicInteger());
    ctx.json(
        Map.of(
            "task_id", taskId,
            "status", "queued",
            "name", body.path("name").asText(),
            "priority", "normal",
            "task_type", "GENERAL",
            "pool", "general"));
  }

  private void result(Context ctx) throws InterruptedException {
    String taskId = ctx.pathParam("task_id");
    String name = names.get(taskId);
    if (name == null) {
      ctx.status(HttpStatus.NOT_FOUND).json(Map.of("detail", "Task not found: " + taskId));
      return;
    }
    resultTimeouts.add(ctx.queryParam("timeout"));
    int poll = polls.get(taskId).incrementAndGet();
    String status =
        switch (name) {
          case "echo" -> poll == 1 ? "running" : "completed";
          case "fail" -> "failed";
          case "hang" -> {
            Thread.sleep(50);
            yield "running";
          }
          case "misspelled" -> "complete";
          default -> throw new IllegalArgumentException("unknown fake task " + name);
        };
    ctx.json(Map.of("task_id", taskId, "name", name, "status", status));
  }

  private void metrics(Context ctx) {
    ctx.json(
        Map.of(
            "metrics",
            reportsHeap
                ? Map.of(
                    "queue_size",
                    0,
                    "heap_used_mb",
                    12.5,
                    "heap_max_mb",
                    256.0,
                    "heap_after_gc_mb",
                    9.5)
                : Map.of("queue_size", 0)));
  }
}
