package io.vera.operator.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import okhttp3.ConnectionPool;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okio.BufferedSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code bench provider}: the latency the operator adds to a provider call. It starts a fake OpenAI
 * upstream on 127.0.0.1 with a fixed delay, points the operator's {@code openai} Provider at it
 * through {@code /orchestrator/external/initialize}, and from concurrent clients makes the same
 * call straight to the upstream and through {@code /orchestrator/external/execute} (whole answer)
 * and {@code execute/stream} (time to the first chunk), in alternating rounds so both paths see the
 * same machine load.
 *
 * <p>By default the clients' first calls are spread over one upstream delay, so their answers
 * arrive spread out as independent callers' would; with a fixed delay, clients that all start
 * together stay in step and every answer of a round arrives in the same millisecond, which measures
 * the queue for a burst of {@code clients} answers rather than the cost of one call. {@code
 * --burst} keeps that synchronised case. Both paths are always driven the same way.
 *
 * <p>With {@code --reference-url} a bare forwarder ({@code bench forwarder}) is measured as a third
 * path in the same rounds, so the operator's own share of the added latency (operator minus
 * forwarder) is read under the same machine load as the rest, not across separate runs.
 */
@Command(
    name = "provider",
    mixinStandardHelpOptions = true,
    description = {
      "Measures the latency the operator adds to a provider call: a fake OpenAI upstream on"
          + " 127.0.0.1 answers after a fixed delay; the same call is made straight to it and"
          + " through the operator's /orchestrator/external/execute (non-streaming, whole answer)"
          + " and execute/stream (time to first chunk), from concurrent clients, in alternating"
          + " rounds. Prints percentiles of both paths, their difference and each path's calls/s"
          + " (with --upstream-delay-ms 0, its saturation throughput).",
      "Arrivals: by default client i waits i x delay / clients before its first call of each"
          + " round, so the clients stay concurrent but their answers arrive spread over the"
          + " delay, as independent callers' do. With --burst all clients start together: the"
          + " fixed delay then keeps them in step, every answer arrives in the same millisecond"
          + " and the last one waits for the whole burst to be processed, which measures"
          + " queueing on this machine's cores rather than what one call costs. Report both;"
          + " the output names the arrival pattern used.",
      "--reference-url names a bare forwarder ('bench forwarder') measured as a third path in the"
          + " same rounds; the output then adds its figures and the operator's own share"
          + " (operator minus forwarder), the part of the added latency that is the operator's"
          + " rather than one HTTP hop's on this machine.",
      "It re-points the operator's 'openai' Provider at the fake upstream: run it against an"
          + " operator kept for benchmarking (e.g. run --embedded) on this machine.",
      "Exits 0 when no call failed, 1 otherwise."
    })
public final class ProviderBenchCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final MediaType JSON_TYPE = MediaType.get("application/json");
  private static final int ROUNDS = 4;

  @Spec private CommandSpec spec;

  @Option(
      names = "--url",
      defaultValue = "http://127.0.0.1:8000",
      description = "Base URL of the operator's REST API (default: ${DEFAULT-VALUE}).")
  private String url;

  @Option(
      names = "--reference-url",
      description =
          "Base URL of a bare forwarder (bench forwarder) to measure in the same rounds as the"
              + " operator, e.g. http://127.0.0.1:8001.")
  private String referenceUrl;

  @Option(
      names = "--clients",
      defaultValue = "64",
      description = "Concurrent clients (default: ${DEFAULT-VALUE}).")
  private int clients;

  @Option(
      names = "--calls",
      defaultValue = "4000",
      description = "Measured calls per path and mode (default: ${DEFAULT-VALUE}).")
  private int calls;

  @Option(
      names = "--warmup",
      defaultValue = "1000",
      description =
          "Calls per path and mode made first and not measured (default: ${DEFAULT-VALUE}).")
  private int warmup;

  @Option(
      names = "--upstream-delay-ms",
      defaultValue = "20",
      description = "The fake upstream's fixed delay before answering (default: ${DEFAULT-VALUE}).")
  private int delayMs;

  @Option(
      names = "--max-seconds",
      defaultValue = "600",
      description = "Stop measuring after this many seconds (default: ${DEFAULT-VALUE}).")
  private int maxSeconds;

  @Option(
      names = "--burst",
      description =
          "Start all clients at the same instant (synchronised arrivals) instead of spreading"
              + " their first calls over one upstream delay.")
  private boolean burst;

  /** Which of the operator's interfaces the calls go through. */
  enum Api {
    legacy,
    openai
  }

  @Option(
      names = "--api",
      defaultValue = "legacy",
      description =
          "The operator's interface to call: legacy (/orchestrator/external/execute and"
              + " execute/stream) or openai (/v1/chat/completions, model openai/<model>, which any"
              + " OpenAI-compatible gateway serves) (default: ${DEFAULT-VALUE}).")
  private Api api;

  @Option(names = "--json", description = "Print the figures as one JSON object.")
  private boolean json;

  private final List<String> errors = Collections.synchronizedList(new ArrayList<>());
  private final AtomicInteger errorCount = new AtomicInteger();
  private long deadline;

  /** One way of making the call, timed to its end or to its first chunk. */
  private enum Path {
    DIRECT,
    OPERATOR,
    REFERENCE
  }

  @Override
  public Integer call() throws Exception {
    HttpUrl base = HttpUrl.parse(url);
    if (base == null) {
      throw new ParameterException(spec.commandLine(), "--url must be an http(s) URL: " + url);
    }
    HttpUrl reference = referenceUrl == null ? null : HttpUrl.parse(referenceUrl);
    if (referenceUrl != null && reference == null) {
      throw new ParameterException(
          spec.commandLine(), "--reference-url must be an http(s) URL: " + referenceUrl);
    }
    if (clients < 1 || calls < 1 || warmup < 0 || delayMs < 0 || maxSeconds < 1) {
      throw new ParameterException(
          spec.commandLine(),
          "--clients, --calls and --max-seconds must be at least 1, --warmup and"
              + " --upstream-delay-ms at least 0");
    }
    PrintWriter out = spec.commandLine().getOut();
    OkHttpClient http =
        new OkHttpClient.Builder()
            .connectionPool(new ConnectionPool(clients * 2, 5, TimeUnit.MINUTES))
            .readTimeout(Duration.ofSeconds(60))
            .build();
    http.dispatcher().setMaxRequests(clients * 4);
    http.dispatcher().setMaxRequestsPerHost(clients * 4);
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    try (FakeOpenAi upstream = new FakeOpenAi(delayMs, clients * 2)) {
      initialize(http, base, upstream.baseUrl());
      if (reference != null) {
        initialize(http, reference, upstream.baseUrl());
      }
      if (!json) {
        out.printf(
            Locale.ROOT,
            "Provider call overhead via %s%s%s: fake upstream %s answering after %d ms; %d"
                + " clients, %d calls per path and mode (after %d warmup), %d alternating rounds;"
                + " arrivals %s%n",
            base,
            api == Api.openai ? "v1/chat/completions" : "orchestrator/external",
            reference == null ? "" : " (bare forwarder for reference: " + reference + ")",
            upstream.baseUrl(),
            delayMs,
            clients,
            calls,
            warmup,
            ROUNDS,
            burst
                ? "burst (all clients start together)"
                : "spread (client i starts i x delay / clients later)");
        out.flush();
      }
      deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(maxSeconds);
      ObjectNode figures = JSON.createObjectNode();
      figures.put("upstream_delay_ms", delayMs);
      figures.put("clients", clients);
      figures.put("arrivals", burst ? "burst" : "spread");
      figures.put("api", api.name());
      for (boolean stream : new boolean[] {false, true}) {
        Calls direct = new Calls(http, base, upstream.baseUrl(), Path.DIRECT, stream, api);
        Calls operator = new Calls(http, base, upstream.baseUrl(), Path.OPERATOR, stream, api);
        Calls forwarder =
            reference == null
                ? null
                : new Calls(http, reference, upstream.baseUrl(), Path.REFERENCE, stream, api);
        run(pool, direct, warmup, null);
        run(pool, operator, warmup, null);
        if (forwarder != null) {
          run(pool, forwarder, warmup, null);
        }
        List<Long> directNanos = Collections.synchronizedList(new ArrayList<>());
        List<Long> operatorNanos = Collections.synchronizedList(new ArrayList<>());
        List<Long> referenceNanos = Collections.synchronizedList(new ArrayList<>());
        long directElapsed = 0;
        long operatorElapsed = 0;
        long referenceElapsed = 0;
        for (int round = 0; round < ROUNDS; round++) {
          int share = calls / ROUNDS + (round < calls % ROUNDS ? 1 : 0);
          directElapsed += run(pool, direct, share, directNanos);
          operatorElapsed += run(pool, operator, share, operatorNanos);
          if (forwarder != null) {
            referenceElapsed += run(pool, forwarder, share, referenceNanos);
          }
        }
        ObjectNode mode = compare(directNanos, operatorNanos);
        ((ObjectNode) mode.get("direct"))
            .put("calls_per_s", perSecond(directNanos.size(), directElapsed));
        ((ObjectNode) mode.get("operator"))
            .put("calls_per_s", perSecond(operatorNanos.size(), operatorElapsed));
        if (forwarder != null) {
          double[] d = millis(directNanos);
          double[] o = millis(operatorNanos);
          double[] r = millis(referenceNanos);
          mode.set(
              "reference",
              percentiles(r)
                  .put("calls_per_s", perSecond(referenceNanos.size(), referenceElapsed)));
          mode.set("reference_added", difference(r, d));
          mode.set("operator_over_reference", difference(o, r));
          mode.put(
              "operator_over_reference_calls_per_s",
              mode.path("operator").path("calls_per_s").asDouble()
                  / mode.path("reference").path("calls_per_s").asDouble());
        }
        figures.set(stream ? "streaming_first_chunk_ms" : "non_streaming_ms", mode);
      }
      figures.put("errors", errorCount.get());
      ArrayNode samples = figures.putArray("error_samples");
      errors.forEach(samples::add);
      out.println(json ? figures.toString() : text(figures));
      out.flush();
      return errorCount.get() == 0 ? 0 : 1;
    } finally {
      pool.shutdownNow();
      http.dispatcher().executorService().shutdown();
      http.connectionPool().evictAll();
    }
  }

  /** Points the operator's {@code openai} Provider at the upstream and waits until it is ready. */
  private void initialize(OkHttpClient http, HttpUrl base, String upstream) throws Exception {
    ObjectNode body = JSON.createObjectNode();
    body.putObject("openai").put("api_key", "bench-not-a-key").put("base_url", upstream);
    Request init =
        new Request.Builder()
            .url(base.resolve("/orchestrator/external/initialize"))
            .post(RequestBody.create(body.toString(), JSON_TYPE))
            .build();
    try (Response response = http.newCall(init).execute()) {
      if (!response.isSuccessful()) {
        throw new IOException(
            "initialize answered " + response.code() + ": " + response.body().string());
      }
    }
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < until) {
      Request status =
          new Request.Builder()
              .url(base.resolve("/orchestrator/external/providers/openai/status"))
              .build();
      try (Response response = http.newCall(status).execute()) {
        if (response.isSuccessful()
            && JSON.readTree(response.body().string()).path("ready").asBoolean()
            && probeCall(http, base)) {
          return;
        }
      }
      Thread.sleep(200);
    }
    throw new IOException("the operator's openai Provider did not become ready within 60 s");
  }

  /** Whether a call through the operator reaches this run's upstream (not an older endpoint). */
  private boolean probeCall(OkHttpClient http, HttpUrl base) {
    try {
      return new Calls(http, base, null, Path.OPERATOR, false, api).once() >= 0;
    } catch (Exception e) {
      return false;
    }
  }

  /**
   * Makes {@code count} calls from the clients; records each one's nanoseconds when asked. Returns
   * the round's wall-clock nanoseconds, from which the path's calls/s are read: with {@code
   * --upstream-delay-ms 0} and enough clients, the most this machine gets through that path.
   */
  private long run(ExecutorService pool, Calls calls, int count, List<Long> into)
      throws InterruptedException {
    AtomicInteger left = new AtomicInteger(count);
    List<Future<?>> running = new ArrayList<>();
    long start = System.nanoTime();
    long delayNanos = TimeUnit.MILLISECONDS.toNanos(delayMs);
    for (int i = 0; i < clients; i++) {
      long firstCall = start + startOffsetNanos(i, clients, delayNanos, burst);
      running.add(
          pool.submit(
              () -> {
                waitUntil(firstCall);
                while (left.getAndDecrement() > 0 && System.nanoTime() < deadline) {
                  try {
                    long nanos = calls.once();
                    if (into != null) {
                      into.add(nanos);
                    }
                  } catch (Exception e) {
                    if (errorCount.incrementAndGet() <= 5) {
                      errors.add(calls.path + (calls.stream ? " stream: " : ": ") + e);
                    }
                  }
                }
              }));
    }
    for (Future<?> future : running) {
      try {
        future.get();
      } catch (java.util.concurrent.ExecutionException e) {
        errors.add(e.getCause().toString());
        errorCount.incrementAndGet();
      }
    }
    return System.nanoTime() - start;
  }

  private static double perSecond(int count, long nanos) {
    return nanos <= 0 ? Double.NaN : count * 1e9 / nanos;
  }

  /**
   * How long after a round starts client {@code client} (0-based) of {@code clients} makes its
   * first call: spread evenly over one upstream delay, or 0 for all in a burst.
   */
  static long startOffsetNanos(int client, int clients, long delayNanos, boolean burst) {
    return burst ? 0 : delayNanos * client / clients;
  }

  private static void waitUntil(long nanoTime) {
    long left;
    while ((left = nanoTime - System.nanoTime()) > 0 && !Thread.currentThread().isInterrupted()) {
      LockSupport.parkNanos(left);
    }
  }

  /** The same request made one way, timed to the whole answer or to the first chunk. */
  private static final class Calls {
    final OkHttpClient http;
    final Path path;
    final boolean stream;
    final Request request;

    Calls(
        OkHttpClient http, HttpUrl operator, String upstream, Path path, boolean stream, Api api) {
      this.http = http;
      this.path = path;
      this.stream = stream;
      ObjectNode body = JSON.createObjectNode();
      boolean chat = path == Path.DIRECT || api == Api.openai;
      if (chat) {
        body.put("model", path == Path.DIRECT ? FakeOpenAi.MODEL : "openai/" + FakeOpenAi.MODEL);
        body.putArray("messages")
            .addObject()
            .put("role", "user")
            .put("content", "Say something fixed.");
        if (stream) {
          body.put("stream", true);
          body.putObject("stream_options").put("include_usage", true);
        }
      } else {
        body.put("provider", "openai");
        body.put("task_name", "llm.bench");
        body.put("prompt", "Say something fixed.");
        body.put("model", FakeOpenAi.MODEL);
        body.put("max_retries", 0);
        if (stream) {
          body.put("stream", true);
        }
      }
      HttpUrl target =
          path == Path.DIRECT
              ? HttpUrl.get(upstream + "/chat/completions")
              : api == Api.openai
                  ? operator.resolve("/v1/chat/completions")
                  : operator.resolve(
                      stream
                          ? "/orchestrator/external/execute/stream"
                          : "/orchestrator/external/execute");
      this.request =
          new Request.Builder()
              .url(target)
              .header("Authorization", "Bearer bench-not-a-key")
              .post(RequestBody.create(body.toString(), JSON_TYPE))
              .build();
    }

    /** Nanoseconds to the whole answer, or for streams to the first chunk of output. */
    long once() throws IOException {
      long start = System.nanoTime();
      try (Response response = http.newCall(request).execute()) {
        if (!response.isSuccessful()) {
          throw new IOException(
              path + " answered " + response.code() + ": " + clip(response.body().string()));
        }
        if (!stream) {
          String body = response.body().string();
          long nanos = System.nanoTime() - start;
          if (!body.contains("A fixed answer.")) {
            throw new IOException(path + " answered something else: " + clip(body));
          }
          return nanos;
        }
        BufferedSource source = response.body().source();
        Long first = null;
        String line;
        boolean done = false;
        while ((line = source.readUtf8Line()) != null) {
          if (first == null && line.startsWith("data: ") && line.contains("\"A\"")) {
            first = System.nanoTime() - start;
          }
          if (line.equals("data: [DONE]") || line.contains("\"status\":\"complete\"")) {
            done = true;
          }
          if (line.contains("\"status\":\"error\"")) {
            throw new IOException(path + " stream failed: " + clip(line));
          }
        }
        if (first == null || !done) {
          throw new IOException(path + " stream ended without its first chunk or its end");
        }
        return first;
      }
    }

    private static String clip(String text) {
      return text.length() > 200 ? text.substring(0, 200) + "..." : text;
    }
  }

  private static ObjectNode compare(List<Long> direct, List<Long> operator) {
    ObjectNode figures = JSON.createObjectNode();
    double[] d = millis(direct);
    double[] o = millis(operator);
    figures.set("direct", percentiles(d));
    figures.set("operator", percentiles(o));
    figures.set("added", difference(o, d));
    return figures;
  }

  /** {@code slower}'s p50, p95 and p99 minus {@code faster}'s. */
  private static ObjectNode difference(double[] slower, double[] faster) {
    ObjectNode difference = JSON.createObjectNode();
    for (double p : new double[] {50, 95, 99}) {
      difference.put(
          "p" + (int) p,
          slower.length == 0 || faster.length == 0 ? Double.NaN : pct(slower, p) - pct(faster, p));
    }
    return difference;
  }

  private static double[] millis(List<Long> nanos) {
    synchronized (nanos) {
      double[] values = nanos.stream().mapToDouble(n -> n / 1e6).toArray();
      Arrays.sort(values);
      return values;
    }
  }

  private static ObjectNode percentiles(double[] sorted) {
    ObjectNode figures = JSON.createObjectNode();
    figures.put("count", sorted.length);
    if (sorted.length > 0) {
      figures.put("p50", pct(sorted, 50));
      figures.put("p95", pct(sorted, 95));
      figures.put("p99", pct(sorted, 99));
      figures.put("max", sorted[sorted.length - 1]);
    }
    return figures;
  }

  /** Nearest-rank percentile of sorted values. */
  private static double pct(double[] sorted, double p) {
    int rank = (int) Math.ceil(p / 100 * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  private static String text(ObjectNode figures) {
    StringBuilder text = new StringBuilder();
    text.append(
        String.format(
            "%-36s %8s %9s %9s %9s %9s %9s%n",
            "", "calls", "p50 ms", "p95 ms", "p99 ms", "max ms", "calls/s"));
    for (String mode : new String[] {"non_streaming_ms", "streaming_first_chunk_ms"}) {
      String label = mode.startsWith("non") ? "non-streaming" : "stream, first chunk";
      for (String path : new String[] {"direct", "operator", "reference"}) {
        var p = figures.path(mode).path(path);
        if (p.isMissingNode()) {
          continue;
        }
        text.append(
            String.format(
                Locale.ROOT,
                "%-36s %8d %9.3f %9.3f %9.3f %9.3f %9.1f%n",
                label + " " + path,
                p.path("count").asInt(),
                p.path("p50").asDouble(),
                p.path("p95").asDouble(),
                p.path("p99").asDouble(),
                p.path("max").asDouble(),
                p.path("calls_per_s").asDouble()));
      }
      for (String[] row :
          new String[][] {
            {"added", " added"},
            {"reference_added", " forwarder added"},
            {"operator_over_reference", " operator's own"}
          }) {
        var added = figures.path(mode).path(row[0]);
        if (added.isMissingNode()) {
          continue;
        }
        text.append(
            String.format(
                Locale.ROOT,
                "%-36s %8s %9.3f %9.3f %9.3f%n",
                label + row[1],
                "",
                added.path("p50").asDouble(),
                added.path("p95").asDouble(),
                added.path("p99").asDouble()));
      }
      var ratio = figures.path(mode).path("operator_over_reference_calls_per_s");
      if (!ratio.isMissingNode()) {
        text.append(
            String.format(
                Locale.ROOT,
                "%-36s %8s %9.3f (operator's calls/s over the forwarder's)%n",
                label + " calls/s ratio",
                "",
                ratio.asDouble()));
      }
    }
    text.append(String.format("errors %d", figures.path("errors").asInt()));
    figures.path("error_samples").forEach(e -> text.append(String.format("%n  %s", e.asText())));
    return text.toString();
  }
}
