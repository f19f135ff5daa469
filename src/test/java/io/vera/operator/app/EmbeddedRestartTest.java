package io.vera.operator.app;

import static io.vera.operator.app.EmbeddedCompute.NS;
import static io.vera.operator.app.EmbeddedCompute.awaitAvailable;
import static io.vera.operator.app.EmbeddedCompute.createContainerResource;
import static io.vera.operator.app.EmbeddedCompute.createDockerProvider;
import static io.vera.operator.app.EmbeddedCompute.exists;
import static io.vera.operator.app.EmbeddedCompute.instanceOf;
import static io.vera.operator.app.EmbeddedCompute.runIn;
import static io.vera.operator.app.EmbeddedCompute.running;
import static io.vera.operator.app.EmbeddedCompute.storedInstallationId;
import static io.vera.operator.app.EmbeddedProcesses.JSON;
import static io.vera.operator.app.EmbeddedProcesses.LOGS;
import static io.vera.operator.app.EmbeddedProcesses.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.Provider;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.app.EmbeddedProcesses.Operator;
import io.vera.operator.compute.docker.DockerTestEngine;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Embedded mode as a user runs it, one command in a process of its own with a state directory: it
 * is SIGKILLed in the middle of a burst of REST-submitted tasks and started again on the same
 * directory. Every submit that was answered is still there, finished tasks keep their results,
 * queued and running ones run again with their attempts counted, resourceVersions go on growing,
 * the Provider initialized before the kill serves without a new initialize and its usage totals are
 * intact, the Docker ComputeResource made before the kill is adopted with its container (which the
 * restarted operator's orphan sweep leaves alone) and runs commands again, and a second operator on
 * the same directory refuses to start.
 *
 * <p>The ComputeResource part needs a Docker engine: without one it is left out with a message
 * (with {@code CI=true} the test fails instead). {@code -Dvera.restartTest.tasks=N} changes the
 * size of the burst.
 */
class EmbeddedRestartTest {
  @RegisterExtension static final DockerTestEngine DOCKER = DockerTestEngine.optional();
  private static final int TASKS = Integer.getInteger("vera.restartTest.tasks", 400);
  private static final String POOL = "restart-pool";

  /** Kept when the test fails, so that its state directory can be examined. */
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  Path home;

  private EmbeddedProcesses processes;
  private MockWebServer upstream;

  @AfterEach
  void stopAll() throws Exception {
    if (processes != null) {
      processes.close();
    }
    if (upstream != null) {
      upstream.close();
    }
    String installation = storedInstallationId(home.resolve("state"));
    if (DOCKER.available() && installation != null) {
      DOCKER.trackInstance(installation);
    }
  }

  @Test
  void aKilledEmbeddedOperatorComesBackWithEverythingItAnswered() throws Exception {
    processes = new EmbeddedProcesses(home);
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

    Operator first = processes.start("first", state, kubeconfig);
    assertThat(
            first
                .post(
                    "/orchestrator/external/initialize",
                    "{\"openai\": {\"api_key\": \"sk-restart-test\", \"base_url\": \""
                        + upstream.url("/v1")
                        + "\"}}")
                .statusCode())
        .isEqualTo(200);
    for (int i = 0; i < 3; i++) {
      await("a provider call", () -> execute(first) == 200);
    }
    KubernetesClient kube = first.kube();
    // Usage reaches the Provider's status in batches; the kill comes after the batch.
    await(
        "usage written to the Provider",
        () -> {
          Provider p = kube.resources(Provider.class).inNamespace(NS).withName("openai").get();
          return p != null
              && p.getStatus() != null
              && p.getStatus().usage != null
              && p.getStatus().usage.requests == 3;
        });
    JsonNode statsBefore = first.getJson("/orchestrator/external/stats/openai");

    // A second operator on the same state directory refuses to start.
    Process second =
        processes.launch(
            processes.command(
                "refused", state, home.resolve("kubeconfig-2"), EmbeddedProcesses.freePort()));
    assertThat(second.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(second.exitValue()).isEqualTo(2);
    assertThat(Files.readString(LOGS.resolve("refused.log")))
        .contains("Another Vera operator")
        .contains(state.toAbsolutePath().normalize().toString());

    // A pool made through the API, as kubectl would; it must come back too. It ignores the
    // machine's CPU use, which on a shared machine would hold its queue.
    WorkerPool pool = new WorkerPool();
    pool.setMetadata(new ObjectMetaBuilder().withName(POOL).withNamespace(NS).build());
    pool.setSpec(new WorkerPoolSpec());
    pool.getSpec().taskType = TaskType.GENERAL;
    pool.getSpec().runtime = WorkerPoolSpec.Runtime.Embedded;
    pool.getSpec().replicas = 2;
    pool.getSpec().concurrencyPerWorker = 4;
    pool.getSpec().cpuThresholdPercent = 100.0;
    kube.resource(pool).create();

    // A Docker ComputeResource: its container runs a command before the kill and after it.
    String container = null;
    if (DOCKER.available()) {
      createDockerProvider(kube);
      createContainerResource(kube, "sandbox");
      container = awaitAvailable(kube, "sandbox").getStatus().machineId;
      assertThat(runIn(kube, "sandbox", "before")).isEqualTo("before\n");
    }

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
            HttpResponse<String> response = first.post("/orchestrator/tasks/submit", body);
            if (response.statusCode() == 200 || response.statusCode() == 201) {
              answered.put(JSON.readTree(response.body()).path("task_id").asText(), body);
            }
            return null;
          });
    }
    await(
        "some tasks finish",
        () ->
            kube.resources(VeraTask.class).inNamespace(NS).list().getItems().stream()
                    .filter(
                        t -> t.getStatus() != null && t.getStatus().phase == TaskPhase.Succeeded)
                    .count()
                >= 20);
    long versionBeforeKill =
        Long.parseLong(
            kube.resources(VeraTask.class)
                .inNamespace(NS)
                .list()
                .getMetadata()
                .getResourceVersion());
    Map<String, JsonNode> seenBeforeKill = new HashMap<>();
    for (String id : List.copyOf(answered.keySet())) {
      HttpResponse<String> view = first.get("/orchestrator/tasks/" + id + "/status");
      if (view.statusCode() == 200) {
        seenBeforeKill.put(id, JSON.readTree(view.body()));
      }
    }
    first.kill();
    double killedAt = System.currentTimeMillis() / 1000.0;
    clients.shutdownNow();
    clients.awaitTermination(30, TimeUnit.SECONDS);
    kube.close();
    int answeredAtKill = answered.size();
    // While the operator is down, a container of its installation loses its resource: the
    // restarted operator's first orphan sweep removes it, and must leave the adopted one alone.
    String orphan = null;
    if (container != null) {
      assertThat(running(DOCKER.client(), container)).as("the container at the kill").isTrue();
      orphan = DOCKER.startOrphan(instanceOf(DOCKER.client(), container), NS, "gone-while-down");
    }

    // The new process writes its kubeconfig again, with its API server's new port.
    Operator again = processes.start("again", state, kubeconfig);
    KubernetesClient kubeAgain = again.kube();
    // Every answered submit is still there, and all of them finish.
    AtomicReference<String> waitingFor = new AtomicReference<>("no answer yet");
    await(
        "every answered task finishes",
        () -> {
          waitingFor.set("the REST API of the restarted operator");
          for (String id : answered.keySet()) {
            HttpResponse<String> view = again.get("/orchestrator/tasks/" + id + "/status");
            String status = JSON.readTree(view.body()).path("status").asText();
            if (!status.equals("completed") && !status.equals("failed")) {
              waitingFor.set(
                  id
                      + " ("
                      + view.statusCode()
                      + " "
                      + view.body()
                      + "), "
                      + stored(again, id)
                      + ", state directory "
                      + state
                      + ", logged: "
                      + logLines(id, first, again));
              return false;
            }
          }
          return true;
        },
        waitingFor::get);
    int finishedBefore = 0;
    int rerun = 0;
    List<String> problems = new ArrayList<>();
    for (Map.Entry<String, String> task : answered.entrySet()) {
      JsonNode view = again.getJson("/orchestrator/tasks/" + task.getKey() + "/status");
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
    assertThat(kubeAgain.resources(WorkerPool.class).inNamespace(NS).withName(POOL).get())
        .as("the pool made through the API")
        .isNotNull();
    assertThat(finishedBefore).as("tasks finished before the kill").isPositive();
    assertThat(rerun).as("tasks running at the kill").isPositive();
    assertThat(
            Long.parseLong(
                kubeAgain
                    .resources(VeraTask.class)
                    .inNamespace(NS)
                    .list()
                    .getMetadata()
                    .getResourceVersion()))
        .as("resourceVersions go on growing")
        .isGreaterThan(versionBeforeKill);

    // The ComputeResource is adopted with its container, which the sweep left running.
    if (container != null) {
      String orphanId = orphan;
      await("the restarted operator's orphan sweep", () -> !exists(DOCKER.client(), orphanId));
      ComputeResource adopted = awaitAvailable(kubeAgain, "sandbox");
      assertThat(adopted.getStatus().machineId).as("the same container").isEqualTo(container);
      assertThat(running(DOCKER.client(), container)).as("the container after the sweep").isTrue();
      assertThat(runIn(kubeAgain, "sandbox", "after")).isEqualTo("after\n");
    }

    // The Provider is Ready and serves without a new initialize, and its totals went on from
    // where they were.
    await(
        "the Provider Ready",
        () ->
            kubeAgain
                .resources(Provider.class)
                .inNamespace(NS)
                .withName("openai")
                .get()
                .getStatus()
                .conditions
                .stream()
                .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus())));
    assertThat(
            kubeAgain
                .resources(Provider.class)
                .inNamespace(NS)
                .withName("openai")
                .get()
                .getStatus()
                .usage
                .requests)
        .as("requests in the Provider's stored usage")
        .isEqualTo(3L);
    JsonNode statsAfterRestart = again.getJson("/orchestrator/external/stats/openai");
    assertThat(statsAfterRestart.path("total_requests").asLong())
        .isEqualTo(statsBefore.path("total_requests").asLong());
    assertThat(statsAfterRestart.path("total_cost_usd").asDouble())
        .isEqualTo(statsBefore.path("total_cost_usd").asDouble());
    // So did its calls by day and model, as the dashboard's Providers page shows them.
    JsonNode month = null;
    for (JsonNode provider : again.getJson("/ui/api/providers").path("providers")) {
      if (provider.path("name").asText().equals("openai")) {
        month = provider.path("this_month");
      }
    }
    assertThat(month).as("openai on the Providers page").isNotNull();
    assertThat(month.path("totals").path("requests").asLong()).isEqualTo(3);
    assertThat(month.path("totals").path("cost_usd").decimalValue())
        .isEqualByComparingTo(statsBefore.path("total_cost_usd").decimalValue());
    assertThat(execute(again)).isEqualTo(200);
    assertThat(again.getJson("/orchestrator/external/stats/openai").path("total_requests").asLong())
        .isEqualTo(statsBefore.path("total_requests").asLong() + 1);
    kubeAgain.close();
    System.out.printf(
        "embedded kill -9 with %d answered submits (of %d sent): %d had finished, %d were"
            + " running; after the restart all %d completed%n",
        answeredAtKill, TASKS, finishedBefore, rerun, answered.size());
    again.process().destroy();
    assertThat(again.process().waitFor(30, TimeUnit.SECONDS)).isTrue();
  }

  /** The task's resource as the restarted operator's API server has it, for a failure message. */
  private static String stored(Operator operator, String name) {
    try (KubernetesClient kube = operator.kube()) {
      VeraTask task = kube.resources(VeraTask.class).inNamespace(NS).withName(name).get();
      return task == null
          ? "no such VeraTask"
          : "stored spec "
              + JSON.writeValueAsString(task.getSpec())
              + " status "
              + JSON.writeValueAsString(task.getStatus());
    } catch (Exception e) {
      return "its VeraTask unreadable: " + e;
    }
  }

  /** The operators' log lines that name the task. */
  private static List<String> logLines(String name, Operator... operators) throws IOException {
    List<String> lines = new ArrayList<>();
    for (Operator operator : operators) {
      for (String line : Files.readAllLines(operator.log())) {
        if (line.contains(name)) {
          lines.add(operator.name() + ": " + line);
        }
      }
    }
    return lines;
  }

  private static int execute(Operator operator) {
    try {
      return operator
          .post(
              "/orchestrator/external/execute",
              "{\"provider\": \"openai\", \"prompt\": \"hi\", \"model\": \"gpt-4o\"}")
          .statusCode();
    } catch (Exception e) {
      return -1;
    }
  }
}
