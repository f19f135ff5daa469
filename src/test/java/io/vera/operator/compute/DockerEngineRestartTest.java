package io.vera.operator.compute;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.dockerjava.api.model.Container;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.ComputeResourceStatus;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.compute.docker.BusyboxImage;
import io.vera.operator.compute.docker.DockerHost;
import io.vera.operator.compute.docker.DockerTestEngine;
import io.vera.operator.compute.docker.PrivateDockerEngine;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Docker engine behind a Provider is stopped and started again while it runs the containers of
 * three ComputeResources: the Provider goes not Ready and Ready again, and every resource comes
 * back Available in its own container (restarted by the engine for a restart policy that says so,
 * by the operator otherwise), with no container left over and commands running again.
 *
 * <p>The engine is a private {@code dockerd} this test starts and stops; the shared engine the
 * other tests use is never touched.
 */
class DockerEngineRestartTest {
  private static final String NS = OperatorHarness.NAMESPACE;
  private static final String PROVIDER = "private-docker";

  /** Provider probes run once a minute, reconciles every 15 s: generous bounds for a slow CI. */
  private static final Duration PROVIDER_NOTICES = Duration.ofSeconds(150);

  private static final Duration RESOURCE_NOTICES = Duration.ofSeconds(90);

  private PrivateDockerEngine engine;
  private DockerHost engineClient;
  private OperatorHarness harness;

  @BeforeEach
  void start() throws Exception {
    engine = PrivateDockerEngine.start();
    engineClient =
        DockerHost.connect(
            engine.url(), null, Duration.ofSeconds(30), new InstanceId("engine-restart-test"));
    BusyboxImage.importImage(
        engineClient.client(), DockerTestEngine.IMAGE, DockerTestEngine.BUSYBOX);
    harness = new OperatorHarness();
  }

  @AfterEach
  void stop() throws Exception {
    try {
      if (harness != null) {
        harness.close();
      }
    } finally {
      if (engineClient != null) {
        engineClient.close();
      }
      if (engine != null) {
        engine.close();
      }
    }
  }

  @Test
  void resourcesComeBackAfterTheEngineRestarts() throws Exception {
    createProvider();
    awaitProviderReady("True", PROVIDER_NOTICES);
    // Default: no restart policy, so the operator starts the container the engine stopped.
    createResource("plain", spec -> {});
    // The engine restarts this one itself.
    createResource("engine-restarts", spec -> spec.docker.restartPolicy = "unless-stopped");
    // A stopped container is not a lost one: recreate=false still lets it start again.
    createResource("no-recreate", spec -> spec.docker.recreate = false);
    List<String> names = List.of("plain", "engine-restarts", "no-recreate");
    Map<String, String> containerBefore = new HashMap<>();
    for (String name : names) {
      ComputeResource ready = awaitAvailable(name, Duration.ofSeconds(60));
      containerBefore.put(name, ready.getStatus().machineId);
    }
    assertOneContainerPerResourceAndNoOrphans();
    assertThat(runIn("plain", "before")).isEqualTo("before-plain\n");

    engine.stop();
    awaitProviderReady("False", PROVIDER_NOTICES);
    for (String name : names) {
      Awaitility.await()
          .atMost(RESOURCE_NOTICES)
          .untilAsserted(
              () ->
                  assertThat(ready(resource(name)))
                      .as("Ready condition of %s while the engine is down", name)
                      .hasValueSatisfying(c -> assertThat(c.getStatus()).isEqualTo("False")));
    }
    assertThat(ready(resource("plain")).orElseThrow().getReason()).isEqualTo("HostUnavailable");

    engine.restart();
    awaitProviderReady("True", PROVIDER_NOTICES);
    for (String name : names) {
      ComputeResource back = awaitAvailable(name, RESOURCE_NOTICES);
      assertThat(ready(back)).hasValueSatisfying(c -> assertThat(c.getStatus()).isEqualTo("True"));
      // Every container survived the restart (stopped, not removed): the same one runs again.
      assertThat(back.getStatus().machineId)
          .as("container of %s after the restart", name)
          .isEqualTo(containerBefore.get(name));
      assertThat(back.getStatus().recreations).as("recreations of %s", name).isNull();
      assertThat(
              engineClient
                  .client()
                  .inspectContainerCmd(back.getStatus().machineId)
                  .exec()
                  .getState()
                  .getRunning())
          .isTrue();
    }
    assertOneContainerPerResourceAndNoOrphans();
    for (String name : names) {
      assertThat(runIn(name, "after")).isEqualTo("after-" + name + "\n");
    }
    assertThat(harness.events())
        .anySatisfy(e -> assertThat(e.getReason()).isEqualTo("HostUnavailable"))
        .anySatisfy(e -> assertThat(e.getReason()).isEqualTo("MachineStopped"));
  }

  // ---- resources -----------------------------------------------------------------------------

  private void createProvider() {
    Provider provider = new Provider();
    provider.setMetadata(new ObjectMetaBuilder().withName(PROVIDER).withNamespace(NS).build());
    ProviderSpec spec = new ProviderSpec();
    spec.type = ProviderSpec.Type.Docker;
    spec.timeoutSeconds = 10;
    spec.docker = new ProviderSpec.DockerHost();
    spec.docker.host = engine.url();
    spec.docker.maxResources = 10;
    provider.setSpec(spec);
    harness.client().resource(provider).create();
  }

  private void createResource(String name, Consumer<ComputeResourceSpec> customise) {
    ComputeResource resource = new ComputeResource();
    resource.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    ComputeResourceSpec spec = new ComputeResourceSpec();
    spec.type = ComputeResourceSpec.Type.Docker;
    spec.providerRef = PROVIDER;
    spec.resources = new ComputeResourceSpec.ResourceSpec();
    spec.resources.cpuCores = 0.2;
    spec.resources.memoryMb = 128;
    spec.docker = new ComputeResourceSpec.DockerSpec();
    spec.docker.image = DockerTestEngine.IMAGE;
    spec.docker.networkMode = "none";
    spec.docker.command = List.of("sleep", "3600");
    customise.accept(spec);
    resource.setSpec(spec);
    harness.client().resource(resource).create();
  }

  private ComputeResource resource(String name) {
    return harness.client().resources(ComputeResource.class).inNamespace(NS).withName(name).get();
  }

  private static Optional<Condition> ready(ComputeResource resource) {
    return resource == null || resource.getStatus() == null
        ? Optional.empty()
        : resource.getStatus().conditions.stream()
            .filter(c -> "Ready".equals(c.getType()))
            .findFirst();
  }

  private ComputeResource awaitAvailable(String name, Duration wait) {
    Awaitility.await()
        .atMost(wait)
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(
            () -> {
              ComputeResource now = resource(name);
              assertThat(now.getStatus()).as("status of %s", name).isNotNull();
              assertThat(now.getStatus().phase)
                  .as("phase of %s (%s)", name, ready(now).map(Condition::getMessage).orElse(""))
                  .isEqualTo(ComputeResourceStatus.Phase.Available);
              assertThat(ready(now))
                  .hasValueSatisfying(c -> assertThat(c.getStatus()).isEqualTo("True"));
            });
    return resource(name);
  }

  private void awaitProviderReady(String state, Duration wait) {
    Awaitility.await()
        .atMost(wait)
        .pollInterval(Duration.ofMillis(500))
        .untilAsserted(
            () -> {
              Provider provider =
                  harness
                      .client()
                      .resources(Provider.class)
                      .inNamespace(NS)
                      .withName(PROVIDER)
                      .get();
              assertThat(provider.getStatus()).isNotNull();
              assertThat(provider.getStatus().conditions)
                  .filteredOn(c -> "Ready".equals(c.getType()))
                  .singleElement()
                  .satisfies(c -> assertThat(c.getStatus()).as(c.getMessage()).isEqualTo(state));
            });
  }

  /** Every labelled container belongs to a resource that exists, and each resource has one. */
  private void assertOneContainerPerResourceAndNoOrphans() {
    List<Container> labelled =
        engineClient
            .client()
            .listContainersCmd()
            .withShowAll(true)
            .withLabelFilter(Map.of(ComputeLabels.MANAGED_BY, ComputeLabels.MANAGED_BY_VALUE))
            .exec();
    Map<String, Long> perUid =
        labelled.stream()
            .collect(
                Collectors.groupingBy(
                    c -> c.getLabels().get(ComputeLabels.RESOURCE_UID), Collectors.counting()));
    Map<String, Long> expected = new HashMap<>();
    for (ComputeResource r :
        harness.client().resources(ComputeResource.class).inNamespace(NS).list().getItems()) {
      expected.put(r.getMetadata().getUid(), 1L);
    }
    assertThat(perUid).as("containers per resource uid").isEqualTo(expected);
  }

  /** Runs {@code echo <word>-<resource>} as a VeraTask in a resource; returns its stdout. */
  private String runIn(String resource, String word) {
    String name = word + "-in-" + resource;
    VeraTask task = new VeraTask();
    task.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.resourceRef = new VeraTaskSpec.ResourceTarget();
    spec.resourceRef.name = resource;
    spec.resourceRef.command = "echo " + word + "-" + resource;
    spec.timeoutSeconds = 30;
    spec.retries = new VeraTaskSpec.RetryPolicy();
    spec.retries.limit = 0;
    task.setSpec(spec);
    harness.client().resource(task).create();
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              VeraTask now = task(name);
              return now != null
                  && now.getStatus() != null
                  && now.getStatus().phase != null
                  && now.getStatus().phase.isFinished();
            });
    VeraTask done = task(name);
    assertThat(done.getStatus().phase)
        .as(
            "task %s: %s",
            name, done.getStatus().error == null ? "" : done.getStatus().error.message)
        .isEqualTo(TaskPhase.Succeeded);
    assertThat(done.getStatus().attempts).isEqualTo(1);
    return done.getStatus().result.path("stdout").asText();
  }

  private VeraTask task(String name) {
    return harness.client().resources(VeraTask.class).inNamespace(NS).withName(name).get();
  }
}
