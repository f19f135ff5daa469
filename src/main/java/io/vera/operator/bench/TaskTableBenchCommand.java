package io.vera.operator.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.api.VeraTaskStatus;
import io.vera.operator.cli.ProgressLine;
import io.vera.operator.embedded.EmbeddedApiServer;
import io.vera.operator.task.FinishedTaskIndex;
import io.vera.operator.task.FinishedTaskLabels;
import io.vera.operator.task.PoolKey;
import io.vera.operator.task.TaskKey;
import io.vera.operator.task.TaskQuery;
import io.vera.operator.task.TaskSnapshot;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code bench task-table}: what one page of the dashboard's task table costs the operator with
 * many finished tasks kept, and (given the operator's pid) the heap they take. {@code --seed} first
 * stores finished tasks on the API server as an operator leaves them (status final, marked
 * finished), without running them.
 */
@Command(
    name = "task-table",
    mixinStandardHelpOptions = true,
    description = {
      "Times pages of the dashboard's task table (/ui/api/tasks) sorted and filtered as a person"
          + " would (state, pool, handler, priority, text), several rounds each, and prints each"
          + " query's median and the median and p95 over all.",
      "--seed N first creates N finished tasks on the API server (a create and a status write"
          + " each, marked finished as the operator marks them): tasks finished by an earlier"
          + " operator. Restart the operator afterwards so it reads them, as it does at start.",
      "--operator-pid runs a full collection in the operator (jcmd GC.run) and prints the heap"
          + " in use and the task index's share from GC.class_histogram."
    })
public final class TaskTableBenchCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String[] HANDLERS = {"echo", "compute.sum", "compute.primes", "http.get"};
  private static final TaskPriority[] PRIORITIES = {
    TaskPriority.NORMAL, TaskPriority.LOW, TaskPriority.HIGH, TaskPriority.BACKGROUND
  };

  /** Pages a person asks for: newest, deep, by state, by text, by priority, by handler, by pool. */
  private static final List<String> QUERIES =
      List.of(
          "sort=created&order=desc&limit=50&offset=0",
          "sort=created&order=desc&limit=50&offset=5000",
          "state=completed&sort=duration&order=desc&limit=50&offset=0",
          "state=failed&sort=completed&order=desc&limit=50&offset=0",
          "q=table-0099&sort=handler&order=asc&limit=50&offset=0",
          "priority=low&sort=priority&order=asc&limit=50&offset=100",
          "handler=compute.sum&sort=created&order=asc&limit=50&offset=0",
          "pool=general&sort=phase&order=desc&limit=50&offset=0");

  @Spec private CommandSpec spec;

  @Option(
      names = "--url",
      defaultValue = "http://127.0.0.1:8000",
      description = "The operator's REST address (default: ${DEFAULT-VALUE}).")
  private URI url;

  @Option(
      names = "--token",
      description = "Bearer token for the REST API (in a cluster), default: none.")
  private String token;

  @Option(
      names = "--seed",
      defaultValue = "0",
      description = "Finished tasks to create first (default: ${DEFAULT-VALUE}).")
  private int seed;

  @Option(
      names = "--kubeconfig",
      description =
          "Kubeconfig of the API server to seed (default: $KUBECONFIG, else ~/.kube/config).")
  private Path kubeconfig;

  @Option(
      names = "--state-dir",
      description =
          "Seed an embedded operator's state directory directly (the operator stopped), much"
              + " faster than through its API server; instead of --kubeconfig.")
  private Path stateDir;

  @Option(
      names = "--namespace",
      defaultValue = "default",
      description = "Namespace of the operator's REST tasks, to seed (default: ${DEFAULT-VALUE}).")
  private String namespace;

  @Option(
      names = "--concurrency",
      defaultValue = "16",
      description = "Concurrent writers when seeding (default: ${DEFAULT-VALUE}).")
  private int concurrency;

  @Option(
      names = "--rounds",
      defaultValue = "5",
      description = "Times each page is asked for (default: ${DEFAULT-VALUE}).")
  private int rounds;

  @Option(
      names = "--index-only",
      defaultValue = "0",
      description =
          "Instead of asking an operator: fill this process's finished-task index with this many"
              + " tasks and time the same queries on it alone (what a page costs beyond reading"
              + " its 50 rows), with the heap it takes per task.")
  private int indexOnly;

  @Option(
      names = "--operator-pid",
      description = "The operator's process id, to read its heap after a full collection.")
  private Long operatorPid;

  @Override
  public Integer call() throws Exception {
    if (seed < 0 || rounds < 1 || concurrency < 1) {
      throw new ParameterException(
          spec.commandLine(), "--seed must be at least 0, --rounds and --concurrency at least 1");
    }
    PrintWriter out = spec.commandLine().getOut();
    if (indexOnly > 0) {
      indexOnly(out);
      return 0;
    }
    if (seed > 0) {
      seed(out);
      out.println("Seeded. Restart the operator so it reads them, then run again without --seed.");
      out.flush();
      return 0;
    }
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    JsonNode first = waitUntilComplete(http, out);
    out.printf(Locale.ROOT, "Task table at %s: %,d tasks%n", url, first.path("total").asLong());
    List<Double> all = new ArrayList<>();
    for (String query : QUERIES) {
      List<Double> times = new ArrayList<>();
      long total = 0;
      for (int round = 0; round < rounds; round++) {
        long started = System.nanoTime();
        JsonNode page = get(http, "/ui/api/tasks?" + query);
        times.add((System.nanoTime() - started) / 1e6);
        total = page.path("total").asLong();
      }
      all.addAll(times);
      out.printf(
          Locale.ROOT,
          "  %-62s %,8d matching  median %7.1f ms%n",
          query,
          total,
          percentile(times, 0.5));
    }
    out.printf(
        Locale.ROOT,
        "all %d requests: median %.1f ms, p95 %.1f ms, max %.1f ms%n",
        all.size(),
        percentile(all, 0.5),
        percentile(all, 0.95),
        percentile(all, 1.0));
    if (operatorPid != null) {
      out.println(heap(operatorPid));
    }
    out.flush();
    return 0;
  }

  /** Times the queries on an index of {@code indexOnly} tasks in this process, and its heap. */
  private void indexOnly(PrintWriter out) {
    long before = usedAfterGc();
    FinishedTaskIndex index = new FinishedTaskIndex((ns, each) -> {});
    Instant start = Instant.parse("2026-01-01T00:00:00Z");
    for (int n = 0; n < indexOnly; n++) {
      VeraTaskSpec spec = spec(n);
      Instant created = start.plusMillis(n * 37L);
      index.add(
          new TaskSnapshot(
              new TaskKey(
                  namespace,
                  UUID.nameUUIDFromBytes(new byte[] {(byte) n, (byte) (n >> 8), (byte) (n >> 16)})
                      .toString()),
              null,
              new String(spec.handler),
              spec.priority,
              spec.taskType,
              new PoolKey(namespace, spec.poolRef),
              spec.description,
              null,
              null,
              phase(n),
              null,
              1,
              0,
              0,
              null,
              null,
              null,
              created,
              created,
              created.plusMillis(5),
              created.plusMillis(10 + n % 997),
              null,
              null,
              null,
              null,
              null,
              null,
              null));
    }
    long after = usedAfterGc();
    out.printf(
        Locale.ROOT,
        "Index of %,d finished tasks in this process: %.1f MB, %.0f bytes per task%n",
        indexOnly,
        (after - before) / 1048576.0,
        (after - before) / (double) indexOnly);
    List<Double> all = new ArrayList<>();
    List<Double> allCpu = new ArrayList<>();
    for (String query : QUERIES) {
      Map<String, String> p = new java.util.HashMap<>();
      for (String pair : query.split("&")) {
        String[] kv = pair.split("=", 2);
        p.put(kv[0], kv[1]);
      }
      TaskQuery.Filter filter =
          new TaskQuery.Filter(
              namespace,
              p.containsKey("state")
                  ? Set.of(
                      p.get("state").equals("completed") ? TaskPhase.Succeeded : TaskPhase.Failed)
                  : Set.of(),
              p.get("pool"),
              p.get("handler"),
              p.containsKey("priority")
                  ? TaskPriority.parse(p.get("priority")).orElseThrow()
                  : null,
              p.get("q"));
      TaskQuery.Sort sort = TaskQuery.Sort.parse(p.get("sort")).orElseThrow();
      int keep = Integer.parseInt(p.get("offset")) + Integer.parseInt(p.get("limit"));
      List<Double> times = new ArrayList<>();
      long matched = 0;
      ThreadMXBean threads = ManagementFactory.getThreadMXBean();
      for (int round = 0; round < rounds + 2; round++) {
        long started = System.nanoTime();
        long cpuStarted = threads.getCurrentThreadCpuTime();
        matched =
            index.top(filter, sort, p.get("order").equals("desc"), Set.of(), keep, 0).matched();
        if (round >= 2) {
          times.add((System.nanoTime() - started) / 1e6);
          allCpu.add((threads.getCurrentThreadCpuTime() - cpuStarted) / 1e6);
        }
      }
      all.addAll(times);
      out.printf(
          Locale.ROOT,
          "  %-62s %,8d matching  median %7.1f ms%n",
          query,
          matched,
          percentile(times, 0.5));
    }
    out.printf(
        Locale.ROOT,
        "all %d queries (2 warm-up rounds each not counted): median %.1f ms, p95 %.1f ms;"
            + " CPU median %.1f ms, p95 %.1f ms%n",
        all.size(),
        percentile(all, 0.5),
        percentile(all, 0.95),
        percentile(allCpu, 0.5),
        percentile(allCpu, 0.95));
  }

  private static long usedAfterGc() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    Runtime runtime = Runtime.getRuntime();
    return runtime.totalMemory() - runtime.freeMemory();
  }

  private static TaskPhase phase(int n) {
    return n % 10 == 0 ? TaskPhase.Failed : TaskPhase.Succeeded;
  }

  private VeraTaskSpec spec(int n) {
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.handler = HANDLERS[n % HANDLERS.length];
    spec.priority = PRIORITIES[n % PRIORITIES.length];
    spec.taskType = TaskType.GENERAL;
    spec.poolRef = n % 3 == 0 ? "background" : "general";
    spec.description = "bench task " + n;
    spec.payload = JSON.createObjectNode().put("n", n);
    return spec;
  }

  /** The first page, once the operator has read every finished task (at most 10 minutes). */
  private JsonNode waitUntilComplete(HttpClient http, PrintWriter out) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
    while (true) {
      JsonNode page = get(http, "/ui/api/tasks?limit=1");
      if (page.path("complete").asBoolean(true) || System.nanoTime() > deadline) {
        return page;
      }
      out.printf(
          Locale.ROOT, "operator still reading finished tasks (%,d so far)%n", page.get("total"));
      out.flush();
      Thread.sleep(2000);
    }
  }

  private JsonNode get(HttpClient http, String pathAndQuery)
      throws IOException, InterruptedException {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(url.resolve(pathAndQuery)).timeout(Duration.ofSeconds(60)).GET();
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    HttpResponse<String> response =
        http.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    if (response.statusCode() != 200) {
      throw new IOException("HTTP " + response.statusCode() + " from " + pathAndQuery);
    }
    return JSON.readTree(response.body());
  }

  private void seed(PrintWriter out) throws Exception {
    EmbeddedApiServer embedded =
        stateDir == null ? null : EmbeddedApiServer.startDurable(0, stateDir, false);
    try (KubernetesClient client = embedded == null ? client() : embedded.client()) {
      if (embedded != null) {
        embedded.installCrds();
      }
      ExecutorService writers = Executors.newFixedThreadPool(concurrency);
      AtomicInteger done = new AtomicInteger();
      ProgressLine progress = ProgressLine.onTerminal();
      try {
        List<Future<?>> futures = new ArrayList<>();
        for (int w = 0; w < concurrency; w++) {
          int writer = w;
          futures.add(
              writers.submit(
                  () -> {
                    for (int n = writer; n < seed; n += concurrency) {
                      store(client, n);
                      progress.update(
                          String.format(
                              Locale.ROOT, "seeded %,d of %,d", done.incrementAndGet(), seed));
                    }
                    return null;
                  }));
        }
        for (Future<?> f : futures) {
          f.get();
        }
      } finally {
        writers.shutdownNow();
        progress.close();
      }
      out.printf(Locale.ROOT, "seeded %,d finished tasks in namespace %s%n", seed, namespace);
    } finally {
      if (embedded != null) {
        embedded.close();
      }
    }
  }

  /** One finished task as the operator leaves it: status final, then marked finished. */
  private void store(KubernetesClient client, int n) {
    Instant created = Instant.now();
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace(namespace)
            .withName(String.format("table-%06d", n))
            .withLabels(Map.of(FinishedTaskLabels.FINISHED, "true"))
            .build());
    VeraTaskSpec spec = spec(n);
    task.setSpec(spec);
    VeraTask stored = client.resource(task).create();
    VeraTaskStatus status = new VeraTaskStatus();
    status.phase = phase(n);
    status.attempts = 1;
    status.startTime = created.plusMillis(5).toString();
    status.completionTime = created.plusMillis(10 + n % 997).toString();
    status.result = JSON.createObjectNode().put("echo", n);
    status.pool = spec.poolRef;
    stored.setStatus(status);
    client.resource(stored).updateStatus();
  }

  private KubernetesClient client() throws IOException {
    Config config =
        kubeconfig == null
            ? Config.autoConfigure(null)
            : Config.fromKubeconfig(null, Files.readString(kubeconfig), kubeconfig.toString());
    return new KubernetesClientBuilder()
        .withHttpClientFactory(new JdkHttpClientFactory())
        .withConfig(config)
        .build();
  }

  /** Heap in use after a full collection, and what the finished-task index holds of it. */
  static String heap(long pid) throws InterruptedException {
    String after = SoakBench.heapAfterFullGc(pid);
    String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
    try {
      Process process =
          new ProcessBuilder(jcmd, Long.toString(pid), "GC.class_histogram")
              .redirectErrorStream(true)
              .start();
      String histogram =
          new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      process.waitFor(1, TimeUnit.MINUTES);
      for (String line : histogram.split("\n")) {
        if (line.trim().endsWith("FinishedTaskIndex$Row")) {
          String[] cells = line.trim().split("\\s+");
          return String.format(
              Locale.ROOT,
              "%s; index rows: %,d instances, %,d bytes (plus their ids and map entries)",
              after,
              Long.parseLong(cells[1]),
              Long.parseLong(cells[2]));
        }
      }
      return after + "; no index rows in the class histogram";
    } catch (IOException e) {
      return after + "; class histogram unavailable: " + e.getMessage();
    }
  }

  private static double percentile(List<Double> values, double p) {
    List<Double> sorted = new ArrayList<>(values);
    sorted.sort(Double::compare);
    int index = (int) Math.ceil(p * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
  }
}
