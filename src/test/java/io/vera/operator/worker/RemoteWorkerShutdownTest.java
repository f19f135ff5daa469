package io.vera.operator.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.task.PoolKey;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.HttpUrl;
import org.junit.jupiter.api.Test;

/**
 * A worker that is told to stop hands its leased tasks back instead of failing them: one leased as
 * the stop arrives is released before it starts, one still running at the end of the drain is
 * interrupted and released; neither spends an attempt.
 */
class RemoteWorkerShutdownTest {
  private static final ServiceAccountToken NO_TOKEN =
      new ServiceAccountToken(java.nio.file.Path.of("/nonexistent/vera-test-token"));

  private static RemoteWorker worker(HttpUrl operator, String pool, String id, Duration drain) {
    return new RemoteWorker(
        new RemoteWorker.Settings(operator, "default", pool, id, 1, drain),
        HandlerRegistry.loadDefault(),
        () -> 0,
        NO_TOKEN);
  }

  @Test
  void aTaskLeasedAsTheWorkerStopsIsReleasedNotRun() throws Exception {
    List<String> calls = new CopyOnWriteArrayList<>();
    CountDownLatch leaseAsked = new CountDownLatch(1);
    try (MockWebServer operator = new MockWebServer()) {
      operator.setDispatcher(
          new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
              String path = request.getUrl().encodedPath();
              calls.add(path);
              if (path.endsWith("/lease") && leaseAsked.getCount() > 0) {
                leaseAsked.countDown();
                // Headers now, the grant a moment later: the stop lands while it is on the wire.
                return new MockResponse.Builder()
                    .code(200)
                    .addHeader("Content-Type", "application/json")
                    .bodyDelay(3, TimeUnit.SECONDS)
                    .body(grant("lease-1", "task-1"))
                    .build();
              }
              return new MockResponse.Builder().code(204).build();
            }
          });
      operator.start();
      RemoteWorker worker =
          worker(operator.url("/"), "pool", "worker-stopping", Duration.ofSeconds(30)).start();
      assertThat(leaseAsked.await(20, TimeUnit.SECONDS)).isTrue();
      Thread.sleep(1000);
      worker.shutdown();
      assertThat(worker.awaitTermination()).isTrue();
      assertThat(calls)
          .containsExactly(
              "/internal/v1/namespaces/default/pools/pool/lease",
              "/internal/v1/leases/lease-1/release");
    }
  }

  @Test
  void aTaskStillRunningWhenTheDrainEndsGoesBackToTheQueueWithItsAttempt() throws Exception {
    try (OperatorHarness harness = new OperatorHarness()) {
      createPool(harness, "handback");
      HttpUrl url = HttpUrl.get(harness.baseUrl());
      RemoteWorker first = worker(url, "handback", "worker-leaving", Duration.ofSeconds(1)).start();
      // No retries: before, the interrupted attempt failed the task for good (WorkerShutdown).
      String task = submit(harness, "{\"seconds\": 8}");
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> "running".equals(status(harness, task).path("status").asText()));
      // Leased is not yet started: give the worker time to read the grant and begin the attempt.
      Thread.sleep(2000);
      first.shutdown();
      assertThat(first.awaitTermination()).as("the attempt was interrupted").isFalse();
      // REST answers what the store acknowledged, so the hand-back shows once its write lands.
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> "queued".equals(status(harness, task).path("status").asText()));
      JsonNode back = status(harness, task);
      assertThat(back.path("attempts").asInt()).isZero();

      RemoteWorker second = worker(url, "handback", "worker-staying", Duration.ofSeconds(10));
      second.start();
      try {
        await()
            .atMost(Duration.ofSeconds(40))
            .until(() -> "completed".equals(status(harness, task).path("status").asText()));
      } finally {
        second.close();
      }
      JsonNode done = status(harness, task);
      assertThat(done.path("attempts").asInt()).isEqualTo(1);
      assertThat(done.path("worker_id").asText()).isEqualTo("worker-staying");
    }
  }

  private static String grant(String leaseId, String taskId) {
    Instant now = Instant.now();
    return "{\"lease_id\": \""
        + leaseId
        + "\", \"task_id\": \""
        + taskId
        + "\", \"namespace\": \"default\", \"handler\": \"sleep\", \"payload\": {\"seconds\": 30},"
        + " \"context\": {}, \"attempt\": 1, \"timeout_seconds\": 60, \"deadline\": \""
        + now.plusSeconds(60)
        + "\", \"lease_expires_at\": \""
        + now.plusSeconds(30)
        + "\"}";
  }

  private static void createPool(OperatorHarness harness, String name) {
    WorkerPool pool = new WorkerPool();
    pool.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace("default").build());
    WorkerPoolSpec spec = new WorkerPoolSpec();
    spec.taskType = TaskType.BACKGROUND;
    spec.runtime = WorkerPoolSpec.Runtime.Pods;
    spec.replicas = 1;
    spec.leaseSeconds = 10;
    pool.setSpec(spec);
    harness.client().resource(pool).create();
    PoolKey key = new PoolKey("default", name);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> harness.operator().dispatcher().pools().contains(key));
  }

  private static String submit(OperatorHarness harness, String payload) {
    OperatorHarness.Response submitted =
        harness.post(
            "/orchestrator/tasks/submit",
            "{\"name\": \"sleep\", \"pool\": \"handback\", \"payload\": "
                + payload
                + ", \"max_retries\": 0}");
    assertThat(submitted.status()).as(submitted.text()).isEqualTo(200);
    return submitted.json().path("task_id").asText();
  }

  private static JsonNode status(OperatorHarness harness, String task) {
    return harness.get("/orchestrator/tasks/" + task + "/status").json();
  }
}
