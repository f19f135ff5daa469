package io.vera.operator.compute;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.exception.ConflictException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Container;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.ComputeResourceStatus;
import io.vera.operator.api.Provider;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.compute.docker.DockerTestEngine;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The legacy infrastructure API and ComputeResources end to end: REST, the operator and a real
 * Docker engine, with the containers read back from the engine.
 */
class InfrastructureApiTest {
  @RegisterExtension static final DockerTestEngine DOCKER = new DockerTestEngine();
  private static final String BASE = "/orchestrator/infrastructure";

  private OperatorHarness harness;

  @BeforeEach
  void start() {
    harness = new OperatorHarness();
  }

  /** Only this run's containers: other runs on the same engine use namespace default too. */
  @AfterEach
  void stop() {
    harness.close();
    for (Container c :
        DOCKER
            .client()
            .listContainersCmd()
            .withShowAll(true)
            .withLabelFilter(
                Map.of(ComputeLabels.INSTANCE, harness.operator().instanceId().value()))
            .exec()) {
      try {
        DOCKER.client().removeContainerCmd(c.getId()).withForce(true).exec();
      } catch (ConflictException | NotFoundException e) {
        // the operator was removing it as it stopped
      }
    }
  }

  private void initialize(int maxResources) {
    OperatorHarness.Response init =
        harness.post(
            BASE + "/initialize",
            "{\"enable_docker\": true, \"docker_url\": \""
                + DockerTestEngine.engineUrl()
                + "\", \"max_resources\": "
                + maxResources
                + "}");
    assertThat(init.status()).as(init.text()).isEqualTo(200);
  }

  private String provision(double cpus, int memoryMb) {
    OperatorHarness.Response r =
        harness.post(
            BASE + "/resources/docker/provision",
            "{\"spec\": {\"cpu_cores\": "
                + cpus
                + ", \"memory_mb\": "
                + memoryMb
                + "}, \"image\": \""
                + DockerTestEngine.IMAGE
                + "\", \"network_mode\": \"none\", \"environment\": {\"GREETING\": \"hello\"}}");
    assertThat(r.status()).as(r.text()).isEqualTo(200);
    assertThat(r.json().path("resource_type").asText()).isEqualTo("docker_container");
    return r.json().path("resource_id").asText();
  }

  private InspectContainerResponse inspect(String resourceId) {
    JsonNode view = harness.get(BASE + "/resources/" + resourceId).json();
    return DOCKER
        .client()
        .inspectContainerCmd(view.path("metadata").path("machine_id").asText())
        .exec();
  }

  @Test
  void provisionsWithLimitsExecutesAndReports() {
    initialize(10);
    String id = provision(0.5, 256);
    assertThat(id).matches("docker-[0-9a-f]{12}");

    InspectContainerResponse container = inspect(id);
    assertThat(container.getState().getRunning()).isTrue();
    assertThat(container.getHostConfig().getNanoCPUs()).isEqualTo(500_000_000L);
    assertThat(container.getHostConfig().getMemory()).isEqualTo(256L * 1024 * 1024);
    assertThat(container.getHostConfig().getPrivileged()).isFalse();
    assertThat(container.getHostConfig().getNetworkMode()).isEqualTo("none");
    // The legacy default disk_gb (10) is capped where the storage driver can, and said otherwise.
    boolean capped = container.getHostConfig().getStorageOpt() != null;
    ComputeResource resource = byResourceId(id);
    assertThat(resource.getStatus().conditions)
        .filteredOn(c -> "DiskLimited".equals(c.getType()))
        .singleElement()
        .satisfies(
            c -> {
              assertThat(c.getStatus()).isEqualTo(capped ? "True" : "False");
              assertThat(c.getReason()).isEqualTo(capped ? "Capped" : "NotEnforced");
            });

    OperatorHarness.Response ok =
        harness.post(
            BASE + "/resources/" + id + "/execute",
            "{\"command\": \"echo $GREETING $EXTRA; echo oops >&2\", \"environment\": {\"EXTRA\": \"world\"}, \"workdir\": \"/tmp\"}");
    assertThat(ok.status()).as(ok.text()).isEqualTo(200);
    assertThat(ok.json().path("status").asText()).isEqualTo("success");
    assertThat(ok.json().path("exit_code").asInt()).isZero();
    assertThat(ok.json().path("stdout").asText()).isEqualTo("hello world\n");
    assertThat(ok.json().path("stderr").asText()).isEqualTo("oops\n");
    assertThat(ok.json().path("output").asText()).contains("hello world", "oops");

    OperatorHarness.Response failed =
        harness.post(BASE + "/resources/" + id + "/execute", "{\"command\": \"exit 7\"}");
    assertThat(failed.json().path("status").asText()).isEqualTo("failed");
    assertThat(failed.json().path("exit_code").asInt()).isEqualTo(7);

    OperatorHarness.Response slow =
        harness.post(
            BASE + "/resources/" + id + "/execute", "{\"command\": \"sleep 30\", \"timeout\": 1}");
    assertThat(slow.json().path("timed_out").asBoolean()).isTrue();
    assertThat(slow.json().path("exit_code").asInt()).isEqualTo(-1);

    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              JsonNode view = harness.get(BASE + "/resources/" + id).json();
              assertThat(view.path("total_tasks").asInt()).isEqualTo(3);
              assertThat(view.path("status").asText()).isEqualTo("available");
              assertThat(view.path("last_used").isNumber()).isTrue();
            });

    JsonNode stats = harness.get(BASE + "/stats").json();
    assertThat(stats.path("initialized").asBoolean()).isTrue();
    assertThat(stats.path("total_resources").asInt()).isEqualTo(1);
    assertThat(stats.path("available_resources").asInt()).isEqualTo(1);
    assertThat(stats.path("total_capacity").path("cpu_cores").asDouble()).isEqualTo(0.5);
    assertThat(stats.path("total_capacity").path("memory_mb").asLong()).isEqualTo(256);
    assertThat(stats.path("tasks_executed").asInt()).isEqualTo(3);
    assertThat(stats.path("containers_created").asInt()).isEqualTo(1);

    OperatorHarness.Response usage = harness.get(BASE + "/stats/resources/" + id);
    assertThat(usage.status()).as(usage.text()).isEqualTo(200);
    assertThat(usage.json().path("memory_limit_mb").asDouble()).isEqualTo(256.0);

    assertThat(
            harness.get(BASE + "/resources?status=available&resource_type=docker_container").json())
        .hasSize(1);
    assertThat(harness.get(BASE + "/resources?status=in_use").json()).isEmpty();
    assertThat(harness.get(BASE + "/resources?status=bogus").status()).isEqualTo(422);

    OperatorHarness.Response deleted = harness.send("DELETE", BASE + "/resources/" + id, null);
    assertThat(deleted.status()).isEqualTo(200);
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> harness.get(BASE + "/resources/" + id).status() == 404);
    assertThat(
            DOCKER
                .client()
                .listContainersCmd()
                .withShowAll(true)
                .withIdFilter(List.of(container.getId()))
                .exec())
        .isEmpty();
  }

  @Test
  void refusesBadInputAndUnknownResources() {
    assertThat(harness.get(BASE + "/resources").status()).isEqualTo(400);
    OperatorHarness.Response notInit =
        harness.post(BASE + "/resources/docker/provision", "{\"spec\": {}}");
    assertThat(notInit.status()).isEqualTo(400);
    assertThat(notInit.json().path("detail").asText()).contains("initialize");
    initialize(1);
    assertThat(
            harness
                .post(BASE + "/resources/docker/provision", "{\"spec\": {\"cpu_cores\": 500}}")
                .status())
        .isEqualTo(422);
    assertThat(
            harness
                .post(
                    BASE + "/resources/scale",
                    "{\"resource_type\": \"docker_container\", \"count\": 21}")
                .status())
        .isEqualTo(422);
    assertThat(harness.post(BASE + "/resources/cleanup", "{\"max_idle_seconds\": 5}").status())
        .isEqualTo(422);
    assertThat(harness.get(BASE + "/resources/docker-000000000000").status()).isEqualTo(404);
    assertThat(harness.post(BASE + "/resources/..%2Fetc/execute", "{\"command\": \"id\"}").status())
        .isEqualTo(404);

    OperatorHarness.Response missingImage =
        harness.post(
            BASE + "/resources/docker/provision",
            "{\"spec\": {}, \"image\": \"vera.local/does-not-exist:1\", \"network_mode\": \"none\"}");
    assertThat(missingImage.status()).as(missingImage.text()).isEqualTo(422);
    assertThat(missingImage.json().path("detail").asText()).contains("does-not-exist");
    // A failed provision leaves nothing behind, so the limit of one is still free.
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> harness.get(BASE + "/resources").json().isEmpty());

    provision(0.2, 128);
    OperatorHarness.Response over =
        harness.post(
            BASE + "/resources/docker/provision",
            "{\"spec\": {}, \"image\": \""
                + DockerTestEngine.IMAGE
                + "\", \"network_mode\": \"none\"}");
    assertThat(over.status()).isEqualTo(409);
    assertThat(over.json().path("detail").asText()).contains("max_resources");
  }

  @Test
  void recreatesAContainerRemovedBehindItsBackAndRemovesIdleOnes() {
    initialize(10);
    String id = provision(0.2, 128);
    ComputeResource resource = byResourceId(id);
    String firstContainer = resource.getStatus().machineId;

    DOCKER.client().removeContainerCmd(firstContainer).withForce(true).exec();

    Awaitility.await()
        .atMost(Duration.ofSeconds(40))
        .untilAsserted(
            () -> {
              ComputeResource now = byName(resource.getMetadata().getName());
              assertThat(now.getStatus().recreations).isEqualTo(1);
              assertThat(now.getStatus().machineId).isNotEqualTo(firstContainer);
              assertThat(now.getStatus().phase).isEqualTo(ComputeResourceStatus.Phase.Available);
            });
    assertThat(harness.events())
        .anySatisfy(e -> assertThat(e.getReason()).isEqualTo("MachineLost"));

    // Never used and ready an hour ago: the cleanup endpoint removes it, measured from real use.
    String busy = provision(0.2, 128);
    backdateReadyTime(resource.getMetadata().getName());
    backdateReadyTime(byResourceId(busy).getMetadata().getName());
    CompletableFuture<OperatorHarness.Response> running =
        CompletableFuture.supplyAsync(
            () ->
                harness.post(
                    BASE + "/resources/" + busy + "/execute", "{\"command\": \"sleep 3\"}"));
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                "in_use"
                    .equals(
                        harness.get(BASE + "/resources/" + busy).json().path("status").asText()));
    OperatorHarness.Response cleanup =
        harness.post(BASE + "/resources/cleanup", "{\"max_idle_seconds\": 60}");
    assertThat(cleanup.status()).isEqualTo(200);
    assertThat(cleanup.json().path("count").asInt()).isEqualTo(1);
    assertThat(running.join().json().path("exit_code").asInt()).isZero();
    assertThat(harness.get(BASE + "/resources/" + busy).status()).isEqualTo(200);
  }

  @Test
  void idleTimeoutRemovesAResourceAfterItsLastUse() {
    initialize(10);
    ComputeResource resource = dockerResource("idle", 2);
    harness.client().resource(resource).create();
    Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> byName("idle") == null);
    assertThat(harness.events())
        .anySatisfy(e -> assertThat(e.getReason()).isEqualTo("IdleTimeout"));
  }

  @Test
  void veraTasksRunInANamedOrAllocatedResource() {
    initialize(10);
    harness.client().resource(dockerResource("box", 0)).create();
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                byName("box") != null
                    && byName("box").getStatus() != null
                    && byName("box").getStatus().phase == ComputeResourceStatus.Phase.Available);

    VeraTask named = resourceTask("named", "box", "echo in-$HOSTNAME-ok", 0);
    VeraTask failing = resourceTask("failing", "box", "echo nope >&2; exit 3", 1);
    VeraTask allocated = resourceTask("allocated", null, "echo allocated", 0);
    for (VeraTask t : List.of(named, failing, allocated)) {
      harness.client().resource(t).create();
    }
    VeraTask done = awaitFinished("named");
    assertThat(done.getStatus().phase).isEqualTo(TaskPhase.Succeeded);
    assertThat(done.getStatus().result.path("exit_code").asInt()).isZero();
    assertThat(done.getStatus().result.path("stdout").asText()).startsWith("in-").endsWith("-ok\n");
    assertThat(done.getStatus().result.path("resource").asText())
        .isEqualTo(byName("box").getStatus().resourceId);

    VeraTask bad = awaitFinished("failing");
    assertThat(bad.getStatus().phase).isEqualTo(TaskPhase.Failed);
    assertThat(bad.getStatus().attempts).isEqualTo(2);
    assertThat(bad.getStatus().error.type).isEqualTo("CommandFailed");
    assertThat(bad.getStatus().error.message).contains("exit code 3", "nope");

    VeraTask picked = awaitFinished("allocated");
    assertThat(picked.getStatus().phase).isEqualTo(TaskPhase.Succeeded);
    assertThat(picked.getStatus().result.path("stdout").asText()).isEqualTo("allocated\n");

    VeraTask missing = resourceTask("missing", "no-such-resource", "true", 0);
    harness.client().resource(missing).create();
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              VeraTask t = harness.task("missing");
              assertThat(t.getStatus()).isNotNull();
              assertThat(t.getStatus().phase).isEqualTo(TaskPhase.Pending);
            });
  }

  @Test
  void aRunningCommandReportsItsOutputSoFar() {
    initialize(10);
    harness.client().resource(dockerResource("talker", 0)).create();
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                byName("talker") != null
                    && byName("talker").getStatus() != null
                    && byName("talker").getStatus().phase == ComputeResourceStatus.Phase.Available);

    harness
        .client()
        .resource(resourceTask("talking", "talker", "echo one; echo two; sleep 6; echo three", 0))
        .create();

    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              VeraTask t = harness.task("talking");
              assertThat(t).isNotNull();
              assertThat(t.getStatus()).isNotNull();
              assertThat(t.getStatus().phase).isEqualTo(TaskPhase.Running);
              assertThat(t.getStatus().progress).isNotNull();
              assertThat(t.getStatus().progress.message)
                  .contains("2 lines (8 bytes) of output so far");
              assertThat(t.getStatus().progress.percent)
                  .as("a command cannot say how much is left")
                  .isNull();
            });
    VeraTask done = awaitFinished("talking");
    assertThat(done.getStatus().phase).isEqualTo(TaskPhase.Succeeded);
    assertThat(done.getStatus().result.path("stdout").asText()).isEqualTo("one\ntwo\nthree\n");
  }

  @Test
  void autoScaleProvisionsAContainerForATaskThatNoResourceFits() {
    OperatorHarness.Response init =
        harness.post(
            BASE + "/initialize",
            "{\"docker_url\": \""
                + DockerTestEngine.engineUrl()
                + "\", \"auto_scale\": true, \"auto_scale_image\": \""
                + DockerTestEngine.IMAGE
                + "\", \"max_resources\": 2}");
    assertThat(init.status()).as(init.text()).isEqualTo(200);
    String small = provision(0.2, 128);

    VeraTask big = resourceTask("big", null, "echo big enough", 0);
    big.getSpec().resourceRef.minimum = new ComputeResourceSpec.ResourceSpec();
    big.getSpec().resourceRef.minimum.memoryMb = 300;
    harness.client().resource(big).create();

    VeraTask done = awaitFinished("big");
    assertThat(done.getStatus().phase).isEqualTo(TaskPhase.Succeeded);
    String ranIn = done.getStatus().result.path("resource").asText();
    assertThat(ranIn).isNotEqualTo(small);
    ComputeResource made = byResourceId(ranIn);
    assertThat(made.getMetadata().getLabels()).containsEntry("vera.io/source", "auto-provision");
    assertThat(made.getSpec().resources.memoryMb).isEqualTo(512);
    assertThat(made.getSpec().idleTimeoutSeconds).isEqualTo(300);
  }

  @Test
  void keepsWarmContainersReadyAndTrimsTheSurplusAfterTheIdleTimeout() {
    OperatorHarness.Response init =
        harness.post(
            BASE + "/initialize",
            "{\"docker_url\": \""
                + DockerTestEngine.engineUrl()
                + "\", \"auto_scale\": true, \"auto_scale_image\": \""
                + DockerTestEngine.IMAGE
                + "\", \"max_resources\": 4}");
    assertThat(init.status()).as(init.text()).isEqualTo(200);
    harness
        .client()
        .resources(Provider.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName(LegacyInfrastructure.DOCKER)
        // A merge patch: an edit's resourceVersion check loses to the reconciler's status writes.
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"spec\": {\"docker\": {\"autoProvision\": {\"warm\": 2, \"idleTimeoutSeconds\": 2}}}}");

    Duration converge = Duration.ofSeconds(90);
    Awaitility.await()
        .atMost(converge)
        .until(() -> warm(ComputeResourceStatus.Phase.Available) == 2);
    assertThat(warmResources())
        .allSatisfy(
            r -> {
              assertThat(r.getSpec().idleTimeoutSeconds).isZero();
              assertThat(r.getSpec().taskType).isEqualTo(TaskType.GENERAL);
            });

    // A task takes one warm container; another is made so two stay ready. The task runs until
    // cancelled, so the replacement is seen however slowly the machine makes it.
    VeraTask busy = resourceTask("busy", null, "sleep 300; echo done", 0);
    harness.client().resource(busy).create();
    Awaitility.await()
        .atMost(converge)
        .until(
            () ->
                warm(ComputeResourceStatus.Phase.InUse) == 1
                    && warm(ComputeResourceStatus.Phase.Available) == 2);
    harness
        .client()
        .resources(VeraTask.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName("busy")
        .edit(
            t -> {
              t.getSpec().cancel = true;
              return t;
            });
    assertThat(awaitFinished("busy").getStatus().phase).isEqualTo(TaskPhase.Cancelled);

    // Three idle now, two wanted: the surplus goes once idle past the template's timeout.
    Awaitility.await().atMost(converge).until(() -> warmResources().size() == 2);
    assertThat(warm(ComputeResourceStatus.Phase.Available)).isEqualTo(2);
  }

  private List<ComputeResource> warmResources() {
    return harness
        .client()
        .resources(ComputeResource.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withLabel(ComputeLabels.SOURCE, "warm")
        .list()
        .getItems()
        .stream()
        .filter(r -> r.getMetadata().getDeletionTimestamp() == null)
        .toList();
  }

  private long warm(ComputeResourceStatus.Phase phase) {
    return warmResources().stream()
        .filter(r -> r.getStatus() != null && r.getStatus().phase == phase)
        .count();
  }

  @Test
  void adoptsItsContainersAfterARestartAndRemovesOrphans() {
    initialize(10);
    String kept = provision(0.2, 128);
    String orphan = provision(0.2, 128);
    String keptContainer = byResourceId(kept).getStatus().machineId;
    String orphanContainer = byResourceId(orphan).getStatus().machineId;
    ComputeResource orphaned = byResourceId(orphan);

    harness.operator().close();
    // Deleted while the operator is down: the finalizer cannot run, so drop it by hand as a user
    // forcing the deletion would.
    harness
        .client()
        .resource(orphaned)
        .edit(
            r -> {
              r.getMetadata().setFinalizers(List.of());
              return r;
            });
    harness.client().resource(orphaned).delete();
    harness.restartOperator();

    Awaitility.await()
        .atMost(Duration.ofSeconds(40))
        .until(
            () ->
                DOCKER
                    .client()
                    .listContainersCmd()
                    .withShowAll(true)
                    .withIdFilter(List.of(orphanContainer))
                    .exec()
                    .isEmpty());
    List<Container> ours =
        DOCKER
            .client()
            .listContainersCmd()
            .withShowAll(true)
            .withLabelFilter(
                Map.of(ComputeLabels.INSTANCE, harness.operator().instanceId().value()))
            .exec();
    assertThat(ours).extracting(Container::getId).containsExactly(keptContainer);
    assertThat(byResourceId(kept).getStatus().machineId).isEqualTo(keptContainer);
  }

  private ComputeResource dockerResource(String name, int idleTimeoutSeconds) {
    ComputeResource resource = new ComputeResource();
    resource.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(OperatorHarness.NAMESPACE).build());
    ComputeResourceSpec spec = new ComputeResourceSpec();
    spec.type = ComputeResourceSpec.Type.Docker;
    spec.providerRef = LegacyInfrastructure.DOCKER;
    spec.idleTimeoutSeconds = idleTimeoutSeconds;
    spec.resources = new ComputeResourceSpec.ResourceSpec();
    spec.resources.cpuCores = 0.2;
    spec.resources.memoryMb = 128;
    spec.docker = new ComputeResourceSpec.DockerSpec();
    spec.docker.image = DockerTestEngine.IMAGE;
    spec.docker.networkMode = "none";
    resource.setSpec(spec);
    return resource;
  }

  private VeraTask resourceTask(String name, String resource, String command, int retries) {
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(OperatorHarness.NAMESPACE).build());
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.resourceRef = new VeraTaskSpec.ResourceTarget();
    spec.resourceRef.name = resource;
    spec.resourceRef.command = command;
    spec.retries = new VeraTaskSpec.RetryPolicy();
    spec.retries.limit = retries;
    spec.retries.backoffSeconds = 0;
    spec.timeoutSeconds = 30;
    task.setSpec(spec);
    return task;
  }

  private VeraTask awaitFinished(String name) {
    Awaitility.await()
        .atMost(Duration.ofSeconds(40))
        .until(
            () ->
                harness.task(name) != null
                    && harness.task(name).getStatus() != null
                    && harness.task(name).getStatus().phase != null
                    && harness.task(name).getStatus().phase.isFinished());
    return harness.task(name);
  }

  private ComputeResource byName(String name) {
    return harness
        .client()
        .resources(ComputeResource.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName(name)
        .get();
  }

  private ComputeResource byResourceId(String id) {
    return harness
        .client()
        .resources(ComputeResource.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .list()
        .getItems()
        .stream()
        .filter(r -> r.getStatus() != null && id.equals(r.getStatus().resourceId))
        .findFirst()
        .orElseThrow();
  }

  private void backdateReadyTime(String name) {
    harness
        .client()
        .resources(ComputeResource.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName(name)
        .editStatus(
            r -> {
              r.getStatus().readyTime = Instant.now().minusSeconds(3600).toString();
              return r;
            });
  }
}
