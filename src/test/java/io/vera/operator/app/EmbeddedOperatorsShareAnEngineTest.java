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
import static org.assertj.core.api.Assertions.assertThat;

import com.github.dockerjava.api.DockerClient;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.vera.operator.app.EmbeddedProcesses.Operator;
import io.vera.operator.compute.docker.DockerTestEngine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two embedded operators, each a process of its own with its own state directory, share the real
 * Docker engine, as two users or two test runs on one machine do. Each state directory keeps an
 * installation id of its own, which marks that operator's containers; each operator's orphan sweep
 * removes its own orphan and leaves the other one's containers running and usable, and an operator
 * killed and started again adopts its container.
 */
class EmbeddedOperatorsShareAnEngineTest {
  @RegisterExtension static final DockerTestEngine DOCKER = new DockerTestEngine();

  @TempDir Path home;
  private EmbeddedProcesses processes;
  private final List<KubernetesClient> clients = new ArrayList<>();

  @AfterEach
  void stopAll() throws Exception {
    clients.forEach(KubernetesClient::close);
    if (processes != null) {
      processes.close();
    }
    // What the operators made goes with the test's own containers (after this method).
    for (String dir : List.of("a", "b")) {
      String id = storedInstallationId(home.resolve(dir));
      if (id != null) {
        DOCKER.trackInstance(id);
      }
    }
  }

  @Test
  void neitherOperatorTouchesTheOtherOnesContainers() throws Exception {
    processes = new EmbeddedProcesses(home);
    DockerClient docker = DOCKER.client();
    Path stateA = home.resolve("a");
    Path stateB = home.resolve("b");
    Operator a = processes.start("share-a", stateA, home.resolve("kubeconfig-a"));
    Operator b = processes.start("share-b", stateB, home.resolve("kubeconfig-b"));
    KubernetesClient kubeA = client(a);
    KubernetesClient kubeB = client(b);
    // The same Provider and resource names in both: only the installation id tells apart whose
    // container is whose.
    for (KubernetesClient kube : List.of(kubeA, kubeB)) {
      createDockerProvider(kube);
      createContainerResource(kube, "sandbox");
    }
    String containerA = awaitAvailable(kubeA, "sandbox").getStatus().machineId;
    String containerB = awaitAvailable(kubeB, "sandbox").getStatus().machineId;
    assertThat(containerA).isNotEqualTo(containerB);
    String idA = instanceOf(docker, containerA);
    String idB = instanceOf(docker, containerB);
    assertThat(idA).as("installation id of A").isNotBlank().isNotEqualTo(idB);
    assertThat(idB).as("installation id of B").isNotBlank();
    assertThat(runIn(kubeA, "sandbox", "one")).isEqualTo("one\n");
    assertThat(runIn(kubeB, "sandbox", "two")).isEqualTo("two\n");

    // A is killed. Meanwhile A's installation gets a container whose resource does not exist.
    a.kill();
    assertThat(storedInstallationId(stateA)).as("kept in A's state directory").isEqualTo(idA);
    String orphanA = DOCKER.startOrphan(idA, NS, "deleted-while-a-was-down");

    // A's first sweep after its start removes A's orphan; B, running all along, loses nothing.
    // B's container is an orphan as far as A can tell (its resource UID is not in A's store), so
    // only the installation id keeps A's sweep off it.
    Operator againA = processes.start("share-a-again", stateA, home.resolve("kubeconfig-a"));
    KubernetesClient kubeAgainA = client(againA);
    EmbeddedProcesses.await("A's sweep removes A's orphan", () -> !exists(docker, orphanA));
    assertThat(running(docker, containerB)).as("B's container after A's sweep").isTrue();
    assertThat(awaitAvailable(kubeAgainA, "sandbox").getStatus().machineId)
        .as("A adopts its container")
        .isEqualTo(containerA);
    assertThat(running(docker, containerA)).isTrue();
    assertThat(runIn(kubeAgainA, "sandbox", "three")).isEqualTo("three\n");
    assertThat(runIn(kubeB, "sandbox", "four")).isEqualTo("four\n");

    // The other way round: B's first sweep removes B's orphan and nothing of A's. The orphan is
    // made while B is down: a running B would sweep it itself on its own schedule, whatever A does.
    b.kill();
    assertThat(storedInstallationId(stateB)).as("kept in B's state directory").isEqualTo(idB);
    String orphanB = DOCKER.startOrphan(idB, NS, "deleted-while-b-was-down");
    Operator againB = processes.start("share-b-again", stateB, home.resolve("kubeconfig-b"));
    KubernetesClient kubeAgainB = client(againB);
    EmbeddedProcesses.await("B's sweep removes B's orphan", () -> !exists(docker, orphanB));
    assertThat(Files.readString(againB.log()))
        .as("B's log: B, not A, removed it")
        .contains("removed orphaned machine docker-" + orphanB.substring(0, 12));
    assertThat(running(docker, containerA)).as("A's container after B's sweep").isTrue();
    assertThat(awaitAvailable(kubeAgainB, "sandbox").getStatus().machineId)
        .as("B adopts its container")
        .isEqualTo(containerB);
    assertThat(running(docker, containerB)).isTrue();
    assertThat(runIn(kubeAgainB, "sandbox", "five")).isEqualTo("five\n");
    assertThat(runIn(kubeAgainA, "sandbox", "six")).isEqualTo("six\n");
  }

  private KubernetesClient client(Operator operator) throws IOException {
    KubernetesClient kube = operator.kube();
    clients.add(kube);
    return kube;
  }
}
