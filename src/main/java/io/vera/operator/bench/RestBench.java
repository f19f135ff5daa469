package io.vera.operator.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.cli.ProgressLine;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import okhttp3.ConnectionPool;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * Measures a running operator through its legacy REST API: concurrent clients each submit a task
 * and wait for its result, so throughput and latency include the whole submit-to-completed path.
 */
public final class RestBench {
  /** Longest wait asked of one {@code tasks/result} call, in seconds. */
  static final int RESULT_WAIT_SECONDS = 30;

  private static final int ERROR_SAMPLES = 5;
  private static final MediaType JSON_TYPE = MediaType.get("application/json");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Settings settings;
  private final String submitBody;

  public RestBench(Settings settings) {
    this.settings = settings;
    ObjectNode body = JSON.createObjectNode();
    body.put("name", settings.handler());
    body.set("payload", settings.payload());
    body.put("priority", "normal");
    this.submitBody = body.toString();
  }

  /** What to run and against which operator. */
  public record Settings(
      HttpUrl baseUrl,
      String handler,
      ObjectNode payload,
      int tasks,
      int warmup,
      int concurrency,
      Duration maxDuration) {
    public Settings {
      if (baseUrl == null) {
        throw new IllegalArgumentException("baseUrl is required");
      }
      if (handler == null || handler.isBlank()) {
        throw new IllegalArgumentException("handler must name a registered task, got blank");
      }
      if (payload == null) {
        throw new IllegalArgumentException("payload must be a JSON object, got null");
      }
      if (tasks < 1) {
        throw new IllegalArgumentException("tasks must be at least 1, got " + tasks);
      }
      if (warmup < 0) {
        throw new IllegalArgumentException("warmup must be 0 or more, got " + warmup);
      }
      if (concurrency < 1) {
        throw new IllegalArgumentException("concurrency must be at least 1, got " + concurrency);
      }
      if (maxDuration == null || maxDuration.isNegative() || maxDuration.isZero()) {
        throw new IllegalArgumentException("maxDuration must be positive, got " + maxDuration);
      }
    }
  }

  /** Client-side submit-to-completed latency of the completed tasks, in milliseconds. */
  public record Latency(double p50Ms, double p95Ms, double p99Ms, double maxMs) {

    /**
     * The "latency ms" line the bench commands print; {@code none} says what did not complete when
     * there is no latency to show.
     */
    static String line(Latency latency, String none) {
      return latency == null
          ? String.format("latency ms         n/a (no %s completed)%n", none)
          : String.format(
              Locale.ROOT,
              "latency ms         p50 %.3f  p95 %.3f  p99 %.3f  max %.3f%n",
              latency.p50Ms(),
              latency.p95Ms(),
              latency.p99Ms(),
              latency.maxMs());
    }

    /** Puts the figures under {@code latency_ms} of a bench's JSON answer; null when none. */
    static void putJson(ObjectNode json, Latency latency) {
      if (latency == null) {
        json.putNull("latency_ms");
        return;
      }
      ObjectNode figures = json.putObject("latency_ms");
      figures.put("p50", latency.p50Ms());
      figures.put("p95", latency.p95Ms());
      figures.put("p99", latency.p99Ms());
      figures.put("max", latency.maxMs());
    }
  }

  /**
   * Figures of the measured tasks (warmup excluded).
   *
   * @param completed tasks that reached {@code completed}
   * @param failed tasks that reached {@code failed}
   * @param cancelled tasks that reached {@code cancelled}
   * @param errors tasks lost to a transport error or a non-2xx answer
   * @param wall from the first submit to the last completion
   * @param latency null when no task completed
   * @param heapUsedMb the operator's heap in use after the run; null when it does not report it
   * @param heapMaxMb the operator's heap limit; null when it does not report it
   * @param heapAfterGcMb the operator's heap left after its latest collection, close to what is
   *     live; null when it does not report it
   * @param errorSamples the first few error messages, for diagnosis
   * @param timedOut whether {@code maxDuration} stopped the run before every task finished
   */
  public record BenchResult(
      int tasks,
      long completed,
      long failed,
      long cancelled,
      long errors,
      Duration wall,
      Latency latency,
      Double heapUsedMb,
      Double heapMaxMb,
      Double heapAfterGcMb,
      List<String> errorSamples,
      boolean timedOut) {
    /** Measured tasks that were never started or had not finished when the run stopped. */
    public long unfinished() {
      return tasks - completed - failed - cancelled - errors;
    }

    /** Completed tasks per second of wall time; 0 when none completed. */
    public double throughputPerSecond() {
      return completed == 0 || wall.isZero() ? 0 : completed / (wall.toNanos() / 1e9);
    }
  }

  /** Runs the warmup tasks, then the measured ones, then reads the operator's heap. */
  public BenchResult run() throws InterruptedException {
    OkHttpClient http =
        new OkHttpClient.Builder()
            .connectionPool(new ConnectionPool(settings.concurrency(), 1, TimeUnit.MINUTES))
            .connectTimeout(Duration.ofSeconds(5))
            .readTimeout(Duration.ofSeconds(RESULT_WAIT_SECONDS + 15))
            .build();
    ExecutorService clients = Executors.newFixedThreadPool(settings.concurrency());
    long deadline = System.nanoTime() + settings.maxDuration().toNanos();
    try {
      if (settings.warmup() > 0) {
        runPhase(http, clients, new Phase(settings.warmup()), "warmup", deadline);
      }
      Phase measured = new Phase(settings.tasks());
      runPhase(http, clients, measured, "measured", deadline);
      JsonNode metrics = fetchMetrics(http);
      return measured.result(
          number(metrics, "heap_used_mb"),
          number(metrics, "heap_max_mb"),
          number(metrics, "heap_after_gc_mb"));
    } finally {
      clients.shutdownNow();
      http.dispatcher().executorService().shutdown();
      http.connectionPool().evictAll();
    }
  }

  /**
   * The nearest-rank percentile of ascending values: the smallest value that at least {@code
   * percent} of the values do not exceed.
   */
  static long percentile(long[] sorted, double percent) {
    if (sorted.length == 0) {
      throw new IllegalArgumentException("no values");
    }
    if (percent <= 0 || percent > 100) {
      throw new IllegalArgumentException("percent must be in (0, 100], got " + percent);
    }
    int rank = (int) Math.ceil(percent / 100 * sorted.length);
    return sorted[rank - 1];
  }

  private void runPhase(
      OkHttpClient http, ExecutorService clients, Phase phase, String name, long deadline)
      throws InterruptedException {
    List<Future<?>> running = new ArrayList<>();
    for (int i = 0; i < settings.concurrency(); i++) {
      running.add(clients.submit(() -> runClient(http, phase, deadline)));
    }
    long started = System.nanoTime();
    try (ProgressLine progress = ProgressLine.onTerminal()) {
      for (Future<?> client : running) {
        while (true) {
          try {
            client.get(250, TimeUnit.MILLISECONDS);
            break;
          } catch (TimeoutException e) {
            progress.update(phase.progress(name, System.nanoTime() - started));
          } catch (ExecutionException e) {
            throw new IllegalStateException("A bench client failed", e.getCause());
          }
        }
      }
    }
  }

  private void runClient(OkHttpClient http, Phase phase, long deadline) {
    while (!Thread.currentThread().isInterrupted()
        && System.nanoTime() - deadline < 0
        && phase.claim()) {
      runTask(http, phase, deadline);
    }
  }

  private void runTask(OkHttpClient http, Phase phase, long deadline) {
    Request submit =
        new Request.Builder()
            .url(endpoint("orchestrator/tasks/submit").build())
            .post(RequestBody.create(submitBody, JSON_TYPE))
            .build();
    long submitted = System.nanoTime();
    phase.submitted(submitted);
    try {
      String taskId = call(http, submit).path("task_id").asText("");
      if (taskId.isEmpty()) {
        phase.error("POST /orchestrator/tasks/submit answered without a task_id");
        return;
      }
      while (true) {
        long remainingNanos = deadline - System.nanoTime();
        if (remainingNanos <= 0) {
          return;
        }
        long wait = Math.min(RESULT_WAIT_SECONDS, Math.max(1, remainingNanos / 1_000_000_000L));
        HttpUrl resultUrl =
            endpoint("orchestrator/tasks/result")
                .addPathSegment(taskId)
                .addQueryParameter("timeout", Long.toString(wait))
                .build();
        String status =
            call(http, new Request.Builder().url(resultUrl).get().build()).path("status").asText();
        switch (status) {
          case "completed" -> {
            phase.completed(submitted, System.nanoTime());
            return;
          }
          case "failed" -> {
            phase.failed();
            return;
          }
          case "cancelled" -> {
            phase.cancelled();
            return;
          }
          case "pending", "queued", "running" -> {
            // not finished yet: wait again
          }
          default -> {
            phase.error(
                "GET /orchestrator/tasks/result answered with unknown status '" + status + "'");
            return;
          }
        }
      }
    } catch (RequestFailedException e) {
      phase.error(e.getMessage());
    }
  }

  /** An endpoint under the base URL, keeping any path prefix the base URL has. */
  private HttpUrl.Builder endpoint(String pathSegments) {
    return settings.baseUrl().newBuilder().addPathSegments(pathSegments);
  }

  private static JsonNode call(OkHttpClient http, Request request) throws RequestFailedException {
    String what = request.method() + " " + request.url().encodedPath();
    try (Response response = http.newCall(request).execute()) {
      String text = response.body().string();
      if (!response.isSuccessful()) {
        throw new RequestFailedException(
            "HTTP " + response.code() + " from " + what + ": " + detail(text));
      }
      try {
        return JSON.readTree(text);
      } catch (IOException e) {
        throw new RequestFailedException(what + " answered with invalid JSON: " + e.getMessage());
      }
    } catch (IOException e) {
      throw new RequestFailedException(what + " failed: " + e);
    }
  }

  private static String detail(String body) {
    try {
      JsonNode detail = JSON.readTree(body).path("detail");
      if (!detail.isMissingNode()) {
        return detail.isTextual() ? detail.asText() : detail.toString();
      }
    } catch (IOException e) {
      // not JSON: report the raw body below
    }
    return body.length() > 200 ? body.substring(0, 200) + "..." : body;
  }

  private JsonNode fetchMetrics(OkHttpClient http) {
    Request request =
        new Request.Builder().url(endpoint("orchestrator/system/metrics").build()).get().build();
    try {
      return call(http, request).path("metrics");
    } catch (RequestFailedException e) {
      return JSON.missingNode();
    }
  }

  private static Double number(JsonNode object, String field) {
    JsonNode value = object.path(field);
    return value.isNumber() ? value.asDouble() : null;
  }

  /** Counters of one phase, shared by its clients. */
  private static final class Phase {
    private final int tasks;
    private final AtomicInteger claimed = new AtomicInteger();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong cancelled = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final long[] latencies;
    private final AtomicInteger completed = new AtomicInteger();
    private final AtomicLong firstSubmit = new AtomicLong(Long.MAX_VALUE);
    private final AtomicLong lastCompletion = new AtomicLong(Long.MIN_VALUE);
    private final List<String> errorSamples = new ArrayList<>();

    Phase(int tasks) {
      this.tasks = tasks;
      this.latencies = new long[tasks];
    }

    boolean claim() {
      return claimed.getAndIncrement() < tasks;
    }

    /** A progress line: e.g. {@code measured: 1,204/10,000 done (3 failed), 12 s}. */
    String progress(String name, long elapsedNanos) {
      long done = completed.get() + failed.get() + cancelled.get() + errors.get();
      long bad = failed.get() + cancelled.get() + errors.get();
      return String.format(
          java.util.Locale.ROOT,
          "%s: %,d/%,d done%s, %d s",
          name,
          done,
          tasks,
          bad == 0 ? "" : String.format(java.util.Locale.ROOT, " (%,d not completed)", bad),
          elapsedNanos / 1_000_000_000L);
    }

    void submitted(long at) {
      firstSubmit.accumulateAndGet(at, Math::min);
    }

    void completed(long submitted, long at) {
      latencies[completed.getAndIncrement()] = at - submitted;
      lastCompletion.accumulateAndGet(at, Math::max);
    }

    void failed() {
      failed.incrementAndGet();
    }

    void cancelled() {
      cancelled.incrementAndGet();
    }

    synchronized void error(String message) {
      errors.incrementAndGet();
      if (errorSamples.size() < ERROR_SAMPLES) {
        errorSamples.add(message);
      }
    }

    /** The phase's figures; call once its clients have stopped. */
    synchronized BenchResult result(Double heapUsedMb, Double heapMaxMb, Double heapAfterGcMb) {
      int done = completed.get();
      long[] sorted = Arrays.copyOf(latencies, done);
      Arrays.sort(sorted);
      Latency latency =
          done == 0
              ? null
              : new Latency(
                  millis(percentile(sorted, 50)),
                  millis(percentile(sorted, 95)),
                  millis(percentile(sorted, 99)),
                  millis(sorted[done - 1]));
      Duration wall =
          done == 0 ? Duration.ZERO : Duration.ofNanos(lastCompletion.get() - firstSubmit.get());
      long finished = done + failed.get() + cancelled.get() + errors.get();
      return new BenchResult(
          tasks,
          done,
          failed.get(),
          cancelled.get(),
          errors.get(),
          wall,
          latency,
          heapUsedMb,
          heapMaxMb,
          heapAfterGcMb,
          List.copyOf(errorSamples),
          finished < tasks);
    }

    private static double millis(long nanos) {
      return nanos / 1e6;
    }
  }

  /** A request that got no usable answer; the message says which request and why. */
  private static final class RequestFailedException extends Exception {
    RequestFailedException(String message) {
      super(message);
    }
  }
}
