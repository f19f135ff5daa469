package io.vera.operator.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.exception.NotFoundException;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.ComputeResourceStatus;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.compute.ComputeLabels;
import io.vera.operator.compute.docker.DockerTestEngine;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.List;
import org.sqlite.SQLiteConfig;

/**
 * Docker ComputeResources on the real engine, made and used through an embedded operator's API
 * server as {@code kubectl apply} would, in namespace {@code default}; and what a test reads on the
 * engine and in a stopped operator's state directory about them.
 */
final class EmbeddedCompute {
  static final String NS = "default";
  static final String PROVIDER = "local-docker";

  private EmbeddedCompute() {}

  /** A Docker Provider for the engine the tests use. */
  static void createDockerProvider(KubernetesClient kube) {
    Provider provider = new Provider();
    provider.setMetadata(new ObjectMetaBuilder().withName(PROVIDER).withNamespace(NS).build());
    ProviderSpec spec = new ProviderSpec();
    spec.type = ProviderSpec.Type.Docker;
    spec.timeoutSeconds = 30;
    spec.docker = new ProviderSpec.DockerHost();
    spec.docker.host = DockerTestEngine.engineUrl();
    spec.docker.maxResources = 5;
    provider.setSpec(spec);
    kube.resource(provider).create();
  }

  /** A busybox container running {@code sleep 3600} on network none, from {@link #PROVIDER}. */
  static void createContainerResource(KubernetesClient kube, String name) {
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
    resource.setSpec(spec);
    kube.resource(resource).create();
  }

  /** Waits until the resource is Available; returns it. */
  static ComputeResource awaitAvailable(KubernetesClient kube, String name)
      throws InterruptedException {
    EmbeddedProcesses.await(
        "ComputeResource " + name + " Available",
        () -> {
          ComputeResource now = resource(kube, name);
          return now.getStatus() != null
              && now.getStatus().phase == ComputeResourceStatus.Phase.Available
              && now.getStatus().machineId != null;
        });
    return resource(kube, name);
  }

  static ComputeResource resource(KubernetesClient kube, String name) {
    return kube.resources(ComputeResource.class).inNamespace(NS).withName(name).get();
  }

  /**
   * Runs {@code echo <word>} in the resource as a VeraTask with a {@code resourceRef}; asserts it
   * succeeded at its first attempt and returns its stdout.
   */
  static String runIn(KubernetesClient kube, String resource, String word)
      throws InterruptedException {
    String name = word + "-in-" + resource;
    VeraTask task = new VeraTask();
    task.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.resourceRef = new VeraTaskSpec.ResourceTarget();
    spec.resourceRef.name = resource;
    spec.resourceRef.command = "echo " + word;
    spec.timeoutSeconds = 60;
    spec.retries = new VeraTaskSpec.RetryPolicy();
    spec.retries.limit = 0;
    task.setSpec(spec);
    kube.resource(task).create();
    EmbeddedProcesses.await(
        "task " + name + " finishes",
        () -> {
          VeraTask now = kube.resources(VeraTask.class).inNamespace(NS).withName(name).get();
          return now.getStatus() != null
              && now.getStatus().phase != null
              && now.getStatus().phase.isFinished();
        });
    VeraTask done = kube.resources(VeraTask.class).inNamespace(NS).withName(name).get();
    assertThat(done.getStatus().phase)
        .as(
            "task %s: %s",
            name, done.getStatus().error == null ? "" : done.getStatus().error.message)
        .isEqualTo(TaskPhase.Succeeded);
    assertThat(done.getStatus().attempts).isEqualTo(1);
    return done.getStatus().result.path("stdout").asText();
  }

  /** The installation id on a container: whose it is. */
  static String instanceOf(DockerClient docker, String containerId) {
    return docker
        .inspectContainerCmd(containerId)
        .exec()
        .getConfig()
        .getLabels()
        .get(ComputeLabels.INSTANCE);
  }

  /** Whether the container exists and runs. */
  static boolean running(DockerClient docker, String containerId) {
    try {
      InspectContainerResponse.ContainerState state =
          docker.inspectContainerCmd(containerId).exec().getState();
      return Boolean.TRUE.equals(state.getRunning());
    } catch (NotFoundException e) {
      return false;
    }
  }

  static boolean exists(DockerClient docker, String containerId) {
    try {
      docker.inspectContainerCmd(containerId).exec();
      return true;
    } catch (NotFoundException e) {
      return false;
    }
  }

  /**
   * The installation id kept in a state directory; null when none was made yet or there is no
   * database. Read only, so the log of a killed operator is left for its next start to recover.
   */
  static String storedInstallationId(Path state) throws Exception {
    Path db = state.resolve("store.db");
    if (!db.toFile().isFile()) {
      return null;
    }
    SQLiteConfig readOnly = new SQLiteConfig();
    readOnly.setReadOnly(true);
    try (Connection c = readOnly.createConnection("jdbc:sqlite:" + db.toAbsolutePath());
        PreparedStatement s = c.prepareStatement("SELECT value FROM meta WHERE key = ?")) {
      s.setString(1, "installationId");
      try (ResultSet r = s.executeQuery()) {
        return r.next() ? r.getString(1) : null;
      }
    }
  }
}
