package io.vera.operator.compute.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.HostConfig;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeLabels;
import io.vera.operator.compute.InstanceId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A JUnit 5 extension giving tests the local Docker engine, a busybox image and clean-up.
 *
 * <pre>{@code
 * @RegisterExtension static final DockerTestEngine docker = new DockerTestEngine();
 *
 * @Test void runs() throws Exception {
 *   Machine machine = docker.host().provision(docker.resource("web"));
 *   ...
 * }
 * }</pre>
 *
 * <p>Before the first test of the class it connects to the engine at {@code DOCKER_HOST} (default
 * {@code unix:///var/run/docker.sock}). When no engine answers the tests are <em>skipped</em> with
 * a message, except when the environment variable {@code CI} is {@code true}, where they
 * <em>fail</em>: CI must never pass by skipping them ({@link #optional()} instead runs a test that
 * needs the engine for only part of its checks without those parts). It then imports {@link #IMAGE}
 * from {@code /bin/busybox} (Debian's {@code busybox-static}) if the engine does not have it; see
 * {@link BusyboxImage} for what the image holds.
 *
 * <p>Every resource made with {@link #resource} lives in a namespace unique to this extension
 * instance ({@link #namespace()}), so after each test every container carrying that namespace label
 * is force-removed, whatever the test did or however it failed; containers created by other means
 * can be handed to {@link #track(String)} for the same treatment.
 */
public final class DockerTestEngine
    implements BeforeAllCallback, AfterEachCallback, AfterAllCallback {
  /** The image tests run: busybox applets only, no default command. */
  public static final String IMAGE = BusyboxImage.TAG;

  /** Where busybox-static puts its binary. */
  public static final Path BUSYBOX = Path.of("/bin/busybox");

  private final String namespace = "vt-" + UUID.randomUUID().toString().substring(0, 8);

  /** The installation id of {@link #host()}: this extension's own, like the namespace. */
  private final InstanceId instance = new InstanceId(namespace);

  private final Set<String> tracked = ConcurrentHashMap.newKeySet();
  private final Set<String> trackedInstances = ConcurrentHashMap.newKeySet();
  private final boolean optional;
  private DockerHost host;

  /** The engine URL tests use: {@code DOCKER_HOST} or the default unix socket. */
  public static String engineUrl() {
    String env = System.getenv("DOCKER_HOST");
    return env == null || env.isBlank() ? DockerHost.DEFAULT_HOST : env;
  }

  /** The extension for tests that need the engine; they skip (or fail under CI) without one. */
  public DockerTestEngine() {
    this(false);
  }

  private DockerTestEngine(boolean optional) {
    this.optional = optional;
  }

  /**
   * The extension for a test that needs the engine for only part of what it checks: with no engine
   * the test runs, {@link #available()} is false and the reason is printed; with {@code CI=true}
   * the test fails instead, as with the other extension.
   */
  public static DockerTestEngine optional() {
    return new DockerTestEngine(true);
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    String missing = connect();
    if (missing == null) {
      return;
    }
    failUnderCi(missing);
    if (!optional) {
      Assumptions.abort(missing + "; skipping the Docker tests");
    }
    System.out.println(missing + "; skipping the parts that need Docker");
  }

  /** Whether an engine answered; always true in a test of the non-optional extension. */
  public boolean available() {
    return host != null;
  }

  /** Connects and makes sure of the image; returns why it could not, or null. */
  private String connect() throws Exception {
    if (host != null) {
      return null;
    }
    DockerHost connected;
    try {
      connected = DockerHost.connect(engineUrl(), null, Duration.ofSeconds(30), instance);
      connected.client().pingCmd().exec();
    } catch (ComputeException | RuntimeException e) {
      return "no Docker engine answers at " + engineUrl() + " (" + e.getMessage() + ")";
    }
    if (!Files.isExecutable(BUSYBOX)) {
      connected.close();
      return BUSYBOX + " is missing; install Debian's busybox-static";
    }
    synchronized (DockerTestEngine.class) {
      BusyboxImage.ensure(connected.client(), IMAGE, BUSYBOX);
    }
    host = connected;
    return null;
  }

  private static void failUnderCi(String why) {
    if ("true".equals(System.getenv("CI"))) {
      Assertions.fail(why + "; CI=true requires a Docker engine for these tests");
    }
  }

  @Override
  public void afterEach(ExtensionContext context) {
    removeAll();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    removeAll();
    if (host != null) {
      host.close();
      host = null;
    }
  }

  /** A DockerHost on the local engine, shared by the tests of the class; do not close it. */
  public DockerHost host() {
    return host;
  }

  /** The raw docker-java client, for acting behind the host's back and for reading inspect. */
  public DockerClient client() {
    return host.client();
  }

  /** The installation id {@link #host()} marks its containers with. */
  public InstanceId instance() {
    return instance;
  }

  /** The Kubernetes namespace of every resource this extension makes. */
  public String namespace() {
    return namespace;
  }

  /**
   * A Docker ComputeResource with a fresh uid in {@link #namespace()}, running {@code sleep 3600}
   * in {@link #IMAGE} on network none with 0.5 CPU and 128 MB.
   */
  public ComputeResource resource(String name) {
    return resource(name, spec -> {});
  }

  /** {@link #resource(String)}, then {@code customise} applied to its spec. */
  public ComputeResource resource(String name, Consumer<ComputeResourceSpec> customise) {
    ComputeResource resource = new ComputeResource();
    resource.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace(namespace)
            .withUid(UUID.randomUUID().toString())
            .build());
    ComputeResourceSpec spec = new ComputeResourceSpec();
    spec.type = ComputeResourceSpec.Type.Docker;
    spec.resources = new ComputeResourceSpec.ResourceSpec();
    spec.resources.cpuCores = 0.5;
    spec.resources.memoryMb = 128;
    spec.docker = new ComputeResourceSpec.DockerSpec();
    spec.docker.image = IMAGE;
    spec.docker.command = List.of("sleep", "3600");
    customise.accept(spec);
    resource.setSpec(spec);
    return resource;
  }

  /**
   * Creates (does not start) a {@code sleep 3600} container labelled as versions before the
   * installation id labelled their machines: Vera's, for resource {@code uid} named {@code name} in
   * {@code namespace}, with no {@link ComputeLabels#INSTANCE}. The caller removes it.
   */
  public String createUnmarkedContainer(String namespace, String name, String uid) {
    return createSleeping(
        Map.of(
            ComputeLabels.MANAGED_BY,
            ComputeLabels.MANAGED_BY_VALUE,
            ComputeLabels.RESOURCE_UID,
            uid,
            ComputeLabels.RESOURCE_NAMESPACE,
            namespace,
            ComputeLabels.RESOURCE_NAME,
            name));
  }

  /**
   * Creates and starts a {@code sleep 3600} container labelled as installation {@code instance}
   * labels its machines, for a ComputeResource {@code namespace/name} that does not exist (a fresh
   * uid): an orphan that installation's sweep removes. It is removed after the test.
   */
  public String startOrphan(String instance, String namespace, String name) {
    String id =
        createSleeping(
            Map.of(
                ComputeLabels.MANAGED_BY,
                ComputeLabels.MANAGED_BY_VALUE,
                ComputeLabels.RESOURCE_UID,
                UUID.randomUUID().toString(),
                ComputeLabels.RESOURCE_NAMESPACE,
                namespace,
                ComputeLabels.RESOURCE_NAME,
                name,
                ComputeLabels.INSTANCE,
                instance));
    track(id);
    client().startContainerCmd(id).exec();
    return id;
  }

  private String createSleeping(Map<String, String> labels) {
    return client()
        .createContainerCmd(IMAGE)
        .withCmd("sleep", "3600")
        .withLabels(labels)
        .withHostConfig(HostConfig.newHostConfig().withNetworkMode("none"))
        .exec()
        .getId();
  }

  /**
   * Removes every container of installation {@code instance} after the current test too: for those
   * an operator process makes, whose namespace is not {@link #namespace()}.
   */
  public void trackInstance(String instance) {
    trackedInstances.add(instance);
  }

  /** Removes this container after the current test too. */
  public void track(String containerId) {
    tracked.add(containerId);
  }

  /**
   * Force-removes every container of {@link #namespace()}, of every tracked installation and every
   * tracked one.
   */
  public void removeAll() {
    if (host == null) {
      return;
    }
    List<String> ids = new ArrayList<>(tracked);
    tracked.clear();
    List<Map<String, String>> filters = new ArrayList<>();
    filters.add(Map.of(ComputeLabels.RESOURCE_NAMESPACE, namespace));
    trackedInstances.forEach(i -> filters.add(Map.of(ComputeLabels.INSTANCE, i)));
    trackedInstances.clear();
    try {
      for (Map<String, String> filter : filters) {
        for (Container container :
            client().listContainersCmd().withShowAll(true).withLabelFilter(filter).exec()) {
          ids.add(container.getId());
        }
      }
    } catch (RuntimeException e) {
      // the engine went away: nothing more to clean
    }
    for (String id : ids) {
      try {
        client().removeContainerCmd(id).withForce(true).withRemoveVolumes(true).exec();
      } catch (NotFoundException e) {
        // gone already
      } catch (RuntimeException e) {
        System.err.println("DockerTestEngine: could not remove " + id + ": " + e.getMessage());
      }
    }
  }
}
