package io.vera.operator.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.embedded.EmbeddedApiServer;
import io.vera.operator.embedded.KubeconfigWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The operator process is SIGKILLed while 1,000 tasks are queued or running and a new process is
 * started: the API server (here, in the test JVM) survives, and every task ends Succeeded, Failed
 * or Cancelled exactly as its retries allow, none lost and none stuck. The number of attempts the
 * kill cost is printed.
 *
 * <p>{@code -Dvera.killTest.tasks=N} changes the number of tasks (CI runs 1,000).
 */
class OperatorKillTest {
  private static final String NS = "default";
  private static final String POOL = "kill-pool";
  private static final String HELD_POOL = "kill-held";
  private static final int TASKS = Integer.getInteger("vera.killTest.tasks", 1000);
  private static final Duration SETTLE = Duration.ofSeconds(150);
  private static final Path LOGS = Path.of("target", "operator-kill-logs");
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What a task is, so its end can be judged. */
  private enum Kind {
    ECHO,
    SLEEP,
    FAIL_ALWAYS,
    FAIL_ONCE,
    CANCEL_QUEUED,
    CANCEL_LONG
  }

  private record Planned(String name, Kind kind, int retryLimit) {
    /** Attempts the task takes when nothing goes wrong. */
    int expectedAttempts() {
      return switch (kind) {
        case FAIL_ALWAYS -> retryLimit + 1;
        case FAIL_ONCE -> 2;
        default -> 1;
      };
    }
  }

  private EmbeddedApiServer server;
  private KubernetesClient client;
  private Path kubeconfig;
  private final List<Process> operators = new ArrayList<>();
  private final HttpClient http = HttpClient.newHttpClient();

  /** An operator process and its REST port. */
  private record Operator(Process process, int port) {}

  /**
   * Counts the attempts an operator starts, from its WebSocket's task_started events: the status of
   * a short task may never record it ran before the kill, its events do.
   */
  private static final class StartCounter implements WebSocket.Listener {
    final Map<String, Integer> starts = new ConcurrentHashMap<>();
    private final AtomicInteger total = new AtomicInteger();

    int total() {
      return total.get();
    }

    private final StringBuilder partial = new StringBuilder();
    volatile boolean closed;

    @Override
    public CompletionStage<?> onText(WebSocket socket, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        try {
          JsonNode message = JSON.readTree(partial.toString());
          if ("task_started".equals(message.path("type").asText())) {
            starts.merge(message.path("data").path("task_id").asText(), 1, Integer::sum);
            total.incrementAndGet();
          }
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        partial.setLength(0);
      }
      socket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket socket, int code, String reason) {
      closed = true;
      return null;
    }

    @Override
    public void onError(WebSocket socket, Throwable error) {
      closed = true;
    }
  }

  @BeforeEach
  void startApiServer() throws IOException {
    Files.createDirectories(LOGS);
    server = EmbeddedApiServer.start(0);
    server.installCrds();
    client = server.client();
    kubeconfig = LOGS.resolve("kubeconfig").toAbsolutePath();
    KubeconfigWriter.write(kubeconfig, server.url(), NS);
  }

  @AfterEach
  void stopAll() throws InterruptedException {
    for (Process operator : operators) {
      operator.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    server.close();
  }

  @Test
  void everyTaskEndsAsItsRetriesAllowAfterTheOperatorIsKilled() throws Exception {
    createPool(POOL, true);
    createPool(HELD_POOL, true);
    List<Planned> plan = plan();
    long startedAt = System.nanoTime();
    createAll(plan);
    long createdAt = System.nanoTime();
    List<Planned> cancelNow = new ArrayList<>();
    List<Planned> cancelLater = new ArrayList<>();
    for (Planned task : plan) {
      if (task.kind() == Kind.CANCEL_QUEUED || task.kind() == Kind.CANCEL_LONG) {
        (cancelNow.size() <= cancelLater.size() ? cancelNow : cancelLater).add(task);
      }
    }

    Operator first = startOperator("operator-1");
    StartCounter firstStarts = watchStarts(first);
    suspend(POOL, false);
    long resumedAt = System.nanoTime();
    // The sleeps alone keep the pool's slots busy for at least 200 × 2 s / 14 ≈ 28 s, so a kill 5 s
    // after the first attempt started finds most tasks queued or running, however fast the machine.
    while (firstStarts.total() == 0) {
      assertThat(first.process().isAlive()).isTrue();
      assertThat(System.nanoTime() - resumedAt - SETTLE.toNanos())
          .as("operator 1 starts a task")
          .isNegative();
      Thread.sleep(20);
    }
    Thread.sleep(5000);
    cancelNow.forEach(t -> cancel(t.name()));
    Map<TaskPhase, Integer> atKill = countPhases();
    int unfinished = unfinishedIn(first);
    first.process().destroyForcibly();
    long killedAt = System.nanoTime();
    assertThat(first.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
    Map<TaskPhase, Integer> afterKill = countPhases();
    assertThat(afterKill.getOrDefault(TaskPhase.Succeeded, 0))
        .as("the kill came mid-run, not at the end")
        .isLessThan(TASKS / 2);

    // The new process starts with the pool suspended, so its WebSocket sees every attempt it runs.
    suspend(POOL, true);
    Operator second = startOperator("operator-2");
    StartCounter secondStarts = watchStarts(second);
    cancelLater.forEach(t -> cancel(t.name()));
    suspend(POOL, false);
    long restartedAt = System.nanoTime();
    waitForPhases(second.process(), c -> finished(c) == TASKS);
    double settleSeconds = (System.nanoTime() - restartedAt) / 1e9;
    // The WebSocket may still be delivering the last events.
    int seen = -1;
    while (seen != secondStarts.total()) {
      seen = secondStarts.total();
      Thread.sleep(1000);
    }
    assertThat(secondStarts.closed).as("the second operator's WebSocket stayed open").isFalse();

    Map<String, VeraTask> stored = new HashMap<>();
    for (VeraTask task : client.resources(VeraTask.class).inNamespace(NS).list().getItems()) {
      stored.put(task.getMetadata().getName(), task);
    }
    assertThat(stored).as("no task lost").hasSize(TASKS);
    int reruns = 0;
    int rerunTasks = 0;
    int runs = 0;
    int expectedRuns = 0;
    int extraRuns = 0;
    int leaseExpiredFailures = 0;
    Map<Kind, Map<TaskPhase, Integer>> outcomes = new EnumMap<>(Kind.class);
    List<String> problems = new ArrayList<>();
    for (Planned task : plan) {
      VeraTask resource = stored.get(task.name());
      if (resource == null) {
        problems.add(task + ": lost");
        continue;
      }
      var status = resource.getStatus();
      TaskPhase phase = status.phase;
      int attempts = status.attempts == null ? 0 : status.attempts;
      String errorType = status.error == null ? null : status.error.type;
      outcomes
          .computeIfAbsent(task.kind(), k -> new EnumMap<>(TaskPhase.class))
          .merge(phase, 1, Integer::sum);
      if (attempts > task.retryLimit() + 1) {
        problems.add(task + ": " + attempts + " attempts, more than its retries allow");
      }
      boolean retriesSpentByKill =
          attempts == task.retryLimit() + 1 && "LeaseExpired".equals(errorType);
      switch (task.kind()) {
        case CANCEL_QUEUED, CANCEL_LONG -> {
          if (phase != TaskPhase.Cancelled) {
            problems.add(task + ": cancelled but ended " + phase);
          }
        }
        case FAIL_ALWAYS -> {
          if (phase != TaskPhase.Failed || attempts != task.retryLimit() + 1) {
            problems.add(task + ": ended " + phase + " after " + attempts + " attempts");
          }
        }
        default -> {
          boolean ok =
              (phase == TaskPhase.Succeeded && attempts >= task.expectedAttempts())
                  || (phase == TaskPhase.Failed && retriesSpentByKill);
          if (!ok) {
            problems.add(
                task + ": ended " + phase + " (" + errorType + ") after " + attempts + " attempts");
          }
        }
      }
      if (task.kind() != Kind.CANCEL_QUEUED && task.kind() != Kind.CANCEL_LONG) {
        int ran =
            firstStarts.starts.getOrDefault(task.name(), 0)
                + secondStarts.starts.getOrDefault(task.name(), 0);
        runs += ran;
        expectedRuns += task.expectedAttempts();
        extraRuns += Math.max(0, ran - task.expectedAttempts());
        int extra = Math.max(0, attempts - task.expectedAttempts());
        reruns += extra;
        rerunTasks += extra > 0 ? 1 : 0;
      }
      if (phase == TaskPhase.Failed && "LeaseExpired".equals(errorType)) {
        leaseExpiredFailures++;
      }
    }
    System.out.printf(
        "operator SIGKILL with %d tasks (created in %.1f s, killed %.1f s after the pool was"
            + " resumed, with %d unfinished in the operator's memory): stored phases"
            + " just before the kill %s, just after %s;"
            + " after the restart every task finished in %.1f s; outcomes by kind %s.%n"
            + "Re-runs caused by the kill: %d attempts counted in status beyond the expected"
            + " (over %d tasks); %d runs seen on the WebSockets (%d before the kill, %d after)"
            + " for %d expected, %d of them extra; %d tasks failed because the kill spent their"
            + " last attempt (LeaseExpired)%n",
        TASKS,
        (createdAt - startedAt) / 1e9,
        (killedAt - resumedAt) / 1e9,
        unfinished,
        atKill,
        afterKill,
        settleSeconds,
        outcomes,
        reruns,
        rerunTasks,
        runs,
        firstStarts.starts.values().stream().mapToInt(Integer::intValue).sum(),
        secondStarts.starts.values().stream().mapToInt(Integer::intValue).sum(),
        expectedRuns,
        extraRuns,
        leaseExpiredFailures);
    assertThat(problems).isEmpty();
    second.process().destroy();
    assertThat(second.process().waitFor(20, TimeUnit.SECONDS)).isTrue();
  }

  // ---- the plan ------------------------------------------------------------------------------

  private static List<Planned> plan() {
    List<Planned> plan = new ArrayList<>();
    for (int i = 0; i < TASKS; i++) {
      int slot = i % 100;
      Kind kind =
          slot < 60
              ? Kind.ECHO
              : slot < 80
                  ? Kind.SLEEP
                  : slot < 85
                      ? Kind.FAIL_ALWAYS
                      : slot < 90
                          ? Kind.FAIL_ONCE
                          : slot < 95
                              ? Kind.CANCEL_QUEUED
                              : slot == 95 ? Kind.CANCEL_LONG : Kind.ECHO;
      // A cancelled task keeps a retry in hand: an attempt the kill ends is retried, then
      // cancelled.
      int limit =
          kind == Kind.FAIL_ONCE || kind == Kind.CANCEL_QUEUED || kind == Kind.CANCEL_LONG
              ? 1 + i % 2
              : i % 3;
      plan.add(
          new Planned(
              String.format("kill-%04d-%s", i, kind.name().toLowerCase().replace('_', '-')),
              kind,
              limit));
    }
    return plan;
  }

  private void createAll(List<Planned> plan) throws Exception {
    ExecutorService creators = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> created = new ArrayList<>();
      for (Planned task : plan) {
        created.add(creators.submit(() -> create(task)));
      }
      for (Future<?> f : created) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      creators.shutdownNow();
    }
  }

  private void create(Planned planned) {
    VeraTaskSpec spec = new VeraTaskSpec();
    ObjectNode payload = JSON.createObjectNode();
    spec.poolRef = POOL;
    spec.timeoutSeconds = 120;
    switch (planned.kind()) {
      case ECHO -> {
        spec.handler = "echo";
        payload.put("n", planned.name());
      }
      case SLEEP -> {
        spec.handler = "sleep";
        payload.put("seconds", 2);
      }
      case FAIL_ALWAYS -> {
        spec.handler = "fail";
        payload.put("message", "planned failure");
      }
      case FAIL_ONCE -> {
        spec.handler = "fail";
        payload.put("failAttempts", 1);
      }
      case CANCEL_QUEUED -> {
        spec.handler = "echo";
        spec.poolRef = HELD_POOL;
      }
      case CANCEL_LONG -> {
        spec.handler = "sleep";
        payload.put("seconds", 110);
      }
    }
    spec.payload = payload;
    spec.retries = new VeraTaskSpec.RetryPolicy();
    spec.retries.limit = planned.retryLimit();
    spec.retries.backoffSeconds = 1;
    spec.retries.maxBackoffSeconds = 2;
    VeraTask task = new VeraTask();
    task.setMetadata(new ObjectMetaBuilder().withName(planned.name()).withNamespace(NS).build());
    task.setSpec(spec);
    client.resource(task).create();
  }

  // ---- the operator process ------------------------------------------------------------------

  /** Starts {@code vera-operator run} against the API server and waits until it serves REST. */
  private Operator startOperator(String name) throws Exception {
    int port;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort();
    }
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder builder =
        new ProcessBuilder(
                java.toString(),
                "-Xmx256m",
                "-cp",
                System.getProperty("java.class.path"),
                "io.vera.operator.cli.VeraCommand",
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                Integer.toString(port),
                "--namespace",
                NS,
                "--watch-namespace",
                NS,
                "--operator-url",
                "http://127.0.0.1:" + port,
                // One process at a time against a test API server that reviews no tokens.
                "--no-leader-election",
                "--insecure-disable-auth")
            .redirectErrorStream(true)
            .redirectOutput(LOGS.resolve(name + ".log").toFile());
    builder.environment().put("KUBECONFIG", kubeconfig.toString());
    builder.environment().put("KUBERNETES_HTTP2_DISABLE", "true");
    Process process = builder.start();
    operators.add(process);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      assertThat(process.isAlive()).as("operator %s is running", name).isTrue();
      assertThat(System.nanoTime() - deadline).as("operator %s serves REST", name).isNegative();
      try {
        HttpResponse<String> health =
            http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/healthz")).build(),
                HttpResponse.BodyHandlers.ofString());
        if (health.statusCode() == 200) {
          return new Operator(process, port);
        }
      } catch (IOException e) {
        // not listening yet
      }
      Thread.sleep(200);
    }
  }

  /** Queued plus running tasks, as the operator counts them in memory. */
  private int unfinishedIn(Operator operator) throws Exception {
    HttpResponse<String> answer =
        http.send(
            HttpRequest.newBuilder(
                    URI.create(
                        "http://127.0.0.1:" + operator.port() + "/orchestrator/system/metrics"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    JsonNode metrics = JSON.readTree(answer.body()).path("metrics");
    return metrics.path("queue_size").asInt() + metrics.path("active_tasks").asInt();
  }

  private StartCounter watchStarts(Operator operator) {
    StartCounter counter = new StartCounter();
    http.newWebSocketBuilder()
        .buildAsync(
            URI.create("ws://127.0.0.1:" + operator.port() + "/orchestrator/ws/updates"), counter)
        .join();
    return counter;
  }

  // ---- resources -----------------------------------------------------------------------------

  private void createPool(String name, boolean suspended) {
    WorkerPool pool = new WorkerPool();
    pool.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    WorkerPoolSpec spec = new WorkerPoolSpec();
    spec.taskType = TaskType.GENERAL;
    spec.runtime = WorkerPoolSpec.Runtime.Embedded;
    spec.replicas = 4;
    spec.concurrencyPerWorker = 6;
    spec.cpuThresholdPercent = 100.0;
    spec.suspend = suspended;
    pool.setSpec(spec);
    client.resource(pool).create();
  }

  private void suspend(String pool, boolean suspended) {
    client
        .resources(WorkerPool.class)
        .inNamespace(NS)
        .withName(pool)
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"suspend\":" + suspended + "}}");
  }

  private void cancel(String task) {
    client
        .resources(VeraTask.class)
        .inNamespace(NS)
        .withName(task)
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"cancel\":true}}");
  }

  private Map<TaskPhase, Integer> countPhases() {
    Map<TaskPhase, Integer> counts = new EnumMap<>(TaskPhase.class);
    for (VeraTask task : client.resources(VeraTask.class).inNamespace(NS).list().getItems()) {
      TaskPhase phase =
          task.getStatus() == null || task.getStatus().phase == null
              ? TaskPhase.Pending
              : task.getStatus().phase;
      counts.merge(phase, 1, Integer::sum);
    }
    return counts;
  }

  private static int finished(Map<TaskPhase, Integer> counts) {
    return counts.getOrDefault(TaskPhase.Succeeded, 0)
        + counts.getOrDefault(TaskPhase.Failed, 0)
        + counts.getOrDefault(TaskPhase.Cancelled, 0);
  }

  /**
   * Polls the stored phases until the condition holds; fails if the operator dies or time is up.
   */
  private Map<TaskPhase, Integer> waitForPhases(
      Process operator, java.util.function.Predicate<Map<TaskPhase, Integer>> done)
      throws InterruptedException {
    long deadline = System.nanoTime() + SETTLE.toNanos();
    Map<TaskPhase, Integer> counts = countPhases();
    while (!done.test(counts)) {
      assertThat(operator.isAlive()).as("the operator process is running").isTrue();
      assertThat(System.nanoTime() - deadline)
          .as("tasks still unfinished after %s: %s", SETTLE, counts)
          .isNegative();
      Thread.sleep(500);
      counts = countPhases();
    }
    return counts;
  }
}
