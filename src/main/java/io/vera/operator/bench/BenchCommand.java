package io.vera.operator.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.bench.RestBench.BenchResult;
import io.vera.operator.bench.RestBench.Latency;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import okhttp3.HttpUrl;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The {@code bench} command: a load test of a running operator's REST API, for capacity work. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    subcommands = {
      DockerBenchCommand.class,
      ProviderBenchCommand.class,
      ForwarderBenchCommand.class,
      ApiServerBenchCommand.class,
      TaskTableBenchCommand.class
    },
    description = {
      "Submits tasks through the REST API of a running operator from concurrent clients, each"
          + " waiting for its task's result before submitting the next, and prints completed"
          + " tasks/s, submit-to-completed latency percentiles and the operator's heap.",
      "With --rate it runs a sustained load instead: tasks submitted at that rate for --duration,"
          + " printing throughput and latency percentiles every --interval and the operator's heap"
          + " (and RSS, with --operator-pid) at start and end; --ws-clients connects that many"
          + " WebSocket clients and reports any that missed task_completed events or were dropped.",
      "Exits 0 when every measured task completed (and no WebSocket client lost events), 1"
          + " otherwise.",
      "'bench docker' compares Vera's Docker host with the docker CLI instead; 'bench provider'"
          + " measures the latency the operator adds to a provider call, and 'bench forwarder'"
          + " runs the bare forwarder that call is judged against; 'bench apiserver' does a"
          + " task's raw life cycle on a Kubernetes API server, the floor of cluster mode."
    })
public final class BenchCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec private CommandSpec spec;

  @Option(
      names = "--url",
      defaultValue = "http://127.0.0.1:8000",
      description = "Base URL of the operator's REST API (default: ${DEFAULT-VALUE}).")
  private String url;

  @Option(
      names = "--tasks",
      defaultValue = "10000",
      description = "Tasks to measure (default: ${DEFAULT-VALUE}).")
  private int tasks;

  @Option(
      names = "--concurrency",
      defaultValue = "32",
      description = "Concurrent clients (default: ${DEFAULT-VALUE}).")
  private int concurrency;

  @Option(
      names = "--warmup",
      defaultValue = "500",
      description =
          "Tasks run first and not measured (default: ${DEFAULT-VALUE}); in sustained mode they"
              + " run from the --concurrency clients, each waiting for its result, before the"
              + " rate starts.")
  private int warmup;

  @Option(
      names = "--handler",
      defaultValue = "echo",
      description = "Task name to submit (default: ${DEFAULT-VALUE}).")
  private String handler;

  @Option(
      names = "--payload",
      defaultValue = "{}",
      description = "JSON object sent as each task's payload (default: ${DEFAULT-VALUE}).")
  private String payload;

  @Option(
      names = "--max-seconds",
      defaultValue = "600",
      description = "Stop after this many seconds, finished or not (default: ${DEFAULT-VALUE}).")
  private int maxSeconds;

  @Option(names = "--json", description = "Print the figures as one JSON object.")
  private boolean json;

  @Option(
      names = "--rate",
      description =
          "Sustained mode: submit this many tasks per second (the --concurrency clients must be"
              + " enough to keep it up).")
  private Double rate;

  @Option(
      names = "--duration",
      defaultValue = "10m",
      description =
          "Sustained mode: how long to keep the rate, e.g. 90s, 10m (default: ${DEFAULT-VALUE}).")
  private String duration;

  @Option(
      names = "--interval",
      defaultValue = "30s",
      description = "Sustained mode: print figures this often (default: ${DEFAULT-VALUE}).")
  private String interval;

  @Option(
      names = "--ws-clients",
      defaultValue = "0",
      description =
          "Sustained mode: WebSocket clients connected during the load (default: ${DEFAULT-VALUE}).")
  private int wsClients;

  @Option(
      names = "--operator-pid",
      description = "Sustained mode: the operator's process id, to read its RSS from /proc.")
  private Long operatorPid;

  @Option(
      names = "--settle",
      defaultValue = "0s",
      description =
          "Sustained mode: after the load, wait this long and read the memory again, e.g. once"
              + " finished tasks expired (default: ${DEFAULT-VALUE}).")
  private String settle;

  @Override
  public Integer call() throws InterruptedException {
    RestBench.Settings settings = settings();
    PrintWriter out = spec.commandLine().getOut();
    if (rate != null) {
      return sustained(settings, out);
    }
    if (!json) {
      out.printf(
          Locale.ROOT,
          "Benchmarking %s: %d tasks '%s' (after %d warmup) from %d clients, at most %d s%n",
          settings.baseUrl(),
          tasks,
          handler,
          warmup,
          concurrency,
          maxSeconds);
      out.flush();
    }
    BenchResult result = new RestBench(settings).run();
    out.println(json ? toJson(result).toString() : toText(result));
    out.flush();
    return result.completed() == result.tasks() ? 0 : 1;
  }

  /**
   * Runs the warm-up tasks as the closed-loop bench does, so that the rate is measured on a warm
   * operator and a warm client: a cold JVM falls seconds behind a rate it later holds easily.
   */
  private static void warmUpBeforeTheRate(RestBench.Settings base, PrintWriter out)
      throws InterruptedException {
    RestBench.BenchResult warm =
        new RestBench(
                new RestBench.Settings(
                    base.baseUrl(),
                    base.handler(),
                    base.payload(),
                    base.warmup(),
                    0,
                    base.concurrency(),
                    base.maxDuration()))
            .run();
    out.printf(
        Locale.ROOT,
        "warm-up: %d tasks, not measured: %d completed, %.1f tasks/s%n",
        warm.tasks(),
        warm.completed(),
        warm.throughputPerSecond());
    out.flush();
  }

  private int sustained(RestBench.Settings base, PrintWriter out) throws InterruptedException {
    SoakBench.Settings soak;
    try {
      soak =
          new SoakBench.Settings(
              base.baseUrl(),
              base.handler(),
              base.payload(),
              rate,
              duration("--duration", duration),
              duration("--interval", interval),
              concurrency,
              wsClients,
              operatorPid,
              duration("--settle", settle));
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    out.printf(
        Locale.ROOT,
        "Sustained load on %s: '%s' at %.1f tasks/s for %d s from %d clients, %d WebSocket"
            + " clients, figures every %d s%n",
        soak.baseUrl(),
        soak.handler(),
        soak.ratePerSecond(),
        soak.duration().toSeconds(),
        soak.clients(),
        soak.webSocketClients(),
        soak.interval().toSeconds());
    out.flush();
    if (base.warmup() > 0) {
      warmUpBeforeTheRate(base, out);
    }
    return new SoakBench(soak, out).run() ? 0 : 1;
  }

  private Duration duration(String option, String text) {
    try {
      return SoakBench.parseDuration(text);
    } catch (NumberFormatException e) {
      throw new ParameterException(
          spec.commandLine(),
          option + " must be a duration such as 90s or 10m, got '" + text + "'");
    }
  }

  private RestBench.Settings settings() {
    HttpUrl baseUrl = HttpUrl.parse(url);
    if (baseUrl == null) {
      throw new ParameterException(
          spec.commandLine(), "--url must be an http or https URL, got '" + url + "'");
    }
    JsonNode parsedPayload;
    try {
      parsedPayload = JSON.readTree(payload);
    } catch (IOException e) {
      parsedPayload = null;
    }
    if (!(parsedPayload instanceof ObjectNode payloadObject)) {
      throw new ParameterException(
          spec.commandLine(), "--payload must be a JSON object, got '" + payload + "'");
    }
    if (maxSeconds < 1) {
      throw new ParameterException(
          spec.commandLine(), "--max-seconds must be at least 1, got " + maxSeconds);
    }
    try {
      return new RestBench.Settings(
          baseUrl,
          handler,
          payloadObject,
          tasks,
          warmup,
          concurrency,
          Duration.ofSeconds(maxSeconds));
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
  }

  private String toText(BenchResult result) {
    StringBuilder text = new StringBuilder();
    text.append(
        String.format(
            Locale.ROOT,
            "completed tasks/s  %.1f  (%d completed in %.3f s)%n",
            result.throughputPerSecond(),
            result.completed(),
            result.wall().toNanos() / 1e9));
    text.append(Latency.line(result.latency(), "task"));
    text.append(
        String.format(
            Locale.ROOT,
            "tasks              completed %d  failed %d  cancelled %d  errors %d  unfinished %d%n",
            result.completed(),
            result.failed(),
            result.cancelled(),
            result.errors(),
            result.unfinished()));
    text.append(
        String.format(
            "operator heap      used %s, after last GC %s, max %s",
            megabytes(result.heapUsedMb()),
            megabytes(result.heapAfterGcMb()),
            megabytes(result.heapMaxMb())));
    if (result.timedOut()) {
      text.append(
          String.format(
              Locale.ROOT,
              "%nstopped by --max-seconds %d with %d tasks unfinished",
              maxSeconds,
              result.unfinished()));
    }
    if (!result.errorSamples().isEmpty()) {
      text.append(String.format("%nfirst errors:"));
      result.errorSamples().forEach(error -> text.append(String.format("%n  %s", error)));
    }
    return text.toString();
  }

  private static String megabytes(Double value) {
    return value == null ? "unknown" : String.format(Locale.ROOT, "%.1f MB", value);
  }

  private static ObjectNode toJson(BenchResult result) {
    ObjectNode json = JSON.createObjectNode();
    json.put("tasks", result.tasks());
    json.put("completed", result.completed());
    json.put("failed", result.failed());
    json.put("cancelled", result.cancelled());
    json.put("errors", result.errors());
    json.put("unfinished", result.unfinished());
    json.put("timed_out", result.timedOut());
    json.put("wall_seconds", result.wall().toNanos() / 1e9);
    json.put("completed_per_second", result.throughputPerSecond());
    Latency.putJson(json, result.latency());
    json.put("heap_used_mb", result.heapUsedMb());
    json.put("heap_max_mb", result.heapMaxMb());
    json.put("heap_after_gc_mb", result.heapAfterGcMb());
    ArrayNode errorSamples = json.putArray("error_samples");
    result.errorSamples().forEach(errorSamples::add);
    return json;
  }
}
