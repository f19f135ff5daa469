package io.vera.operator.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.embedded.EmbeddedApiServer;
import io.vera.operator.facade.auth.RestGuard;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two operators against one API server with leader election: only the leader serves and dispatches,
 * the standby is not ready and answers 503, and when the leader dies without releasing its Lease
 * the standby takes over within the lease duration and finishes every task once. With the leader's
 * pod labelled for the Service, the standby is Ready and the label follows the Lease.
 */
class LeaderElectionTest {
  private static final String NS = "default";
  private static final Duration LEASE = Duration.ofSeconds(4);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final EmbeddedApiServer server = EmbeddedApiServer.start(0);
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final HttpClient http = HttpClient.newHttpClient();

  @AfterEach
  void close() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      try {
        toClose.get(i).close();
      } catch (RuntimeException e) {
        // already stopped
      }
    }
    server.close();
  }

  @Test
  void theApiServerRefusesAStaleLeaseUpdate() {
    KubernetesClient client = server.client();
    Lease lease =
        client
            .resource(
                new LeaseBuilder()
                    .withNewMetadata()
                    .withName("conflict")
                    .withNamespace(NS)
                    .endMetadata()
                    .withNewSpec()
                    .withHolderIdentity("a")
                    .endSpec()
                    .build())
            .create();
    Lease stale = new LeaseBuilder(lease).build();
    lease.getSpec().setHolderIdentity("b");
    client.resource(lease).update();

    stale.getSpec().setHolderIdentity("c");
    assertThatThrownBy(() -> client.resource(stale).update())
        .isInstanceOf(KubernetesClientException.class)
        .satisfies(e -> assertThat(((KubernetesClientException) e).getCode()).isEqualTo(409));
  }

  @Test
  void theStandbyTakesOverWhenTheLeaderDiesAndNoTaskIsLost() throws Exception {
    server.installCrds();
    KubernetesClient clientA = client();
    VeraOperator a = start(clientA, "op-a");
    await().atMost(Duration.ofSeconds(10)).until(a::isLeader);
    KubernetesClient clientB = client();
    VeraOperator b = start(clientB, "op-b");

    // The standby is alive but not ready, and refuses the API rather than hang.
    assertThat(get(b, "/healthz").statusCode()).isEqualTo(200);
    assertThat(get(b, "/readyz").statusCode()).isEqualTo(503);
    assertThat(get(a, "/readyz").statusCode()).isEqualTo(200);
    HttpResponse<String> refused = submit(b, "compute.sum", "{\"a\": 1, \"b\": 2}");
    assertThat(refused.statusCode()).isEqualTo(503);
    assertThat(JSON.readTree(refused.body()).path("detail").asText()).contains("standby");
    assertThat(refused.headers().firstValue("Retry-After")).isPresent();
    assertThat(b.isLeader()).isFalse();

    createPool(clientA);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> get(a, "/orchestrator/workers/pools").body().contains("ha-pool"));
    List<String> quick = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      quick.add(taskId(submit(a, "compute.sum", "{\"a\": " + i + ", \"b\": 100}")));
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> quick.stream().allMatch(id -> phase(id) == TaskPhase.Succeeded));
    Map<String, String> finishedBefore = new HashMap<>();
    quick.forEach(id -> finishedBefore.put(id, task(id).getStatus().completionTime));

    List<String> slow = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      slow.add(taskId(submit(a, "sleep", "{\"seconds\": 1.5}")));
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> slow.stream().anyMatch(id -> phase(id) == TaskPhase.Running));

    // Kill the leader: its connection to the API server goes first, so it neither releases the
    // Lease nor writes what its workers still finish.
    Set<String> runningAtKill =
        Set.copyOf(slow.stream().filter(id -> phase(id) == TaskPhase.Running).toList());
    assertThat(runningAtKill).isNotEmpty();
    long killedAt = System.nanoTime();
    clientA.close();
    // Stopping the rest takes a while (it tries to flush status); the handover does not wait.
    Thread stopping = new Thread(a::close, "stop-op-a");
    stopping.start();

    await().atMost(LEASE.plusSeconds(6)).pollInterval(Duration.ofMillis(100)).until(b::isLeader);
    Duration handover = Duration.ofNanos(System.nanoTime() - killedAt);
    assertThat(handover).isLessThan(LEASE.plusSeconds(3));
    stopping.join(30_000);
    await().atMost(Duration.ofSeconds(5)).until(() -> get(b, "/readyz").statusCode() == 200);

    for (String id : slow) {
      HttpResponse<String> result = get(b, "/orchestrator/tasks/result/" + id + "?timeout=30");
      JsonNode body = JSON.readTree(result.body());
      assertThat(body.path("status").asText()).as(id + " " + body).isEqualTo("completed");
      // At-least-once: the attempt that died with the old leader counts, and runs once more.
      assertThat(body.path("attempts").asInt())
          .as(id)
          .isEqualTo(runningAtKill.contains(id) ? 2 : 1);
    }
    for (String id : quick) {
      VeraTask done = task(id);
      assertThat(done.getStatus().phase).isEqualTo(TaskPhase.Succeeded);
      assertThat(done.getStatus().attempts)
          .as("finished before the kill: not run again")
          .isEqualTo(1);
      assertThat(done.getStatus().completionTime).isEqualTo(finishedBefore.get(id));
    }
    // The new leader serves new work too.
    String after = taskId(submit(b, "compute.sum", "{\"a\": 2, \"b\": 3}"));
    JsonNode result =
        JSON.readTree(get(b, "/orchestrator/tasks/result/" + after + "?timeout=10").body());
    assertThat(result.path("result").asInt()).isEqualTo(5);
    Lease lease =
        clientB
            .leases()
            .inNamespace(NS)
            .withName(ClusterSettings.LeaderElection.DEFAULT_LEASE_NAME)
            .get();
    assertThat(lease.getSpec().getHolderIdentity()).isEqualTo("op-b");
    assertThat(Set.of(a.isLeader(), b.isLeader())).containsExactlyInAnyOrder(false, true);
  }

  @Test
  void withALabelledLeaderPodTheStandbyIsReadyAndANewLeaderTakesTheLabelOver() throws Exception {
    server.installCrds();
    operatorPod("op-a");
    operatorPod("op-b");
    KubernetesClient clientA = client();
    VeraOperator a = start(clientA, "op-a", true);
    await().atMost(Duration.ofSeconds(10)).until(a::isLeader);
    await().atMost(Duration.ofSeconds(10)).until(() -> leaderLabel("op-a") != null);
    KubernetesClient clientB = client();
    VeraOperator b = start(clientB, "op-b", true);

    // The standby is Ready (it can take over) but not selected, and still refuses the API.
    await().atMost(Duration.ofSeconds(10)).until(() -> get(b, "/readyz").statusCode() == 200);
    assertThat(JSON.readTree(get(b, "/readyz").body()).path("leader").asBoolean()).isFalse();
    assertThat(submit(b, "compute.sum", "{\"a\": 1, \"b\": 2}").statusCode()).isEqualTo(503);
    assertThat(get(a, "/readyz").statusCode()).isEqualTo(200);
    assertThat(leaderLabel("op-a")).isEqualTo(ClusterSettings.LeaderElection.DEFAULT_LEASE_NAME);
    assertThat(leaderLabel("op-b")).isNull();

    // The leader dies without a word to the API server: its pod keeps the label.
    clientA.close();
    Thread stopping = new Thread(a::close, "stop-op-a");
    stopping.start();
    await().atMost(LEASE.plusSeconds(6)).pollInterval(Duration.ofMillis(100)).until(b::isLeader);
    stopping.join(30_000);

    // The new leader labels its own pod and takes the label off the dead leader's.
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> leaderLabel("op-b") != null && leaderLabel("op-a") == null);
    assertThat(
            server
                .client()
                .pods()
                .inNamespace(NS)
                .withLabel(LeaderPodLabel.LABEL, ClusterSettings.LeaderElection.DEFAULT_LEASE_NAME)
                .list()
                .getItems())
        .extracting(p -> p.getMetadata().getName())
        .containsExactly("op-b");
    assertThat(get(b, "/readyz").statusCode()).isEqualTo(200);
  }

  private void operatorPod(String name) {
    server
        .client()
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .withNamespace(NS)
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("operator")
                .withImage("vera-operator:test")
                .endContainer()
                .endSpec()
                .build())
        .create();
  }

  private String leaderLabel(String pod) {
    Map<String, String> labels =
        server.client().pods().inNamespace(NS).withName(pod).get().getMetadata().getLabels();
    return labels == null ? null : labels.get(LeaderPodLabel.LABEL);
  }

  private KubernetesClient client() {
    KubernetesClient client =
        new KubernetesClientBuilder()
            .withConfig(
                new ConfigBuilder(Config.empty())
                    .withMasterUrl(server.url())
                    .withNamespace(NS)
                    .withHttp2Disable(true)
                    .withRequestRetryBackoffLimit(0)
                    .build())
            .build();
    toClose.add(client);
    return client;
  }

  private VeraOperator start(KubernetesClient client, String identity) {
    return start(client, identity, false);
  }

  /** With {@code labelPod}, the replica labels its pod (named as its identity) while it leads. */
  private VeraOperator start(KubernetesClient client, String identity, boolean labelPod) {
    OperatorSettings settings =
        new OperatorSettings(
            "127.0.0.1",
            0,
            NS,
            Set.of(),
            3600,
            64 * 1024,
            WorkerPoolSpec.Runtime.Embedded,
            "vera-operator:test",
            "http://127.0.0.1:1",
            2,
            null,
            null);
    ClusterSettings cluster =
        new ClusterSettings(
            RestGuard.Settings.off(),
            new ClusterSettings.LeaderElection(
                    true,
                    ClusterSettings.LeaderElection.DEFAULT_LEASE_NAME,
                    NS,
                    identity,
                    LEASE,
                    Duration.ofSeconds(3),
                    Duration.ofMillis(500),
                    false)
                .withPod(labelPod ? new ClusterSettings.PodRef(NS, identity) : null),
            null);
    VeraOperator operator = new VeraOperator(client, settings, cluster).start(settings);
    toClose.add(operator);
    return operator;
  }

  private void createPool(KubernetesClient client) {
    WorkerPool pool = new WorkerPool();
    pool.setMetadata(new ObjectMetaBuilder().withName("ha-pool").withNamespace(NS).build());
    WorkerPoolSpec spec = new WorkerPoolSpec();
    spec.taskType = TaskType.GENERAL;
    spec.replicas = 2;
    spec.runtime = WorkerPoolSpec.Runtime.Embedded;
    pool.setSpec(spec);
    client.resource(pool).create();
  }

  private HttpResponse<String> submit(VeraOperator operator, String handler, String payload)
      throws Exception {
    String body =
        "{\"name\": \""
            + handler
            + "\", \"payload\": "
            + payload
            + ", \"max_retries\": 3, \"pool\": \"ha-pool\"}";
    return http.send(
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + operator.port() + "/orchestrator/tasks/submit"))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static String taskId(HttpResponse<String> response) throws Exception {
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return JSON.readTree(response.body()).path("task_id").asText();
  }

  private HttpResponse<String> get(VeraOperator operator, String path) {
    try {
      return http.send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + operator.port() + path))
              .timeout(Duration.ofSeconds(60))
              .build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private VeraTask task(String id) {
    return server.client().resources(VeraTask.class).inNamespace(NS).withName(id).get();
  }

  private TaskPhase phase(String id) {
    VeraTask task = task(id);
    return task == null || task.getStatus() == null ? null : task.getStatus().phase;
  }
}
