package io.vera.operator.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;

/**
 * Sustained load: tasks submitted at a target rate for a duration, each by a client that then waits
 * for its result; every interval prints that interval's throughput and latency percentiles. With
 * WebSocket clients, each counts the {@code task_completed} events it receives, and the end report
 * names any that missed events or were disconnected. Heap (from the operator's {@code /metrics}),
 * heap after the latest collection and RSS (from {@code /proc/<pid>/status}, when the operator's
 * pid is given) are printed with every interval; at start and end, given the pid, after a full
 * collection ({@code jcmd <pid> GC.run}), which is the live data. Latency percentiles are also
 * printed for each minute of the run, so a trend or a tail that grows shows up.
 */
public final class SoakBench {
  private static final MediaType JSON_TYPE = MediaType.get("application/json");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String COMPLETED_EVENT = "{\"type\":\"task_completed\"";

  /** What to run. */
  public record Settings(
      HttpUrl baseUrl,
      String handler,
      ObjectNode payload,
      double ratePerSecond,
      Duration duration,
      Duration interval,
      int clients,
      int webSocketClients,
      Long operatorPid,
      Duration settle) {
    public Settings {
      if (!(ratePerSecond > 0)) {
        throw new IllegalArgumentException("rate must be positive, got " + ratePerSecond);
      }
      if (duration.isNegative() || duration.isZero()) {
        throw new IllegalArgumentException("duration must be positive, got " + duration);
      }
      if (interval.isNegative() || interval.isZero()) {
        throw new IllegalArgumentException("interval must be positive, got " + interval);
      }
      if (clients < 1) {
        throw new IllegalArgumentException("concurrency must be at least 1, got " + clients);
      }
      if (webSocketClients < 0) {
        throw new IllegalArgumentException("ws-clients must be 0 or more, got " + webSocketClients);
      }
    }
  }

  /** Counters of the current interval and of the whole run. */
  private static final class Counters {
    final List<Long> latencies = new ArrayList<>();
    final List<Long> allLatencies = new ArrayList<>();
    final List<Long> minuteLatencies = new ArrayList<>();
    long failed;
    long errors;
    long maxLagNanos;
    long totalFailed;
    long totalErrors;
    long totalMaxLagNanos;
    final List<String> errorSamples = new ArrayList<>();

    synchronized void completed(long nanos) {
      latencies.add(nanos);
      allLatencies.add(nanos);
      minuteLatencies.add(nanos);
    }

    synchronized void failed() {
      failed++;
      totalFailed++;
    }

    synchronized void error(String message) {
      errors++;
      totalErrors++;
      if (errorSamples.size() < 5) {
        errorSamples.add(message);
      }
    }

    synchronized void lag(long nanos) {
      maxLagNanos = Math.max(maxLagNanos, nanos);
      totalMaxLagNanos = Math.max(totalMaxLagNanos, nanos);
    }
  }

  /** One WebSocket client: what it received and whether it was dropped. */
  private static final class WsClient extends WebSocketListener {
    final AtomicLong completedEvents = new AtomicLong();
    final AtomicLong messages = new AtomicLong();
    final AtomicReference<String> closed = new AtomicReference<>();
    volatile int closeCode;
    volatile long lastMessageNanos;
    volatile boolean open;

    @Override
    public void onOpen(WebSocket webSocket, Response response) {
      open = true;
    }

    @Override
    public void onMessage(WebSocket webSocket, String text) {
      messages.incrementAndGet();
      lastMessageNanos = System.nanoTime();
      if (text.startsWith(COMPLETED_EVENT)) {
        completedEvents.incrementAndGet();
      }
    }

    @Override
    public void onClosing(WebSocket webSocket, int code, String reason) {
      if (closed.compareAndSet(null, "closed by the server with " + code + " " + reason)) {
        closeCode = code;
      }
      webSocket.close(1000, null);
    }

    @Override
    public void onFailure(WebSocket webSocket, Throwable t, Response response) {
      closed.compareAndSet(null, "failed: " + t);
    }
  }

  /** Clients listed one by one at the end; the rest are only counted. */
  private static final int MAX_CLIENT_LINES = 10;

  private final Settings settings;
  private final PrintWriter out;
  private final String submitBody;

  public SoakBench(Settings settings, PrintWriter out) {
    this.settings = settings;
    this.out = out;
    ObjectNode body = JSON.createObjectNode();
    body.put("name", settings.handler());
    body.set("payload", settings.payload());
    body.put("priority", "normal");
    this.submitBody = body.toString();
  }

  /** Runs the load; returns true when every task completed and no WebSocket client lost events. */
  public boolean run() throws InterruptedException {
    Dispatcher dispatcher = new Dispatcher();
    dispatcher.setMaxRequests(settings.clients() + settings.webSocketClients() + 16);
    dispatcher.setMaxRequestsPerHost(settings.clients() + settings.webSocketClients() + 16);
    OkHttpClient http =
        new OkHttpClient.Builder()
            .dispatcher(dispatcher)
            .connectionPool(new ConnectionPool(settings.clients() + 4, 1, TimeUnit.MINUTES))
            .connectTimeout(Duration.ofSeconds(5))
            .readTimeout(Duration.ofSeconds(RestBench.RESULT_WAIT_SECONDS + 15))
            .build();
    ExecutorService clients = Executors.newFixedThreadPool(settings.clients());
    List<WsClient> sockets = new ArrayList<>();
    List<WebSocket> openSockets = new ArrayList<>();
    try {
      String memoryAtStart = memory(http, true);
      out.printf(Locale.ROOT, "start: %s%n", memoryAtStart);
      for (int i = 0; i < settings.webSocketClients(); i++) {
        WsClient client = new WsClient();
        sockets.add(client);
        HttpUrl ws = endpoint("orchestrator/ws/updates").build();
        openSockets.add(
            http.newWebSocket(
                new Request.Builder().url(ws.toString().replaceFirst("^http", "ws")).build(),
                client));
      }
      long connectDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (sockets.stream().anyMatch(s -> !s.open && s.closed.get() == null)
          && System.nanoTime() < connectDeadline) {
        Thread.sleep(50);
      }
      long connected = sockets.stream().filter(s -> s.open).count();
      long socketsOpenAt = System.nanoTime();
      if (!sockets.isEmpty()) {
        out.printf(
            Locale.ROOT, "WebSocket clients connected: %d of %d%n", connected, sockets.size());
      }
      out.flush();

      Counters counters = new Counters();
      AtomicLong ticket = new AtomicLong();
      long start = System.nanoTime();
      long end = start + settings.duration().toNanos();
      double spacing = 1e9 / settings.ratePerSecond();
      for (int i = 0; i < settings.clients(); i++) {
        clients.execute(() -> runClient(http, counters, ticket, start, end, spacing));
      }
      long intervalNanos = settings.interval().toNanos();
      long next = start + intervalNanos;
      long completedSoFar = 0;
      long minute = TimeUnit.MINUTES.toNanos(1);
      long nextMinute = start + minute;
      while (true) {
        long now = System.nanoTime();
        long stopAt = Math.min(next, end);
        if (stopAt > now) {
          TimeUnit.NANOSECONDS.sleep(stopAt - now);
        }
        completedSoFar += printInterval(http, counters, start, stopAt, intervalNanos, sockets);
        if (stopAt >= nextMinute) {
          printMinute(counters, (nextMinute - start) / minute);
          nextMinute += minute;
        }
        if (stopAt >= end) {
          break;
        }
        next += intervalNanos;
      }
      clients.shutdown();
      if (!clients.awaitTermination(RestBench.RESULT_WAIT_SECONDS + 30, TimeUnit.SECONDS)) {
        clients.shutdownNow();
      }
      completedSoFar +=
          printInterval(http, counters, start, System.nanoTime(), intervalNanos, sockets);
      return report(http, counters, completedSoFar, start, memoryAtStart, sockets, socketsOpenAt);
    } finally {
      clients.shutdownNow();
      openSockets.forEach(s -> s.close(1000, "bench finished"));
      http.dispatcher().executorService().shutdown();
      http.connectionPool().evictAll();
    }
  }

  private void runClient(
      OkHttpClient http,
      Counters counters,
      AtomicLong ticket,
      long start,
      long end,
      double spacing) {
    while (!Thread.currentThread().isInterrupted()) {
      long due = start + (long) (ticket.getAndIncrement() * spacing);
      if (due >= end) {
        return;
      }
      long now = System.nanoTime();
      if (due > now) {
        try {
          TimeUnit.NANOSECONDS.sleep(due - now);
        } catch (InterruptedException e) {
          return;
        }
      } else {
        counters.lag(now - due);
      }
      runTask(http, counters);
    }
  }

  private void runTask(OkHttpClient http, Counters counters) {
    long submitted = System.nanoTime();
    try {
      String taskId =
          call(
                  http,
                  new Request.Builder()
                      .url(endpoint("orchestrator/tasks/submit").build())
                      .post(RequestBody.create(submitBody, JSON_TYPE))
                      .build())
              .path("task_id")
              .asText("");
      if (taskId.isEmpty()) {
        counters.error("submit answered without a task_id");
        return;
      }
      HttpUrl resultUrl =
          endpoint("orchestrator/tasks/result")
              .addPathSegment(taskId)
              .addQueryParameter("timeout", Integer.toString(RestBench.RESULT_WAIT_SECONDS))
              .build();
      for (int polls = 0; polls < 4; polls++) {
        String status =
            call(http, new Request.Builder().url(resultUrl).get().build()).path("status").asText();
        switch (status) {
          case "completed" -> {
            counters.completed(System.nanoTime() - submitted);
            return;
          }
          case "failed", "cancelled" -> {
            counters.failed();
            return;
          }
          default -> {
            // still queued or running: wait again
          }
        }
      }
      counters.error(
          "task " + taskId + " unfinished after " + 4 * RestBench.RESULT_WAIT_SECONDS + " s");
    } catch (IOException e) {
      counters.error(e.getMessage());
    }
  }

  /** Latency of the tasks completed in one minute of the run. */
  private void printMinute(Counters counters, long minute) {
    long[] sorted;
    synchronized (counters) {
      sorted = counters.minuteLatencies.stream().mapToLong(Long::longValue).toArray();
      counters.minuteLatencies.clear();
    }
    Arrays.sort(sorted);
    out.printf(
        Locale.ROOT,
        "minute %d: completed %d  latency ms %s%n",
        minute,
        sorted.length,
        percentiles(sorted));
    out.flush();
  }

  private long printInterval(
      OkHttpClient http,
      Counters counters,
      long start,
      long now,
      long intervalNanos,
      List<WsClient> sockets) {
    long[] sorted;
    long failed;
    long errors;
    long lag;
    synchronized (counters) {
      sorted = counters.latencies.stream().mapToLong(Long::longValue).toArray();
      counters.latencies.clear();
      failed = counters.failed;
      errors = counters.errors;
      lag = counters.maxLagNanos;
      counters.failed = 0;
      counters.errors = 0;
      counters.maxLagNanos = 0;
    }
    if (sorted.length == 0 && failed == 0 && errors == 0) {
      return 0;
    }
    Arrays.sort(sorted);
    double seconds = Math.max(1e-9, Math.min(intervalNanos, now - start) / 1e9);
    long elapsed = Math.round((now - start) / 1e9);
    StringBuilder line =
        new StringBuilder(
            String.format(
                Locale.ROOT,
                "[%5ds] completed %6d  %6.1f/s  latency ms %s  failed %d  errors %d  behind %.1f s",
                elapsed,
                sorted.length,
                sorted.length / seconds,
                percentiles(sorted),
                failed,
                errors,
                lag / 1e9));
    if (!sockets.isEmpty()) {
      long min = sockets.stream().mapToLong(s -> s.completedEvents.get()).min().orElse(0);
      long max = sockets.stream().mapToLong(s -> s.completedEvents.get()).max().orElse(0);
      long dropped = sockets.stream().filter(s -> s.closed.get() != null).count();
      line.append(
          String.format(
              Locale.ROOT, "  ws completed events min %d max %d, dropped %d", min, max, dropped));
    }
    line.append("  ").append(memory(http, false));
    out.println(line);
    out.flush();
    return sorted.length;
  }

  private static String percentiles(long[] sorted) {
    if (sorted.length == 0) {
      return "n/a";
    }
    return String.format(
        Locale.ROOT,
        "p50 %.1f  p95 %.1f  p99 %.1f  max %.1f",
        RestBench.percentile(sorted, 50) / 1e6,
        RestBench.percentile(sorted, 95) / 1e6,
        RestBench.percentile(sorted, 99) / 1e6,
        sorted[sorted.length - 1] / 1e6);
  }

  private boolean report(
      OkHttpClient http,
      Counters counters,
      long completed,
      long start,
      String memoryAtStart,
      List<WsClient> sockets,
      long socketsOpenAt)
      throws InterruptedException {
    double wall = (System.nanoTime() - start) / 1e9;
    long[] all;
    synchronized (counters) {
      all = counters.allLatencies.stream().mapToLong(Long::longValue).toArray();
    }
    Arrays.sort(all);
    out.printf(
        Locale.ROOT,
        "total: completed %d in %.1f s (%.1f/s, target %.1f/s)  latency ms %s  failed %d  errors"
            + " %d  most behind schedule %.1f s%n",
        completed,
        wall,
        completed / wall,
        settings.ratePerSecond(),
        percentiles(all),
        counters.totalFailed,
        counters.totalErrors,
        counters.totalMaxLagNanos / 1e9);
    counters.errorSamples.forEach(e -> out.println("  error: " + e));
    boolean ok = counters.totalFailed == 0 && counters.totalErrors == 0;
    if (!sockets.isEmpty()) {
      // Events still on their way keep arriving while the fan-out catches up: wait as long as
      // they do (up to two minutes), so a late event is not counted as a missed one.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      long stalledSince = System.nanoTime();
      long seen = -1;
      while (System.nanoTime() < deadline
          && System.nanoTime() - stalledSince < TimeUnit.SECONDS.toNanos(10)
          && sockets.stream()
              .anyMatch(s -> s.closed.get() == null && s.completedEvents.get() < completed)) {
        long now = sockets.stream().mapToLong(s -> s.completedEvents.get()).sum();
        if (now != seen) {
          seen = now;
          stalledSince = System.nanoTime();
        }
        Thread.sleep(200);
      }
      int short_ = 0;
      int dropped = 0;
      Map<Integer, Integer> closeCodes = new TreeMap<>();
      int printed = 0;
      for (int i = 0; i < sockets.size(); i++) {
        WsClient s = sockets.get(i);
        if (s.closed.get() != null) {
          dropped++;
          closeCodes.merge(s.closeCode, 1, Integer::sum);
          if (printed++ >= MAX_CLIENT_LINES) {
            continue;
          }
          out.printf(
              Locale.ROOT,
              "  ws client %d: %s after %d task_completed events%n",
              i,
              s.closed.get(),
              s.completedEvents.get());
        } else if (s.completedEvents.get() < completed) {
          short_++;
          if (printed++ >= MAX_CLIENT_LINES) {
            continue;
          }
          out.printf(
              Locale.ROOT,
              "  ws client %d: %d task_completed events for %d tasks completed%n",
              i,
              s.completedEvents.get(),
              completed);
        }
      }
      if (printed > MAX_CLIENT_LINES) {
        out.printf(Locale.ROOT, "  ... and %d more clients%n", printed - MAX_CLIENT_LINES);
      }
      long messages = sockets.stream().mapToLong(s -> s.messages.get()).sum();
      long lastMessage =
          sockets.stream().mapToLong(s -> s.lastMessageNanos).max().orElse(socketsOpenAt);
      double receiving = Math.max(1e-9, (lastMessage - socketsOpenAt) / 1e9);
      out.printf(
          Locale.ROOT,
          "WebSocket fan-out: %d clients, %d messages received in all (%.0f/s over %.1f s);"
              + " %d clients missed task_completed events without being closed, %d were"
              + " disconnected%s%n",
          sockets.size(),
          messages,
          messages / receiving,
          receiving,
          short_,
          dropped,
          closeCodes.isEmpty() ? "" : " (close codes " + closeCodes + ")");
      ok &= short_ == 0 && dropped == 0;
    }
    out.printf(Locale.ROOT, "end:   %s%n", memory(http, true));
    if (!settings.settle().isZero()) {
      out.printf(
          Locale.ROOT,
          "waiting %d s for finished tasks to expire...%n",
          settings.settle().toSeconds());
      out.flush();
      Thread.sleep(settings.settle().toMillis());
      out.printf(Locale.ROOT, "after:  %s%n", memory(http, true));
    }
    out.flush();
    return ok;
  }

  /**
   * Heap (from /metrics and system/metrics) and RSS (from /proc) of the operator, as text; with
   * {@code fullGc} and the operator's pid, the heap right after a full collection too.
   */
  private String memory(OkHttpClient http, boolean fullGc) {
    StringBuilder text = new StringBuilder();
    if (fullGc && settings.operatorPid() != null) {
      text.append(heapAfterFullGc(settings.operatorPid())).append(", ");
    }
    try {
      String metrics =
          body(http, new Request.Builder().url(settings.baseUrl().resolve("/metrics")).build());
      double heap = 0;
      for (String line : metrics.split("\n")) {
        if (line.startsWith("jvm_memory_used_bytes{") && line.contains("area=\"heap\"")) {
          heap += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
      }
      text.append(String.format(Locale.ROOT, "heap used %.1f MB", heap / 1048576));
    } catch (IOException | RuntimeException e) {
      text.append("heap unknown (").append(e.getMessage()).append(')');
    }
    try {
      JsonNode system =
          call(
                  http,
                  new Request.Builder()
                      .url(endpoint("orchestrator/system/metrics").build())
                      .build())
              .path("metrics");
      if (system.path("heap_after_gc_mb").isNumber()) {
        text.append(
            String.format(
                Locale.ROOT,
                ", after last GC %.1f MB",
                system.path("heap_after_gc_mb").asDouble()));
      }
    } catch (IOException e) {
      // reported as unknown by leaving it out
    }
    if (settings.operatorPid() != null) {
      Path status = Path.of("/proc", settings.operatorPid().toString(), "status");
      try {
        String rss =
            Files.readAllLines(status).stream()
                .filter(l -> l.startsWith("VmRSS:"))
                .map(l -> l.substring("VmRSS:".length()).trim())
                .findFirst()
                .orElse("unknown");
        text.append(", RSS ").append(rss);
      } catch (IOException e) {
        text.append(", RSS unknown (cannot read ").append(status).append(')');
      }
    }
    return text.toString();
  }

  /**
   * Runs a full collection in the operator with {@code jcmd}, then reads the heap in use from its
   * {@code GC.heap_info}: the live data, which a collection under load overstates.
   */
  static String heapAfterFullGc(long pid) {
    try {
      String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
      if (!run(jcmd, Long.toString(pid), "GC.run").isPresent()) {
        return "heap after full GC unknown (jcmd GC.run failed)";
      }
      String info = run(jcmd, Long.toString(pid), "GC.heap_info").orElse("");
      Matcher used = Pattern.compile("used (\\d+)K").matcher(info);
      return used.find()
          ? String.format(
              Locale.ROOT, "heap after full GC %.1f MB", Long.parseLong(used.group(1)) / 1024.0)
          : "heap after full GC unknown (no figure in GC.heap_info)";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "heap after full GC unknown (interrupted)";
    }
  }

  /** A command's output, if it ended well within a minute. */
  private static Optional<String> run(String... command) throws InterruptedException {
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      byte[] output = process.getInputStream().readAllBytes();
      if (!process.waitFor(1, TimeUnit.MINUTES) || process.exitValue() != 0) {
        process.destroyForcibly();
        return Optional.empty();
      }
      return Optional.of(new String(output, StandardCharsets.UTF_8));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private HttpUrl.Builder endpoint(String pathSegments) {
    return settings.baseUrl().newBuilder().addPathSegments(pathSegments);
  }

  private static String body(OkHttpClient http, Request request) throws IOException {
    try (Response response = http.newCall(request).execute()) {
      String text = response.body().string();
      if (!response.isSuccessful()) {
        throw new IOException(
            "HTTP "
                + response.code()
                + " from "
                + request.method()
                + " "
                + request.url().encodedPath());
      }
      return text;
    }
  }

  private static JsonNode call(OkHttpClient http, Request request) throws IOException {
    return JSON.readTree(body(http, request));
  }

  /** Parses {@code 90}, {@code 90s}, {@code 10m} or {@code 1h}. */
  static Duration parseDuration(String text) {
    String value = text.trim().toLowerCase(Locale.ROOT);
    long unit = 1;
    if (value.endsWith("ms")) {
      return Duration.ofMillis(Long.parseLong(value.substring(0, value.length() - 2)));
    } else if (value.endsWith("s")) {
      value = value.substring(0, value.length() - 1);
    } else if (value.endsWith("m")) {
      unit = 60;
      value = value.substring(0, value.length() - 1);
    } else if (value.endsWith("h")) {
      unit = 3600;
      value = value.substring(0, value.length() - 1);
    }
    return Duration.ofSeconds(Long.parseLong(value) * unit);
  }
}
