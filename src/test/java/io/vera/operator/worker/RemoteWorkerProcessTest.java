package io.vera.operator.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.task.PoolKey;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Worker processes started with {@code vera-operator worker} against the real operator: results,
 * timeouts, cancellation, a killed worker's task running again elsewhere, and a clean SIGTERM.
 */
class RemoteWorkerProcessTest {
  private static final Path LOGS = Path.of("target", "remote-worker-logs");

  private static OperatorHarness operator;
  private final List<Process> workers = new ArrayList<>();

  @BeforeAll
  static void startOperator() throws IOException {
    Files.createDirectories(LOGS);
    operator = new OperatorHarness();
  }

  @AfterAll
  static void stopOperator() {
    operator.close();
  }

  @AfterEach
  void killWorkers() throws InterruptedException {
    for (Process worker : workers) {
      worker.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void runsTasksEnforcesTimeoutsAndStopsCancelledAttempts() throws Exception {
    createPool("serving", 5);
    startWorker("serving", "worker-serving");

    for (int i = 0; i < 2; i++) {
      JsonNode sum =
          awaitFinished(submit("serving", "compute.sum", "{\"a\": 10, \"b\": " + i + "}"));
      assertThat(sum.get("status").asText()).isEqualTo("completed");
      assertThat(sum.get("result").asInt()).isEqualTo(10 + i);
      assertThat(sum.get("worker_id").asText()).isEqualTo("worker-serving");
    }

    String slow = submit("serving", "sleep", "{\"seconds\": 30}", "\"timeout\": 1");
    JsonNode timedOut = awaitFinished(slow);
    assertThat(timedOut.get("status").asText()).isEqualTo("failed");
    assertThat(timedOut.get("error_type").asText()).isEqualTo("Timeout");
    assertThat(timedOut.get("duration_ms").asDouble()).isLessThan(5000);
    // Concurrency 1: this completes only if the timed-out attempt gave its slot back.
    JsonNode echoed = awaitFinished(submit("serving", "echo", "{\"still\": \"serving\"}"));
    assertThat(echoed.get("status").asText()).isEqualTo("completed");

    String longTask = submit("serving", "sleep", "{\"seconds\": 60}");
    awaitStatus(longTask, "running");
    long cancelledAt = System.nanoTime();
    assertThat(operator.send("POST", "/orchestrator/tasks/" + longTask + "/cancel", null).status())
        .isEqualTo(200);
    assertThat(awaitFinished(longTask).get("status").asText()).isEqualTo("cancelled");
    JsonNode next = awaitFinished(submit("serving", "compute.sum", "{\"a\": 1, \"b\": 2}"));
    assertThat(next.get("status").asText()).isEqualTo("completed");
    assertThat(next.get("result").asInt()).isEqualTo(3);
    // The worker learns of the cancel at its next renewal, a third of the 5 s lease.
    assertThat(Duration.ofNanos(System.nanoTime() - cancelledAt)).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void aKilledWorkersTaskRunsAgainOnAnotherWorker() throws Exception {
    int leaseSeconds = 5;
    createPool("rescue", leaseSeconds);
    // Two workers ask for work; whichever takes the task is killed, the other is already waiting.
    Map<String, Process> started = new HashMap<>();
    for (String id : List.of("worker-a", "worker-b")) {
      started.put(id, startWorker("rescue", id));
    }
    for (String id : started.keySet()) {
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> Files.readString(log(id)).contains("serving pool"));
    }
    String task = submit("rescue", "sleep", "{\"seconds\": 5}", "\"max_retries\": 1");
    String doomed = awaitStatus(task, "running").get("worker_id").asText();
    assertThat(started).containsKey(doomed);
    String rescuer = doomed.equals("worker-a") ? "worker-b" : "worker-a";
    Process first = started.get(doomed);
    // The task is Running once leased; kill the worker only when the attempt has really begun.
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> Files.readString(log(doomed)).contains("running task " + task));

    first.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    long killedAt = System.nanoTime();
    // The lease was renewed at most a third of its time before the kill, and expiry is checked
    // every second: the task leaves the dead worker within the lease time (plus that check).
    await()
        .atMost(Duration.ofSeconds(leaseSeconds + 10))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              JsonNode now =
                  operator.send("GET", "/orchestrator/tasks/" + task + "/status", null).json();
              return !("running".equals(now.get("status").asText())
                  && doomed.equals(now.get("worker_id").asText()));
            });
    Duration requeuedAfter = Duration.ofNanos(System.nanoTime() - killedAt);
    System.out.printf(
        "killed worker's task re-queued %d ms after the kill (lease %d s)%n",
        requeuedAfter.toMillis(), leaseSeconds);
    assertThat(requeuedAfter).isLessThan(Duration.ofSeconds(leaseSeconds + 2));

    JsonNode done = awaitFinished(task);
    assertThat(done.get("status").asText()).isEqualTo("completed");
    assertThat(done.get("attempts").asInt()).isEqualTo(2);
    assertThat(done.get("worker_id").asText()).isEqualTo(rescuer);
    assertThat(done.get("result").get("slept_seconds").asDouble()).isGreaterThanOrEqualTo(5);
  }

  @Test
  void sigtermStopsAnIdleWorkerWithExitCodeZero() throws Exception {
    createPool("idle", 5);
    Process worker = startWorker("idle", "worker-idle");
    // Once it has run a task it is in its next long poll: idle, but mid-request.
    assertThat(awaitFinished(submit("idle", "echo", "{}")).get("worker_id").asText())
        .isEqualTo("worker-idle");

    long stoppedAt = System.nanoTime();
    worker.destroy();
    assertThat(worker.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(worker.exitValue()).isZero();
    assertThat(Duration.ofNanos(System.nanoTime() - stoppedAt)).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void sigtermLetsARunningTaskFinishBeforeExiting() throws Exception {
    createPool("draining", 5);
    Process worker = startWorker("draining", "worker-draining");
    String task = submit("draining", "sleep", "{\"seconds\": 2}");
    awaitStatus(task, "running");
    // Running means leased; the worker may not have read the lease yet, and then it is not running.
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> Files.readString(log("worker-draining")).contains("running task " + task));

    worker.destroy();
    assertThat(worker.waitFor(15, TimeUnit.SECONDS)).isTrue();
    assertThat(worker.exitValue()).isZero();
    JsonNode done = awaitFinished(task);
    assertThat(done.get("status").asText()).isEqualTo("completed");
    assertThat(done.get("worker_id").asText()).isEqualTo("worker-draining");
  }

  @Test
  void keepsTryingWhileTheOperatorIsUnreachable() throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = socket.getLocalPort();
    }
    Process worker = startWorker("nowhere", "worker-stranded", "http://127.0.0.1:" + closedPort);
    await()
        .atMost(Duration.ofSeconds(15))
        .until(() -> Files.readString(log("worker-stranded")).contains("unavailable"));
    Thread.sleep(1500);
    assertThat(worker.isAlive()).isTrue();
    // One warning for the outage, not one per retry.
    assertThat(Files.readString(log("worker-stranded")).split("unavailable", -1)).hasSize(2);

    worker.destroy();
    assertThat(worker.waitFor(5, TimeUnit.SECONDS)).isTrue();
    assertThat(worker.exitValue()).isZero();
  }

  // ---- helpers -------------------------------------------------------------------------------

  private static void createPool(String name, int leaseSeconds) {
    WorkerPool pool = new WorkerPool();
    pool.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace("default").build());
    WorkerPoolSpec spec = new WorkerPoolSpec();
    spec.taskType = TaskType.BACKGROUND;
    spec.runtime = WorkerPoolSpec.Runtime.Pods;
    spec.replicas = 1;
    spec.leaseSeconds = leaseSeconds;
    pool.setSpec(spec);
    operator.client().resource(pool).create();
    PoolKey key = new PoolKey("default", name);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> operator.operator().dispatcher().pools().contains(key));
  }

  private Process startWorker(String pool, String workerId) throws IOException {
    return startWorker(pool, workerId, operator.baseUrl());
  }

  private Process startWorker(String pool, String workerId, String operatorUrl) throws IOException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process process =
        new ProcessBuilder(
                java.toString(),
                // The worker's handlers are tiny; C1 alone starts the JVM faster on a small
                // machine.
                "-XX:TieredStopAtLevel=1",
                "-cp",
                System.getProperty("java.class.path"),
                "io.vera.operator.cli.VeraCommand",
                "worker",
                "--operator-url",
                operatorUrl,
                "--namespace",
                "default",
                "--pool",
                pool,
                "--worker-id",
                workerId,
                "--drain-seconds",
                "10")
            .redirectErrorStream(true)
            .redirectOutput(log(workerId).toFile())
            .start();
    workers.add(process);
    return process;
  }

  private static Path log(String workerId) {
    return LOGS.resolve(workerId + ".log");
  }

  /** Submits a task to a pool; {@code extra} are further top-level JSON fields. */
  private static String submit(String pool, String handler, String payload, String... extra) {
    StringBuilder body =
        new StringBuilder("{\"name\": \"")
            .append(handler)
            .append("\", \"pool\": \"")
            .append(pool)
            .append("\", \"payload\": ")
            .append(payload);
    for (String field : extra) {
      body.append(", ").append(field);
    }
    OperatorHarness.Response answer =
        operator.send("POST", "/orchestrator/tasks/submit", body.append('}').toString());
    assertThat(answer.status()).as("submit answered %s", answer.json()).isEqualTo(200);
    return answer.json().get("task_id").asText();
  }

  private static JsonNode awaitStatus(String task, String status) {
    ObjectNode[] last = new ObjectNode[1];
    await()
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              last[0] =
                  (ObjectNode)
                      operator.send("GET", "/orchestrator/tasks/" + task + "/status", null).json();
              return status.equals(last[0].get("status").asText());
            });
    return last[0];
  }

  private static JsonNode awaitFinished(String task) {
    ObjectNode[] last = new ObjectNode[1];
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(50))
        .until(
            () -> {
              last[0] =
                  (ObjectNode)
                      operator
                          .send("GET", "/orchestrator/tasks/result/" + task + "?timeout=5", null)
                          .json();
              String status = last[0].get("status").asText();
              return status.equals("completed")
                  || status.equals("failed")
                  || status.equals("cancelled");
            });
    return last[0];
  }
}
