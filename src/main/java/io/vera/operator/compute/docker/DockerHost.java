package io.vera.operator.compute.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.CreateContainerCmd;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.command.InspectImageResponse;
import com.github.dockerjava.api.command.PullImageResultCallback;
import com.github.dockerjava.api.exception.BadRequestException;
import com.github.dockerjava.api.exception.ConflictException;
import com.github.dockerjava.api.exception.DockerException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.exception.NotModifiedException;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.ContainerConfig;
import com.github.dockerjava.api.model.Version;
import com.github.dockerjava.transport.DockerHttpClient;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.compute.Capacity;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.compute.ComputeHost;
import io.vera.operator.compute.ComputeLabels;
import io.vera.operator.compute.ExecRequest;
import io.vera.operator.compute.ExecResult;
import io.vera.operator.compute.HostProbe;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.compute.Machine;
import io.vera.operator.compute.MachineStats;
import io.vera.operator.provider.Credentials;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Docker engine as a {@link ComputeHost}: each ComputeResource of type {@code Docker} is one
 * container, found again by its {@link ComputeLabels} after a restart. Containers labelled with
 * another installation's {@link InstanceId} are invisible to it: an engine may be shared.
 *
 * <p>This class orchestrates the container's life (provision, adoption, find, destroy) and
 * delegates the rest, like the Proxmox driver: {@link DockerConnection} (the engine URL, TLS and
 * its two HTTP clients), {@link ContainerSpec} (a resource as a create-container command), {@link
 * ContainerMachines} (an inspected container as a {@link Machine}), {@link DockerExec} (commands
 * and the exec-kill protocol), {@link DockerStats} (usage samples) and {@link DockerErrors} (the
 * engine's failures as {@link ComputeException}s).
 *
 * <p>Containers run unprivileged with {@code no-new-privileges} unless {@code
 * spec.docker.privileged} is true, on network {@code none} unless the spec names another.
 */
public final class DockerHost implements ComputeHost {
  private static final Logger LOG = LoggerFactory.getLogger(DockerHost.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Where a Docker engine answers when the Provider names none. */
  public static final String DEFAULT_HOST = "unix:///var/run/docker.sock";

  /** Prefix of the legacy API's resource ids. */
  static final String RESOURCE_ID_PREFIX = ContainerMachines.RESOURCE_ID_PREFIX;

  /** How often, and how long apart, a create waits for a name another create holds. */
  private static final int NAME_WAITS = 50;

  private static final long MIB = 1024L * 1024L;

  private static final long NAME_WAIT_MILLIS = 100;

  private final DockerConnection connection;
  private final String host;
  private final DockerClient api;
  private final DockerClient streams;
  private final DockerExec execs;
  private final DockerStats stats;
  private final Duration timeout;
  private final Duration pullTimeout;
  private final Map<String, UidLock> provisionLocks = new ConcurrentHashMap<>();
  private final ProviderSpec.DiskLimit diskLimit;
  private final InstanceId instance;

  /**
   * Set once the engine refused a disk size cap: its storage driver cannot enforce one. Learned
   * from the refusal because {@code /info} cannot tell xfs with project quotas from xfs without.
   */
  private volatile boolean diskLimitRefused;

  private DockerHost(
      DockerConnection connection, ProviderSpec.DiskLimit diskLimit, InstanceId instance) {
    this.connection = connection;
    this.host = connection.host;
    this.api = connection.api;
    this.streams = connection.streams;
    this.timeout = connection.timeout;
    this.pullTimeout = connection.pullTimeout;
    this.diskLimit = diskLimit;
    this.instance = instance;
    this.execs = new DockerExec(host, api, streams);
    this.stats = new DockerStats(host, streams, timeout);
  }

  /**
   * A connection to the Docker engine of a {@code Docker} Provider; nothing is sent yet.
   *
   * <p>The engine is {@code spec.docker.host} (else {@code spec.endpoint}, else {@value
   * #DEFAULT_HOST}): {@code unix:///path} or {@code tcp://host:port}. Over tcp, TLS is used when
   * {@code tls} holds {@code ca.crt} and/or {@code tls.crt} with {@code tls.key}; plain tcp only
   * when it holds none of them. {@code spec.timeoutSeconds} bounds connecting and each API answer;
   * image pulls may take five times as long (at least five minutes).
   *
   * @param tls values of the Secret named by {@code docker.tlsSecretRef}; null or empty for none
   * @param instance the installation whose containers this host makes and sees
   * @throws ComputeException INVALID when the host URL or the TLS material cannot be used
   */
  public static DockerHost connect(ProviderSpec spec, Credentials tls, InstanceId instance)
      throws ComputeException {
    String host =
        spec != null && spec.docker != null && notBlank(spec.docker.host)
            ? spec.docker.host.trim()
            : spec != null && notBlank(spec.endpoint) ? spec.endpoint.trim() : DEFAULT_HOST;
    int seconds = spec == null || spec.timeoutSeconds == null ? 60 : spec.timeoutSeconds;
    ProviderSpec.DiskLimit diskLimit =
        spec == null || spec.docker == null || spec.docker.diskLimit == null
            ? ProviderSpec.DiskLimit.BestEffort
            : spec.docker.diskLimit;
    return connect(host, tls, Duration.ofSeconds(Math.max(1, seconds)), diskLimit, instance);
  }

  /**
   * {@link #connect(ProviderSpec, Credentials, InstanceId)} with the host URL and timeout given
   * directly, and disk sizes capped where the engine can.
   */
  public static DockerHost connect(
      String host, Credentials tls, Duration timeout, InstanceId instance) throws ComputeException {
    return connect(host, tls, timeout, ProviderSpec.DiskLimit.BestEffort, instance);
  }

  /**
   * {@link #connect(String, Credentials, Duration, InstanceId)} with an explicit disk limit policy.
   */
  public static DockerHost connect(
      String host,
      Credentials tls,
      Duration timeout,
      ProviderSpec.DiskLimit diskLimit,
      InstanceId instance)
      throws ComputeException {
    return new DockerHost(DockerConnection.open(host, tls, timeout), diskLimit, instance);
  }

  /** The engine URL this host talks to. */
  public String host() {
    return host;
  }

  /** The docker-java client with the response timeout, for callers that need a raw call. */
  public DockerClient client() {
    return api;
  }

  /**
   * Fills a create-container command with everything {@link #provision} gives the container of
   * {@code resource} (name, labels, limits, isolation), without sending it.
   */
  void configure(CreateContainerCmd cmd, ComputeResource resource) throws ComputeException {
    ContainerSpec target = ContainerSpec.of(resource, instance);
    cmd.withName(target.containerName);
    target.configure(cmd, true);
  }

  // ---------------------------------------------------------------------------------- probe

  @Override
  public HostProbe probe() throws ComputeException {
    try {
      Version version = api.versionCmd().exec();
      JsonNode info = getJson("/info");
      double cpus = info.path("NCPU").asDouble(0);
      long memoryMb = info.path("MemTotal").asLong(0) / MIB;
      return new HostProbe(
          version.getVersion(), new Capacity(cpus, memoryMb, 0, gpuCount(info)), List.of());
    } catch (RuntimeException e) {
      throw DockerErrors.unavailableOr(host, "probe the Docker engine at " + host, e);
    }
  }

  /**
   * GPUs the engine advertises: NVIDIA GPUs listed as generic resources (what {@code dockerd
   * --node-generic-resource} and the NVIDIA setup publish) or, failing that, the number of NVIDIA
   * runtimes registered ({@code nvidia}, {@code nvidia-container-runtime}). The engine API has no
   * device list, so a host with the runtime but no advertised resources counts one per runtime; a
   * host with neither counts zero.
   */
  static int gpuCount(JsonNode info) {
    int fromResources = 0;
    for (JsonNode resource : info.path("GenericResources")) {
      JsonNode discrete = resource.path("DiscreteResourceSpec");
      JsonNode named = resource.path("NamedResourceSpec");
      if (isGpuKind(discrete.path("Kind").asText())) {
        fromResources += discrete.path("Value").asInt(0);
      } else if (isGpuKind(named.path("Kind").asText())) {
        fromResources++;
      }
    }
    if (fromResources > 0) {
      return fromResources;
    }
    int runtimes = 0;
    var names = info.path("Runtimes").fieldNames();
    while (names.hasNext()) {
      if (names.next().toLowerCase(Locale.ROOT).contains("nvidia")) {
        runtimes++;
      }
    }
    return runtimes;
  }

  private static boolean isGpuKind(String kind) {
    String lower = kind.toLowerCase(Locale.ROOT);
    return lower.contains("gpu") || lower.contains("nvidia");
  }

  private JsonNode getJson(String path) {
    DockerHttpClient.Request request =
        DockerHttpClient.Request.builder()
            .method(DockerHttpClient.Request.Method.GET)
            .path(path)
            .build();
    try (DockerHttpClient.Response response = connection.apiHttp.execute(request);
        InputStream body = response.getBody()) {
      if (response.getStatusCode() != 200) {
        throw new DockerException("GET " + path + " answered", response.getStatusCode());
      }
      return JSON.readTree(body);
    } catch (IOException e) {
      throw new IllegalStateException("GET " + path + " failed: " + e.getMessage(), e);
    }
  }

  // ------------------------------------------------------------------------------ provision

  /**
   * Creates and starts the container of {@code resource}, or brings back the one that carries its
   * uid: a running one is returned as it is, a created, exited or paused one is started, a dead one
   * is removed and created again. Calls for the same uid are serialised in this process, and the
   * container name is derived from the resource so a second operator process racing for the same
   * resource gets a name conflict and reuses the winner's container.
   */
  @Override
  public Machine provision(ComputeResource resource) throws ComputeException {
    ContainerSpec target = ContainerSpec.of(resource, instance);
    UidLock lock = lockFor(target.uid);
    try {
      return provisionLocked(target);
    } finally {
      unlock(target.uid, lock);
    }
  }

  private Machine provisionLocked(ContainerSpec target) throws ComputeException {
    Optional<String> existing = survivingContainer(target.uid);
    if (existing.isPresent()) {
      Optional<Machine> reused = bringUp(existing.get(), target);
      if (reused.isPresent()) {
        return reused.get();
      }
    }
    // No image check first: create answers 404 for a missing image, and only then is a pull
    // worth its time. That keeps provision at the CLI's create + start plus one list and one
    // inspect.
    boolean pulled = false;
    boolean replacedDead = false;
    int nameWaits = 0;
    while (true) {
      String id;
      try {
        CreateContainerCmd create =
            api.createContainerCmd(target.image).withName(target.containerName);
        if (diskLimitRefused
            && target.asksForDisk()
            && diskLimit == ProviderSpec.DiskLimit.Required) {
          throw diskLimitUnsupported(null);
        }
        target.configure(create, !diskLimitRefused);
        keepRunning(create, target);
        id = create.exec().getId();
      } catch (NotFoundException e) {
        if (!DockerErrors.dockerMessage(e).toLowerCase(Locale.ROOT).contains("no such image")) {
          // e.g. a user-defined network that does not exist
          throw new ComputeException(
              Reason.INVALID,
              "the Docker engine refused the container: " + DockerErrors.dockerMessage(e),
              e);
        }
        if (pulled) {
          throw new ComputeException(
              Reason.INVALID, "image '" + target.image + "' is not present on " + host, e);
        }
        pullImage(target.image);
        pulled = true;
        continue;
      } catch (ConflictException e) {
        // Another operator process created it first (or a dead one holds the name): reuse it if
        // it is this resource's.
        InspectContainerResponse other = inspectOrNull(target.containerName);
        if (other == null) {
          // The engine reserves a name as a create begins, before the container can be
          // inspected: another process's create is still under way. Give it a moment.
          if (++nameWaits > NAME_WAITS) {
            throw new ComputeException(
                Reason.FAILED, "container name " + target.containerName + " stays taken", e);
          }
          DockerErrors.sleep(NAME_WAIT_MILLIS);
          continue;
        }
        if (!target.uid.equals(ContainerMachines.label(other, ComputeLabels.RESOURCE_UID))
            || !instance.mayAdopt(ContainerMachines.label(other, ComputeLabels.INSTANCE))) {
          throw new ComputeException(
              Reason.INVALID,
              "a container named '"
                  + target.containerName
                  + "' exists and does not belong to this resource",
              e);
        }
        Optional<Machine> reused = bringUp(other.getId(), target);
        if (reused.isPresent()) {
          return reused.get();
        }
        if (replacedDead) {
          throw new ComputeException(
              Reason.FAILED, "container " + target.containerName + " could not be replaced", e);
        }
        replacedDead = true;
        continue;
      } catch (BadRequestException e) {
        throw new ComputeException(
            Reason.INVALID,
            "the Docker engine refused the container: " + DockerErrors.dockerMessage(e),
            e);
      } catch (DockerException e) {
        if (diskLimitRefused || !target.asksForDisk() || !isDiskLimitRefusal(e)) {
          throw DockerErrors.unavailableOr(host, "create container " + target.containerName, e);
        }
        diskLimitRefused = true;
        if (diskLimit == ProviderSpec.DiskLimit.Required) {
          throw diskLimitUnsupported(e);
        }
        LOG.info(
            "The Docker engine at {} cannot cap container disk size ({}); creating containers"
                + " without the cap",
            host,
            DockerErrors.dockerMessage(e));
        continue;
      } catch (RuntimeException e) {
        throw DockerErrors.unavailableOr(host, "create container " + target.containerName, e);
      }
      return start(id, target, true);
    }
  }

  /** The engine's answer to {@code StorageOpt.size} when its storage driver has no quotas. */
  private static boolean isDiskLimitRefusal(DockerException e) {
    return DockerErrors.dockerMessage(e).toLowerCase(Locale.ROOT).contains("storage-opt");
  }

  private ComputeException diskLimitUnsupported(DockerException cause) {
    return new ComputeException(
        Reason.INVALID,
        "the Docker engine at "
            + host
            + " cannot cap container disk size (its storage driver has no quotas) and the"
            + " Provider's docker.diskLimit is Required",
        cause);
  }

  /**
   * The one container carrying this uid that is worth keeping (running first, then the newest); any
   * others are removed so a resource never has two.
   */
  private Optional<String> survivingContainer(String uid) throws ComputeException {
    List<Container> found = adoptable(listByLabel(Map.of(ComputeLabels.RESOURCE_UID, uid)));
    if (found.isEmpty()) {
      return Optional.empty();
    }
    List<Container> ordered = new ArrayList<>(found);
    ordered.sort(
        Comparator.comparing((Container c) -> !"running".equals(c.getState()))
            .thenComparing(
                Comparator.comparing((Container c) -> c.getCreated() == null ? 0 : c.getCreated())
                    .reversed()));
    for (Container extra : ordered.subList(1, ordered.size())) {
      LOG.warn("Removing duplicate container {} of resource uid {}", extra.getId(), uid);
      removeQuietly(extra.getId());
    }
    return Optional.of(ordered.get(0).getId());
  }

  /** Brings an existing container up; empty when it was dead or vanished and must be recreated. */
  private Optional<Machine> bringUp(String id, ContainerSpec target) throws ComputeException {
    InspectContainerResponse inspect = inspectOrNull(id);
    if (inspect == null) {
      return Optional.empty();
    }
    String status = ContainerMachines.status(inspect);
    switch (status) {
      case "running":
        return Optional.of(ContainerMachines.toMachine(inspect));
      case "dead", "removing":
        LOG.info("Container {} of {} is {}; recreating it", id, target, status);
        removeQuietly(id);
        return Optional.empty();
      case "paused":
        try {
          api.unpauseContainerCmd(id).exec();
        } catch (NotFoundException e) {
          return Optional.empty();
        } catch (RuntimeException e) {
          throw DockerErrors.unavailableOr(host, "unpause container " + id, e);
        }
        return Optional.of(awaitRunning(id, target));
      default:
        // created, exited, restarting
        return Optional.of(start(id, target, false));
    }
  }

  private Machine start(String id, ContainerSpec target, boolean created) throws ComputeException {
    try {
      api.startContainerCmd(id).exec();
    } catch (NotModifiedException e) {
      // already running
    } catch (NotFoundException e) {
      throw new ComputeException(
          Reason.FAILED, "container " + target.containerName + " vanished while starting", e);
    } catch (DockerException e) {
      if (created) {
        removeQuietly(id);
      }
      Reason reason = e.getHttpStatus() == 400 ? Reason.INVALID : Reason.FAILED;
      throw new ComputeException(
          reason,
          "container " + target.containerName + " did not start: " + DockerErrors.dockerMessage(e),
          e);
    } catch (RuntimeException e) {
      throw DockerErrors.unavailableOr(host, "start container " + target.containerName, e);
    }
    return awaitRunning(id, target);
  }

  /** Start returns once the process runs; a restarting container gets a short bounded wait. */
  private Machine awaitRunning(String id, ContainerSpec target) throws ComputeException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      InspectContainerResponse inspect = inspectOrNull(id);
      if (inspect == null) {
        throw new ComputeException(
            Reason.FAILED, "container " + target.containerName + " vanished while starting");
      }
      String status = ContainerMachines.status(inspect);
      if ("running".equals(status)) {
        return ContainerMachines.toMachine(inspect);
      }
      if (!"restarting".equals(status) && !"created".equals(status)
          || System.nanoTime() > deadline) {
        InspectContainerResponse.ContainerState state = inspect.getState();
        String error = state == null || blank(state.getError()) ? "" : ": " + state.getError();
        Integer code = state == null ? null : state.getExitCode();
        throw new ComputeException(
            Reason.FAILED,
            "container "
                + target.containerName
                + " is "
                + status
                + " right after start"
                + (code == null ? "" : " (exit code " + code + ")")
                + error);
      }
      DockerErrors.sleep(50);
    }
  }

  /**
   * A ComputeResource is a machine to run commands in, so its container must stay up. With no
   * command in the spec, the image's own command runs with a TTY and open stdin, as {@code docker
   * run -it} would (shells and REPLs such as {@code python} then wait instead of exiting); an image
   * with no command at all gets a shell loop that sleeps until the container is stopped.
   */
  private void keepRunning(CreateContainerCmd create, ContainerSpec target)
      throws ComputeException {
    if (create.getCmd() != null && create.getCmd().length > 0) {
      return;
    }
    InspectImageResponse image;
    try {
      image = api.inspectImageCmd(target.image).exec();
    } catch (NotFoundException e) {
      throw e; // "No such image": provision pulls it and tries again
    } catch (RuntimeException e) {
      throw DockerErrors.unavailableOr(host, "inspect image " + target.image, e);
    }
    ContainerConfig config = image.getConfig();
    boolean hasCommand =
        config != null
            && (config.getCmd() != null && config.getCmd().length > 0
                || config.getEntrypoint() != null && config.getEntrypoint().length > 0);
    if (hasCommand) {
      create.withTty(true).withStdinOpen(true);
    } else {
      create.withCmd(ContainerSpec.KEEP_ALIVE);
    }
  }

  /** Pulls a missing image within the pull timeout; INVALID when that does not work. */
  private void pullImage(String image) throws ComputeException {
    LOG.info(
        "Image {} is not on {}; pulling it (at most {} s)", image, host, pullTimeout.toSeconds());
    PullImageResultCallback callback = new PullImageResultCallback();
    try {
      streams.pullImageCmd(image).exec(callback);
      if (!callback.awaitCompletion(pullTimeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new ComputeException(
            Reason.INVALID,
            "image '"
                + image
                + "' is not present on "
                + host
                + " and pulling it did not finish within "
                + pullTimeout.toSeconds()
                + " s");
      }
      callback.awaitCompletion(); // rethrows the pull's own error, if any
    } catch (ComputeException e) {
      throw e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ComputeException(Reason.UNAVAILABLE, "interrupted while pulling " + image, e);
    } catch (RuntimeException e) {
      if (DockerErrors.isConnectionFailure(e)) {
        throw DockerErrors.unavailableOr(host, "pull image " + image, e);
      }
      throw new ComputeException(
          Reason.INVALID,
          "image '"
              + image
              + "' is not present on "
              + host
              + " and cannot be pulled: "
              + DockerErrors.dockerMessage(e),
          e);
    } finally {
      DockerErrors.closeQuietly(callback);
    }
  }

  // --------------------------------------------------------------------- find, list, destroy

  @Override
  public Optional<Machine> find(String resourceUid) throws ComputeException {
    if (blank(resourceUid)) {
      return Optional.empty();
    }
    List<Container> found = adoptable(listByLabel(Map.of(ComputeLabels.RESOURCE_UID, resourceUid)));
    Optional<Container> best =
        found.stream().min(Comparator.comparing((Container c) -> !"running".equals(c.getState())));
    if (best.isEmpty()) {
      return Optional.empty();
    }
    return Optional.ofNullable(inspectOrNull(best.get().getId())).map(ContainerMachines::toMachine);
  }

  @Override
  public List<Machine> listOwned() throws ComputeException {
    List<Machine> machines = new ArrayList<>();
    for (Container container :
        adoptable(listByLabel(Map.of(ComputeLabels.MANAGED_BY, ComputeLabels.MANAGED_BY_VALUE)))) {
      InspectContainerResponse inspect = inspectOrNull(container.getId());
      if (inspect != null) {
        machines.add(ContainerMachines.toMachine(inspect));
      }
    }
    return machines;
  }

  /**
   * The containers this installation may take as its own; the engine's label filter cannot ask for
   * "this id or no id", so the list is filtered here.
   */
  private List<Container> adoptable(List<Container> containers) {
    return containers.stream()
        .filter(
            c ->
                instance.mayAdopt(
                    c.getLabels() == null ? null : c.getLabels().get(ComputeLabels.INSTANCE)))
        .toList();
  }

  private List<Container> listByLabel(Map<String, String> labels) throws ComputeException {
    try {
      return api.listContainersCmd().withShowAll(true).withLabelFilter(labels).exec();
    } catch (RuntimeException e) {
      throw DockerErrors.unavailableOr(host, "list containers", e);
    }
  }

  /** Force-removes the container and its anonymous volumes; one already gone is success. */
  @Override
  public void destroy(Machine machine) throws ComputeException {
    String id = ContainerMachines.containerId(machine);
    try {
      api.removeContainerCmd(id).withForce(true).withRemoveVolumes(true).exec();
    } catch (NotFoundException e) {
      return;
    } catch (ConflictException e) {
      // "removal already in progress": wait until the engine has finished it.
      long deadline = System.nanoTime() + timeout.toNanos();
      while (inspectOrNull(id) != null) {
        if (System.nanoTime() > deadline) {
          throw new ComputeException(
              Reason.FAILED,
              "container " + id + " is still being removed: " + DockerErrors.dockerMessage(e),
              e);
        }
        DockerErrors.sleep(100);
      }
    } catch (RuntimeException e) {
      throw DockerErrors.unavailableOr(host, "remove container " + id, e);
    }
  }

  // ------------------------------------------------------------------------- exec, stats

  /** See {@link DockerExec}: capped output, and the exec-kill protocol at the timeout. */
  @Override
  public ExecResult exec(Machine machine, ExecRequest request) throws ComputeException {
    return execs.exec(machine, request);
  }

  /** See {@link DockerStats}: one sample of {@code docker stats --no-stream}. */
  @Override
  public MachineStats stats(Machine machine) throws ComputeException {
    return stats.stats(machine);
  }

  @Override
  public void close() {
    connection.close();
  }

  // -------------------------------------------------------------------------------- helpers

  private InspectContainerResponse inspectOrNull(String id) throws ComputeException {
    try {
      return api.inspectContainerCmd(id).exec();
    } catch (NotFoundException e) {
      return null;
    } catch (RuntimeException e) {
      throw DockerErrors.unavailableOr(host, "inspect container " + id, e);
    }
  }

  private void removeQuietly(String id) {
    try {
      api.removeContainerCmd(id).withForce(true).withRemoveVolumes(true).exec();
    } catch (NotFoundException e) {
      // gone already
    } catch (RuntimeException e) {
      LOG.warn("Could not remove container {}: {}", id, DockerErrors.dockerMessage(e));
    }
  }

  private static boolean blank(String value) {
    return value == null || value.isBlank();
  }

  private static boolean notBlank(String value) {
    return !blank(value);
  }

  private UidLock lockFor(String uid) {
    UidLock lock = provisionLocks.compute(uid, (k, v) -> v == null ? new UidLock() : v.retain());
    lock.lock.lock();
    return lock;
  }

  private void unlock(String uid, UidLock lock) {
    lock.lock.unlock();
    provisionLocks.computeIfPresent(uid, (k, v) -> v.release() ? null : v);
  }

  /** A lock per uid, dropped from the map when nobody holds or waits for it. */
  private static final class UidLock {
    final ReentrantLock lock = new ReentrantLock();
    int users = 1;

    UidLock retain() {
      users++;
      return this;
    }

    boolean release() {
      return --users == 0;
    }
  }

  /** What provision needs of a resource, validated. */
}
