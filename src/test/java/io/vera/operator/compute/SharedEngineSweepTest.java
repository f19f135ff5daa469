package io.vera.operator.compute;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.dockerjava.api.exception.ConflictException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Container;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.compute.docker.DockerTestEngine;
import io.vera.operator.compute.pod.PodHost;
import io.vera.operator.provider.SecretCredentials;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two installations (two operators, each with its own API server, both using namespace {@code
 * default}) share the real Docker engine, as two clusters, two test runs or an embedded operator
 * next to a real one do: neither removes the other's containers, each still removes its own
 * orphans, and a restarted operator adopts its containers.
 */
class SharedEngineSweepTest {
  @RegisterExtension static final DockerTestEngine DOCKER = new DockerTestEngine();
  private static final String BASE = "/orchestrator/infrastructure";

  private OperatorHarness first;
  private OperatorHarness second;
  private final List<String> made = new ArrayList<>();

  @AfterEach
  void stop() {
    List<InstanceId> ids = new ArrayList<>();
    for (OperatorHarness harness : new OperatorHarness[] {first, second}) {
      if (harness != null) {
        ids.add(harness.operator().instanceId());
        harness.close();
      }
    }
    for (InstanceId id : ids) {
      DOCKER
          .client()
          .listContainersCmd()
          .withShowAll(true)
          .withLabelFilter(Map.of(ComputeLabels.INSTANCE, id.value()))
          .exec()
          .forEach(c -> made.add(c.getId()));
    }
    for (String id : made) {
      try {
        DOCKER.client().removeContainerCmd(id).withForce(true).exec();
      } catch (ConflictException | NotFoundException e) {
        // already going or gone
      }
    }
  }

  @Test
  void neitherRemovesTheOthersContainersAndEachStillRemovesItsOwnOrphans() {
    first = new OperatorHarness();
    initialize(first);
    String keptA = provision(first);
    String goneA = provision(first);
    // The second operator's first sweep (5 s after it starts) already sees the first's containers.
    second = new OperatorHarness();
    initialize(second);
    String keptB = provision(second);

    InstanceId a = first.operator().instanceId();
    InstanceId b = second.operator().instanceId();
    assertThat(a).isNotEqualTo(b);
    assertThat(instanceLabel(containerOf(first, keptA))).isEqualTo(a.value());
    assertThat(instanceLabel(containerOf(first, goneA))).isEqualTo(a.value());
    assertThat(instanceLabel(containerOf(second, keptB))).isEqualTo(b.value());

    // A container from a version before the label: its resource exists in neither cluster.
    String unmarked = createUnmarkedContainer();

    // What each operator's timer runs, run now: neither finds anything to remove.
    assertThat(sweep(second)).isZero();
    assertThat(sweep(first)).isZero();
    assertThat(exists(containerOf(first, keptA))).isTrue();
    assertThat(exists(containerOf(first, goneA))).isTrue();
    assertThat(exists(containerOf(second, keptB))).isTrue();
    assertThat(exists(unmarked)).as("an unmarked container is never swept").isTrue();

    // goneA's resource is deleted while the first operator is down; after its restart the first
    // operator's own sweep removes that container and adopts keptA.
    String keptAContainer = containerOf(first, keptA);
    String goneAContainer = containerOf(first, goneA);
    String keptBContainer = containerOf(second, keptB);
    ComputeResource orphaned = byResourceId(first, goneA);
    first.operator().close();
    // A merge patch, not edit(): the closed operator may have written the resource since it was
    // read, and edit() would send that stale resourceVersion and be refused with a conflict.
    first
        .client()
        .resources(ComputeResource.class)
        .inNamespace(orphaned.getMetadata().getNamespace())
        .withName(orphaned.getMetadata().getName())
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"metadata\":{\"finalizers\":null}}");
    first.client().resource(orphaned).delete();
    first.restartOperator();
    assertThat(first.operator().instanceId()).as("stable across a restart").isEqualTo(a);

    Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> !exists(goneAContainer));
    assertThat(exists(keptAContainer)).isTrue();
    assertThat(exists(keptBContainer)).as("the other installation's container").isTrue();
    assertThat(exists(unmarked)).isTrue();
    assertThat(byResourceId(first, keptA).getStatus().machineId).isEqualTo(keptAContainer);
    OperatorHarness.Response ran =
        first.post(BASE + "/resources/" + keptA + "/execute", "{\"command\": \"echo adopted\"}");
    assertThat(ran.status()).as(ran.text()).isEqualTo(200);
    assertThat(ran.json().path("stdout").asText()).isEqualTo("adopted\n");
    OperatorHarness.Response other =
        second.post(BASE + "/resources/" + keptB + "/execute", "{\"command\": \"echo still\"}");
    assertThat(other.json().path("stdout").asText()).as(other.text()).isEqualTo("still\n");
  }

  /** One pass of the orphan sweep with the harness's cluster and installation id. */
  private static int sweep(OperatorHarness harness) {
    InstanceId id = harness.operator().instanceId();
    Clock clock = Clock.systemUTC();
    try (ComputeHosts hosts =
        new ComputeHosts(
            harness.client(),
            new SecretCredentials(harness.client()),
            new DefaultComputeHostFactory(id),
            ns -> new PodHost(harness.client(), ns, clock, id))) {
      return new ComputeService(
              harness.client(), hosts, new ComputeUsage(clock), new MachineCache(), clock)
          .sweepOrphans(Set.of());
    }
  }

  private String createUnmarkedContainer() {
    String id =
        DOCKER.createUnmarkedContainer(
            OperatorHarness.NAMESPACE, "from-an-older-version", UUID.randomUUID().toString());
    made.add(id);
    DOCKER.client().startContainerCmd(id).exec();
    return id;
  }

  private static void initialize(OperatorHarness harness) {
    OperatorHarness.Response init =
        harness.post(
            BASE + "/initialize",
            "{\"enable_docker\": true, \"docker_url\": \""
                + DockerTestEngine.engineUrl()
                + "\", \"max_resources\": 5}");
    assertThat(init.status()).as(init.text()).isEqualTo(200);
  }

  private static String provision(OperatorHarness harness) {
    OperatorHarness.Response r =
        harness.post(
            BASE + "/resources/docker/provision",
            "{\"spec\": {\"cpu_cores\": 0.2, \"memory_mb\": 128}, \"image\": \""
                + DockerTestEngine.IMAGE
                + "\", \"network_mode\": \"none\"}");
    assertThat(r.status()).as(r.text()).isEqualTo(200);
    return r.json().path("resource_id").asText();
  }

  private static ComputeResource byResourceId(OperatorHarness harness, String id) {
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

  private static String containerOf(OperatorHarness harness, String resourceId) {
    return byResourceId(harness, resourceId).getStatus().machineId;
  }

  private static String instanceLabel(String containerId) {
    return DOCKER
        .client()
        .inspectContainerCmd(containerId)
        .exec()
        .getConfig()
        .getLabels()
        .get(ComputeLabels.INSTANCE);
  }

  private static boolean exists(String containerId) {
    List<Container> found =
        DOCKER
            .client()
            .listContainersCmd()
            .withShowAll(true)
            .withIdFilter(List.of(containerId))
            .exec();
    return !found.isEmpty();
  }
}
