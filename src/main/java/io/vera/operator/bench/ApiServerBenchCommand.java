package io.vera.operator.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.api.VeraTaskStatus;
import io.vera.operator.bench.RestBench.Latency;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code bench apiserver}: the floor the operator's cluster-mode throughput is judged against. It
 * does a task's raw life cycle on the API server and nothing else: per task one create of a
 * VeraTask like the one a REST submit makes, then two merge patches of its status (Running, then
 * Succeeded), from concurrent clients, with the same Kubernetes client and HTTP stack as the
 * operator. No operator runs the tasks; no informer watches them.
 */
@Command(
    name = "apiserver",
    mixinStandardHelpOptions = true,
    description = {
      "Does the raw life cycle of a task on a Kubernetes API server from concurrent clients: per"
          + " task one create of a VeraTask (as a REST submit makes it) and two merge patches of"
          + " its status, Running then Succeeded, each client waiting for one before the next."
          + " Prints life cycles/s and create-to-Succeeded latency percentiles.",
      "Run it alternately with 'bench' against an operator on the same API server: the ratio of"
          + " the two throughputs is what the operator costs over the naive three writes per task.",
      "The namespace must exist and no operator should watch it. The tasks it made are deleted"
          + " at the end (not measured) unless --keep. Exits 0 when every measured life cycle"
          + " completed, 1 otherwise."
    })
public final class ApiServerBenchCommand implements Callable<Integer> {
  /** Label on every task this command creates, with the run's id, so one call deletes them. */
  static final String RUN_LABEL = "vera.io/bench-run";

  private static final ObjectMapper JSON = Serialization.jsonMapper();
  private static final int ERROR_SAMPLES = 5;

  @Spec private CommandSpec spec;

  @Option(
      names = "--kubeconfig",
      description = "Kubeconfig of the API server (default: $KUBECONFIG, else ~/.kube/config).")
  private Path kubeconfig;

  @Option(
      names = "--namespace",
      defaultValue = "vera-bench-raw",
      description = "Namespace to create the tasks in (default: ${DEFAULT-VALUE}).")
  private String namespace;

  @Option(
      names = "--tasks",
      defaultValue = "3000",
      description = "Life cycles to measure (default: ${DEFAULT-VALUE}).")
  private int tasks;

  @Option(
      names = "--concurrency",
      defaultValue = "32",
      description = "Concurrent clients (default: ${DEFAULT-VALUE}).")
  private int concurrency;

  @Option(
      names = "--warmup",
      defaultValue = "100",
      description = "Life cycles run first and not measured (default: ${DEFAULT-VALUE}).")
  private int warmup;

  @Option(
      names = "--max-seconds",
      defaultValue = "600",
      description = "Stop after this many seconds, finished or not (default: ${DEFAULT-VALUE}).")
  private int maxSeconds;

  @Option(names = "--keep", description = "Leave the tasks in the namespace instead of deleting.")
  private boolean keep;

  @Option(names = "--json", description = "Print the figures as one JSON object.")
  private boolean json;

  @Override
  public Integer call() throws InterruptedException {
    if (tasks < 1 || concurrency < 1 || warmup < 0 || maxSeconds < 1) {
      throw new ParameterException(
          spec.commandLine(),
          String.format(
              Locale.ROOT,
              "--tasks, --concurrency and --max-seconds must be at least 1 and --warmup at least"
                  + " 0, got %d, %d, %d and %d",
              tasks,
              concurrency,
              maxSeconds,
              warmup));
    }
    PrintWriter out = spec.commandLine().getOut();
    String runId = UUID.randomUUID().toString().substring(0, 8);
    try (KubernetesClient client = client()) {
      if (client.namespaces().withName(namespace).get() == null) {
        throw new ParameterException(
            spec.commandLine(),
            "namespace '"
                + namespace
                + "' does not exist; create it: kubectl create ns "
                + namespace);
      }
      if (!json) {
        out.printf(
            Locale.ROOT,
            "Raw task life cycle on %s, namespace %s: %d tasks (after %d warmup) from %d"
                + " clients, at most %d s%n",
            client.getMasterUrl(),
            namespace,
            tasks,
            warmup,
            concurrency,
            maxSeconds);
        out.flush();
      }
      LifeCycles run = new LifeCycles(client, namespace, runId, concurrency);
      Result result;
      try {
        long deadline = System.nanoTime() + Duration.ofSeconds(maxSeconds).toNanos();
        if (warmup > 0) {
          run.phase(warmup, deadline);
        }
        result = run.phase(tasks, deadline);
      } finally {
        run.close();
        if (!keep) {
          client
              .resources(VeraTask.class)
              .inNamespace(namespace)
              .withLabel(RUN_LABEL, runId)
              .delete();
        }
      }
      out.println(json ? toJson(result).toString() : toText(result));
      out.flush();
      return result.completed() == tasks ? 0 : 1;
    }
  }

  private KubernetesClient client() {
    Config config;
    if (kubeconfig == null) {
      config = Config.autoConfigure(null);
    } else {
      try {
        config = Config.fromKubeconfig(null, Files.readString(kubeconfig), kubeconfig.toString());
      } catch (IOException e) {
        throw new ParameterException(
            spec.commandLine(), "cannot read --kubeconfig " + kubeconfig + ": " + e.getMessage());
      }
    }
    return new KubernetesClientBuilder()
        .withHttpClientFactory(new JdkHttpClientFactory())
        .withConfig(config)
        .build();
  }

  /**
   * Figures of the measured life cycles.
   *
   * @param wall from the first create to the last Succeeded patch
   * @param latency create-to-Succeeded; null when none completed
   */
  record Result(
      int tasks,
      long completed,
      long errors,
      Duration wall,
      Latency latency,
      List<String> errorSamples,
      boolean timedOut) {
    double perSecond() {
      return completed == 0 || wall.isZero() ? 0 : completed / (wall.toNanos() / 1e9);
    }
  }

  /** The clients and the three writes each of them makes per task. */
  static final class LifeCycles implements AutoCloseable {
    private final KubernetesClient client;
    private final String namespace;
    private final String runId;
    private final int concurrency;
    private final ExecutorService clients;

    LifeCycles(KubernetesClient client, String namespace, String runId, int concurrency) {
      this.client = client;
      this.namespace = namespace;
      this.runId = runId;
      this.concurrency = concurrency;
      this.clients = Executors.newFixedThreadPool(concurrency);
    }

    Result phase(int count, long deadline) throws InterruptedException {
      Phase phase = new Phase(count);
      List<Future<?>> running = new ArrayList<>();
      for (int i = 0; i < concurrency; i++) {
        running.add(
            clients.submit(
                () -> {
                  while (System.nanoTime() - deadline < 0 && phase.claim()) {
                    lifeCycle(phase);
                  }
                }));
      }
      for (Future<?> client : running) {
        try {
          client.get();
        } catch (ExecutionException e) {
          throw new IllegalStateException("A bench client failed", e.getCause());
        }
      }
      return phase.result();
    }

    private void lifeCycle(Phase phase) {
      long started = System.nanoTime();
      phase.started(started);
      String name = UUID.randomUUID().toString();
      try {
        Instant created = Instant.now();
        client.resources(VeraTask.class).inNamespace(namespace).resource(newTask(name)).create();
        VeraTaskStatus status = new VeraTaskStatus();
        status.phase = TaskPhase.Running;
        status.pool = "general";
        status.attempts = 1;
        status.worker = "bench-apiserver";
        status.leaseId = UUID.randomUUID().toString();
        status.queuedTime = created.toString();
        status.startTime = Instant.now().toString();
        status.leaseExpireTime = Instant.now().plusSeconds(30).toString();
        status.observedGeneration = 1L;
        status.conditions = List.of(condition("Unknown", "Running", "attempt 1 running"));
        patchStatus(name, status);
        status.phase = TaskPhase.Succeeded;
        status.leaseId = null;
        status.leaseExpireTime = null;
        status.completionTime = Instant.now().toString();
        status.result = JSON.createObjectNode().set("echo", JSON.createObjectNode());
        status.conditions = List.of(condition("True", "Succeeded", "succeeded after 1 attempt(s)"));
        patchStatus(name, status);
        phase.completed(started, System.nanoTime());
      } catch (KubernetesClientException e) {
        phase.error("HTTP " + e.getCode() + ": " + e.getMessage());
      }
    }

    private VeraTask newTask(String name) {
      VeraTask task = new VeraTask();
      task.setMetadata(
          new ObjectMetaBuilder()
              .withName(name)
              .withNamespace(namespace)
              .withLabels(Map.of("vera.io/source", "bench", RUN_LABEL, runId))
              .build());
      VeraTaskSpec spec = new VeraTaskSpec();
      spec.handler = "echo";
      spec.payload = JSON.createObjectNode();
      spec.context = JSON.createObjectNode();
      spec.priority = TaskPriority.NORMAL;
      spec.ttlSecondsAfterFinished = 3600;
      task.setSpec(spec);
      return task;
    }

    /**
     * A merge patch of the status subresource, addressed with an object so the client sends it
     * straight away instead of reading the task first.
     */
    private void patchStatus(String name, VeraTaskStatus status) {
      VeraTask target = new VeraTask();
      target.setMetadata(new ObjectMetaBuilder().withNamespace(namespace).withName(name).build());
      ObjectNode patch = JSON.createObjectNode();
      patch.set("status", JSON.valueToTree(status));
      client
          .resources(VeraTask.class)
          .inNamespace(namespace)
          .resource(target)
          .subresource("status")
          .patch(PatchContext.of(PatchType.JSON_MERGE), patch.toString());
    }

    private static io.fabric8.kubernetes.api.model.Condition condition(
        String status, String reason, String message) {
      return new ConditionBuilder()
          .withType("Succeeded")
          .withStatus(status)
          .withReason(reason)
          .withMessage(message)
          .withObservedGeneration(1L)
          .withLastTransitionTime(Instant.now().truncatedTo(ChronoUnit.SECONDS).toString())
          .build();
    }

    @Override
    public void close() {
      clients.shutdownNow();
    }
  }

  /** Counters of one phase, shared by its clients. */
  private static final class Phase {
    private final int tasks;
    private final AtomicInteger claimed = new AtomicInteger();
    private final AtomicInteger completed = new AtomicInteger();
    private final AtomicLong errors = new AtomicLong();
    private final long[] latencies;
    private final AtomicLong firstStart = new AtomicLong(Long.MAX_VALUE);
    private final AtomicLong lastCompletion = new AtomicLong(Long.MIN_VALUE);
    private final List<String> errorSamples = new ArrayList<>();

    Phase(int tasks) {
      this.tasks = tasks;
      this.latencies = new long[tasks];
    }

    boolean claim() {
      return claimed.getAndIncrement() < tasks;
    }

    void started(long at) {
      firstStart.accumulateAndGet(at, Math::min);
    }

    void completed(long started, long at) {
      latencies[completed.getAndIncrement()] = at - started;
      lastCompletion.accumulateAndGet(at, Math::max);
    }

    synchronized void error(String message) {
      errors.incrementAndGet();
      if (errorSamples.size() < ERROR_SAMPLES) {
        errorSamples.add(message);
      }
    }

    synchronized Result result() {
      int done = completed.get();
      long[] sorted = Arrays.copyOf(latencies, done);
      Arrays.sort(sorted);
      Latency latency =
          done == 0
              ? null
              : new Latency(
                  RestBench.percentile(sorted, 50) / 1e6,
                  RestBench.percentile(sorted, 95) / 1e6,
                  RestBench.percentile(sorted, 99) / 1e6,
                  sorted[done - 1] / 1e6);
      Duration wall =
          done == 0 ? Duration.ZERO : Duration.ofNanos(lastCompletion.get() - firstStart.get());
      return new Result(
          tasks,
          done,
          errors.get(),
          wall,
          latency,
          List.copyOf(errorSamples),
          done + errors.get() < tasks);
    }
  }

  private static String toText(Result result) {
    StringBuilder text = new StringBuilder();
    text.append(
        String.format(
            Locale.ROOT,
            "life cycles/s      %.1f  (%d completed in %.3f s, 3 API requests each)%n",
            result.perSecond(),
            result.completed(),
            result.wall().toNanos() / 1e9));
    text.append(Latency.line(result.latency(), "life cycle"));
    text.append(
        String.format(
            Locale.ROOT,
            "life cycles        completed %d  errors %d  unfinished %d",
            result.completed(),
            result.errors(),
            result.tasks() - result.completed() - result.errors()));
    if (result.timedOut()) {
      text.append(String.format("%nstopped by --max-seconds before every life cycle finished"));
    }
    result.errorSamples().forEach(error -> text.append(String.format("%n  %s", error)));
    return text.toString();
  }

  private static ObjectNode toJson(Result result) {
    ObjectNode json = JSON.createObjectNode();
    json.put("tasks", result.tasks());
    json.put("completed", result.completed());
    json.put("errors", result.errors());
    json.put("timed_out", result.timedOut());
    json.put("wall_seconds", result.wall().toNanos() / 1e9);
    json.put("completed_per_second", result.perSecond());
    Latency.putJson(json, result.latency());
    json.putArray("error_samples")
        .addAll(result.errorSamples().stream().map(JSON.getNodeFactory()::textNode).toList());
    return json;
  }
}
