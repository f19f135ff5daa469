package io.vera.operator.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.vera.operator.api.Provider;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Embedded mode as a user runs it, one command in a process of its own with a state directory: it
 * is SIGKILLed in the middle of a burst of REST-submitted tasks and started again on the same
 * directory. Every submit that was answered is still there, finished tasks keep their results,
 * queued and running ones run again with their attempts counted, resourceVersions go on growing,
 * the Provider initialized before the kill serves without a new initialize and its usage totals are
 * intact, and a second operator on the same directory refuses to start.
 *
 * <p>{@code -Dvera.restartTest.tasks=N} changes the size of the burst.
 */
class EmbeddedRestartTest {
  private static final int TASKS = Integer.getInteger("vera.restartTest.tasks", 400);
  private static final Duration SETTLE = Duration.ofSeconds(240);
  private static final Path LOGS = Path.of("target", "embedded-restart-logs");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String POOL = "restart-pool";

  @TempDir Path home;
  private final List<Process> processes = new ArrayList<>();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private MockWebServer upstream;

  private record Operator(Process process, int port) {
    String url(String path) {
      return "http://127.0.0.1:" + port + path;
    }
  }

  @AfterEach
  void stopAll() throws Exception {
    for (Process process : processes) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    if (upstream != null) {
      upstream.close();
    }
  }

  @Test
  void aKilledEmbeddedOperatorComesBackWithEverythingItAnswered() throws Exception {
    Files.createDirectories(LOGS);
    upstream = new MockWebServer();
    upstream.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            String body =
                request.getUrl().encodedPath().endsWith("/models")
                    ? "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\"}]}"
                    : "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o\","
                        + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                        + "\"content\":\"ok\"},\"finish_reason\":\"stop\"}],"
                        + "\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":500,"
                        + "\"total_tokens\":1500}}";
            return new MockResponse.Builder()
                .addHeader("Content-Type", "application/json")
                .body(body)
                .build();
          }
        });
    upstream.start();
    Path state = home.resolve("state");
    Path kubeconfig = home.resolve("kubeconfig");

    Operator first = start("first", state, kubeconfig);
    assertThat(
            post(
                    first,
                    "/orchestrator/external/initialize",
                    "{\"openai\": {\"api_key\": \"sk-restart-test\", \"base_url\": \""
                        + upstream.url("/v1")
                        + "\"}}")
                .statusCode())
        .isEqualTo(200);
    for (int i = 0; i < 3; i++) {
      await("a provider call", () -> execute(first) == 200);
    }
    KubernetesClient kube = kubeClient(kubeconfig);
    // Usage reaches the Provider's status in batches; the kill comes after the batch.
    await(
        "usage written to the Provider",
        () -> {
          Provider p =
              kube.resources(Provider.class).inNamespace("default").withName("openai").get();
          return p != null
              && p.getStatus() != null
              && p.getStatus().usage != null
              && p.getStatus().usage.requests == 3;
        });
    JsonNode statsBefore = getJson(first, "/orchestrator/external/stats/openai");

    // A second operator on the same state directory refuses to start.
    int otherPort = freePort();
    Process second = command("refused", state, home.resolve("kubeconfig-2"), otherPort).start();
    processes.add(second);
    assertThat(second.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(second.exitValue()).isEqualTo(2);
    assertThat(Files.readString(LOGS.resolve("refused.log")))
        .contains("Another Vera operator")
        .contains(state.toAbsolutePath().normalize().toString());

    // A pool made through the API, as kubectl would; it must come back too. It ignores the
    // machine's CPU use, which on a shared machine would hold its queue.
    WorkerPool pool = new WorkerPool();
    pool.setMetadata(new ObjectMetaBuilder().withName(POOL).withNamespace("default").build());
    pool.setSpec(new WorkerPoolSpec());
    pool.getSpec().taskType = TaskType.GENERAL;
    pool.getSpec().runtime = WorkerPoolSpec.Runtime.Embedded;
    pool.getSpec().replicas = 2;
    pool.getSpec().concurrencyPerWorker = 4;
    pool.getSpec().cpuThresholdPercent = 100.0;
    kube.resource(pool).create();

    // The burst: sleeps keep the pool busy, so the kill finds tasks queued and running; they are
    // long enough that a task REST showed running (as stored) is still running at the kill.
    Map<String, String> answered = new ConcurrentHashMap<>();
    ExecutorService clients = Executors.newFixedThreadPool(8);
    for (int i = 0; i < TASKS; i++) {
      int n = i;
      clients.submit(
          () -> {
            String common = ", \"max_retries\": 3, \"timeout\": 600, \"pool\": \"" + POOL + "\"}";
            String body =
                n % 4 == 0
                    ? "{\"name\": \"sleep\", \"payload\": {\"seconds\": 6}" + common
                    : "{\"name\": \"echo\", \"payload\": {\"n\": " + n + "}" + common;
            HttpResponse<String> response = post(first, "/orchestrator/tasks/submit", body);
            if (response.statusCode() == 200 || response.statusCode() == 201) {
              answered.put(JSON.readTree(response.body()).path("task_id").asText(), body);
            }
            return null;
          });
    }
    await(
        "some tasks finish",
        () ->
            kube.resources(VeraTask.class).inNamespace("default").list().getItems().stream()
                    .filter(
                        t -> t.getStatus() != null && t.getStatus().phase == TaskPhase.Succeeded)
                    .count()
                >= 20);
    long versionBeforeKill =
        Long.parseLong(
            kube.resources(VeraTask.class)
                .inNamespace("default")
                .list()
                .getMetadata()
                .getResourceVersion());
    Map<String, JsonNode> seenBeforeKill = new HashMap<>();
    for (String id : List.copyOf(answered.keySet())) {
      HttpResponse<String> view = get(first, "/orchestrator/tasks/" + id + "/status");
      if (view.statusCode() == 200) {
        seenBeforeKill.put(id, JSON.readTree(view.body()));
      }
    }
    first.process().destroyForcibly();
    double killedAt = System.currentTimeMillis() / 1000.0;
    assertThat(first.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
    clients.shutdownNow();
    clients.awaitTermination(30, TimeUnit.SECONDS);
    kube.close();
    int answeredAtKill = answered.size();

    // The new process writes its kubeconfig again, with its API server's new port.
    Files.delete(kubeconfig);
    Operator again = start("again", state, kubeconfig);
    KubernetesClient kubeAgain = kubeClient(kubeconfig);
    // Every answered submit is still there, and all of them finish.
    await(
        "every answered task finishes",
        () -> {
          for (String id : answered.keySet()) {
            JsonNode view = getJson(again, "/orchestrator/tasks/" + id + "/status");
            String status = view.path("status").asText();
            if (!status.equals("completed") && !status.equals("failed")) {
              return false;
            }
          }
          return true;
        });
    int finishedBefore = 0;
    int rerun = 0;
    List<String> problems = new ArrayList<>();
    for (Map.Entry<String, String> task : answered.entrySet()) {
      JsonNode view = getJson(again, "/orchestrator/tasks/" + task.getKey() + "/status");
      JsonNode before = seenBeforeKill.get(task.getKey());
      String statusBefore = before == null ? "unseen" : before.path("status").asText();
      if (!view.path("status").asText().equals("completed")) {
        problems.add(task.getKey() + " ended " + view);
      }
      if (statusBefore.equals("completed")) {
        finishedBefore++;
        if (!view.path("result").equals(before.path("result"))
            || view.path("attempts").asInt() != before.path("attempts").asInt()) {
          problems.add(task.getKey() + " changed after finishing: " + before + " -> " + view);
        }
      }
      // Seen running shortly before the kill and finished after it: cut off by the kill.
      if (statusBefore.equals("running") && view.path("completed_at").asDouble() > killedAt) {
        rerun++;
        if (view.path("attempts").asInt() < 2) {
          problems.add(task.getKey() + " was running at the kill but counts one attempt: " + view);
        }
      }
    }
    assertThat(problems).isEmpty();
    assertThat(kubeAgain.resources(WorkerPool.class).inNamespace("default").withName(POOL).get())
        .as("the pool made through the API")
        .isNotNull();
    assertThat(finishedBefore).as("tasks finished before the kill").isPositive();
    assertThat(rerun).as("tasks running at the kill").isPositive();
    assertThat(
            Long.parseLong(
                kubeAgain
                    .resources(VeraTask.class)
                    .inNamespace("default")
                    .list()
                    .getMetadata()
                    .getResourceVersion()))
        .as("resourceVersions go on growing")
        .isGreaterThan(versionBeforeKill);

    // The Provider serves without a new initialize, and its totals went on from where they were.
    JsonNode statsAfterRestart = getJson(again, "/orchestrator/external/stats/openai");
    assertThat(statsAfterRestart.path("total_requests").asLong())
        .isEqualTo(statsBefore.path("total_requests").asLong());
    assertThat(statsAfterRestart.path("total_cost_usd").asDouble())
        .isEqualTo(statsBefore.path("total_cost_usd").asDouble());
    // So did its calls by day and model, as the dashboard's Providers page shows them.
    JsonNode month = null;
    for (JsonNode provider : getJson(again, "/ui/api/providers").path("providers")) {
      if (provider.path("name").asText().equals("openai")) {
        month = provider.path("this_month");
      }
    }
    assertThat(month).as("openai on the Providers page").isNotNull();
    assertThat(month.path("totals").path("requests").asLong()).isEqualTo(3);
    assertThat(month.path("totals").path("cost_usd").decimalValue())
        .isEqualByComparingTo(statsBefore.path("total_cost_usd").decimalValue());
    assertThat(execute(again)).isEqualTo(200);
    assertThat(
            getJson(again, "/orchestrator/external/stats/openai").path("total_requests").asLong())
        .isEqualTo(statsBefore.path("total_requests").asLong() + 1);
    kubeAgain.close();
    System.out.printf(
        "embedded kill -9 with %d answered submits (of %d sent): %d had finished, %d were"
            + " running; after the restart all %d completed%n",
        answeredAtKill, TASKS, finishedBefore, rerun, answered.size());
    again.process().destroy();
    assertThat(again.process().waitFor(30, TimeUnit.SECONDS)).isTrue();
  }

  // ---- the operator process ------------------------------------------------------------------

  private ProcessBuilder command(String name, Path state, Path kubeconfig, int port) {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder builder =
        new ProcessBuilder(
                java.toString(),
                "-Xmx384m",
                "-Duser.home=" + home.toAbsolutePath(),
                "-cp",
                System.getProperty("java.class.path"),
                "io.vera.operator.cli.VeraCommand",
                "run",
                "--embedded",
                "--state-dir",
                state.toString(),
                "--kubeconfig-out",
                kubeconfig.toString(),
                "--host",
                "127.0.0.1",
                "--port",
                Integer.toString(port))
            .redirectErrorStream(true)
            .redirectOutput(LOGS.resolve(name + ".log").toFile());
    // No cluster is looked for: embedded mode is asked for, and no kubeconfig is inherited.
    builder.environment().remove("KUBECONFIG");
    return builder;
  }

  private Operator start(String name, Path state, Path kubeconfig) throws Exception {
    int port = freePort();
    Process process = command(name, state, kubeconfig, port).start();
    processes.add(process);
    Operator operator = new Operator(process, port);
    // Generous: a loaded two-core machine takes a minute to start a JVM with the operator.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
    while (true) {
      assertThat(process.isAlive()).as("operator %s is running", name).isTrue();
      assertThat(System.nanoTime() - deadline).as("operator %s serves REST", name).isNegative();
      try {
        if (get(operator, "/healthz").statusCode() == 200 && Files.exists(kubeconfig)) {
          return operator;
        }
      } catch (IOException e) {
        // Not listening yet.
      }
      Thread.sleep(200);
    }
  }

  private static KubernetesClient kubeClient(Path kubeconfig) throws IOException {
    return new KubernetesClientBuilder()
        .withConfig(Config.fromKubeconfig(Files.readString(kubeconfig)))
        .build();
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  // ---- REST --------------------------------------------------------------------------------

  private int execute(Operator operator) {
    try {
      return post(
              operator,
              "/orchestrator/external/execute",
              "{\"provider\": \"openai\", \"prompt\": \"hi\", \"model\": \"gpt-4o\"}")
          .statusCode();
    } catch (Exception e) {
      return -1;
    }
  }

  private HttpResponse<String> post(Operator operator, String path, String body)
      throws IOException, InterruptedException {
    return http.send(
        HttpRequest.newBuilder(URI.create(operator.url(path)))
            .timeout(Duration.ofSeconds(60))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(Operator operator, String path)
      throws IOException, InterruptedException {
    return http.send(
        HttpRequest.newBuilder(URI.create(operator.url(path)))
            .timeout(Duration.ofSeconds(60))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private JsonNode getJson(Operator operator, String path) throws Exception {
    return JSON.readTree(get(operator, path).body());
  }

  private void awaitPlain(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + SETTLE.toNanos();
    while (!condition.getAsBoolean()) {
      assertThat(System.nanoTime() - deadline).as(what).isNegative();
      Thread.sleep(500);
    }
  }

  private void await(String what, ThrowingCondition condition) throws InterruptedException {
    awaitPlain(
        what,
        () -> {
          try {
            return condition.holds();
          } catch (Exception e) {
            return false;
          }
        });
  }

  private interface ThrowingCondition {
    boolean holds() throws Exception;
  }
}
