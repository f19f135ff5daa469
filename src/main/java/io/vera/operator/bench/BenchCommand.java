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
    subcommands = DockerBenchCommand.class,
    description = {
      "Submits tasks through the REST API of a running operator from concurrent clients, each"
          + " waiting for its task's result before submitting the next, and prints completed"
          + " tasks/s, submit-to-completed latency percentiles and the operator's heap.",
      "Exits 0 when every measured task completed, 1 otherwise.",
      "'bench docker' compares Vera's Docker host with the docker CLI instead."
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
      description = "Tasks run first and not measured (default: ${DEFAULT-VALUE}).")
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

  @Override
  public Integer call() throws InterruptedException {
    RestBench.Settings settings = settings();
    PrintWriter out = spec.commandLine().getOut();
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
    Latency latency = result.latency();
    text.append(
        latency == null
            ? String.format("latency ms         n/a (no task completed)%n")
            : String.format(
                Locale.ROOT,
                "latency ms         p50 %.3f  p95 %.3f  p99 %.3f  max %.3f%n",
                latency.p50Ms(),
                latency.p95Ms(),
                latency.p99Ms(),
                latency.maxMs()));
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
    Latency latency = result.latency();
    if (latency == null) {
      json.putNull("latency_ms");
    } else {
      ObjectNode latencyJson = json.putObject("latency_ms");
      latencyJson.put("p50", latency.p50Ms());
      latencyJson.put("p95", latency.p95Ms());
      latencyJson.put("p99", latency.p99Ms());
      latencyJson.put("max", latency.maxMs());
    }
    json.put("heap_used_mb", result.heapUsedMb());
    json.put("heap_max_mb", result.heapMaxMb());
    json.put("heap_after_gc_mb", result.heapAfterGcMb());
    ArrayNode errorSamples = json.putArray("error_samples");
    result.errorSamples().forEach(errorSamples::add);
    return json;
  }
}
