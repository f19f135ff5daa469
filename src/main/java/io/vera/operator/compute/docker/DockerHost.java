package io.vera.operator.compute.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.CreateContainerCmd;
import com.github.dockerjava.api.command.ExecCreateCmdResponse;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.command.InspectExecResponse;
import com.github.dockerjava.api.command.InspectImageResponse;
import com.github.dockerjava.api.command.PullImageResultCallback;
import com.github.dockerjava.api.exception.BadRequestException;
import com.github.dockerjava.api.exception.ConflictException;
import com.github.dockerjava.api.exception.DockerException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.exception.NotModifiedException;
import com.github.dockerjava.api.model.AccessMode;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.ContainerConfig;
import com.github.dockerjava.api.model.ContainerNetwork;
import com.github.dockerjava.api.model.CpuStatsConfig;
import com.github.dockerjava.api.model.DeviceRequest;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.HostConfig;
import com.github.dockerjava.api.model.MemoryStatsConfig;
import com.github.dockerjava.api.model.RestartPolicy;
import com.github.dockerjava.api.model.StatisticNetworksConfig;
import com.github.dockerjava.api.model.Statistics;
import com.github.dockerjava.api.model.StreamType;
import com.github.dockerjava.api.model.Version;
import com.github.dockerjava.api.model.Volume;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.core.SSLConfig;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import com.github.dockerjava.transport.DockerHttpClient;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.compute.Capacity;
import io.vera.operator.compute.CappedOutput;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.compute.ComputeHost;
import io.vera.operator.compute.ComputeLabels;
import io.vera.operator.compute.ExecMarker;
import io.vera.operator.compute.ExecRequest;
import io.vera.operator.compute.ExecResult;
import io.vera.operator.compute.HostProbe;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.compute.Machine;
import io.vera.operator.compute.MachineStats;
import io.vera.operator.provider.Credentials;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Docker engine as a {@link ComputeHost}: each ComputeResource of type {@code Docker} is one
 * container, found again by its {@link ComputeLabels} after a restart. Containers labelled with
 * another installation's {@link InstanceId} are invisible to it: an engine may be shared.
 *
 * <p>Two HTTP clients share the engine: one with the Provider's response timeout for every plain
 * API call, and one without a read timeout for the streams that may stay silent for long (exec
 * output, image pulls), which are bounded by their own deadlines instead.
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
  public static final String RESOURCE_ID_PREFIX = "docker-";

  /** How often, and how long apart, a create waits for a name another create holds. */
  private static final int NAME_WAITS = 50;

  private static final long NAME_WAIT_MILLIS = 100;

  /** What a container runs when neither the spec nor the image names a command. */
  static final List<String> KEEP_ALIVE =
      List.of("/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done");

  /**
   * Name of the environment variable that marks every process of one exec, so a timed-out command
   * and the children it started can be found and killed (see {@link #exec}).
   */
  private static final long MIB = 1024L * 1024L;

  private static final Pattern CONTAINER_PATH = Pattern.compile("/[^:\\x00]*");
  private static final Pattern NETWORK_MODE =
      Pattern.compile("none|host|bridge|container:[a-zA-Z0-9][a-zA-Z0-9_.-]*|[a-zA-Z0-9][\\w.-]*");
  private static final Pattern ENV_NAME = Pattern.compile("[^=\\x00]+");

  /** A {@code StorageOpt.size} as Docker writes it: a whole number with a binary unit. */
  private static final Pattern STORAGE_SIZE =
      Pattern.compile("(?i)\\s*(\\d+)\\s*([kmgt]?)i?b?\\s*");

  private static final Duration KILL_GRACE = Duration.ofSeconds(10);

  private final String host;
  private final DockerHttpClient apiHttp;
  private final DockerHttpClient streamHttp;
  private final DockerClient api;
  private final DockerClient streams;
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
      String host,
      SSLConfig ssl,
      Duration timeout,
      Duration pullTimeout,
      ProviderSpec.DiskLimit diskLimit,
      InstanceId instance) {
    this.host = host;
    this.instance = instance;
    this.timeout = timeout;
    this.pullTimeout = pullTimeout;
    this.diskLimit = diskLimit;
    URI uri = URI.create(host);
    DefaultDockerClientConfig config =
        DefaultDockerClientConfig.createDefaultConfigBuilder()
            .withDockerHost(host)
            .withDockerTlsVerify(ssl != null)
            .withCustomSslConfig(ssl)
            .build();
    this.apiHttp =
        new ApacheDockerHttpClient.Builder()
            .dockerHost(uri)
            .sslConfig(ssl)
            .maxConnections(64)
            .connectionTimeout(timeout)
            .responseTimeout(timeout)
            .build();
    this.streamHttp =
        new ApacheDockerHttpClient.Builder()
            .dockerHost(uri)
            .sslConfig(ssl)
            .maxConnections(64)
            .connectionTimeout(timeout)
            .build();
    this.api = DockerClientImpl.getInstance(config, apiHttp);
    this.streams = DockerClientImpl.getInstance(config, streamHttp);
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
    URI uri;
    try {
      uri = URI.create(host);
    } catch (IllegalArgumentException e) {
      throw new ComputeException(Reason.INVALID, "the Docker host '" + host + "' is not a URL");
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    boolean withTls = DockerTls.present(tls);
    switch (scheme) {
      case "unix" -> {
        if (uri.getPath() == null || uri.getPath().isBlank()) {
          throw new ComputeException(
              Reason.INVALID, "the Docker host '" + host + "' names no socket path");
        }
        if (withTls) {
          throw new ComputeException(
              Reason.INVALID,
              "the Docker host '" + host + "' is a unix socket; a TLS Secret applies to tcp only");
        }
      }
      case "tcp" -> {
        if (uri.getHost() == null || uri.getPort() < 0) {
          throw new ComputeException(
              Reason.INVALID, "the Docker host '" + host + "' must be tcp://host:port");
        }
      }
      default ->
          throw new ComputeException(
              Reason.INVALID,
              "the Docker host '" + host + "' must be unix:///path or tcp://host:port");
    }
    SSLConfig ssl = withTls ? DockerTls.sslConfig(tls) : null;
    Duration pull = timeout.multipliedBy(5);
    if (pull.compareTo(Duration.ofMinutes(5)) < 0) {
      pull = Duration.ofMinutes(5);
    }
    return new DockerHost(host, ssl, timeout, pull, diskLimit, instance);
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
    Target target = Target.of(resource, instance);
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
      throw unavailableOr("probe the Docker engine at " + host, e);
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
    try (DockerHttpClient.Response response = apiHttp.execute(request);
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
    Target target = Target.of(resource, instance);
    UidLock lock = lockFor(target.uid);
    try {
      return provisionLocked(target);
    } finally {
      unlock(target.uid, lock);
    }
  }

  private Machine provisionLocked(Target target) throws ComputeException {
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
        if (!dockerMessage(e).toLowerCase(Locale.ROOT).contains("no such image")) {
          // e.g. a user-defined network that does not exist
          throw new ComputeException(
              Reason.INVALID, "the Docker engine refused the container: " + dockerMessage(e), e);
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
          sleep(NAME_WAIT_MILLIS);
          continue;
        }
        if (!target.uid.equals(label(other, ComputeLabels.RESOURCE_UID))
            || !instance.mayAdopt(label(other, ComputeLabels.INSTANCE))) {
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
            Reason.INVALID, "the Docker engine refused the container: " + dockerMessage(e), e);
      } catch (DockerException e) {
        if (diskLimitRefused || !target.asksForDisk() || !isDiskLimitRefusal(e)) {
          throw unavailableOr("create container " + target.containerName, e);
        }
        diskLimitRefused = true;
        if (diskLimit == ProviderSpec.DiskLimit.Required) {
          throw diskLimitUnsupported(e);
        }
        LOG.info(
            "The Docker engine at {} cannot cap container disk size ({}); creating containers"
                + " without the cap",
            host,
            dockerMessage(e));
        continue;
      } catch (RuntimeException e) {
        throw unavailableOr("create container " + target.containerName, e);
      }
      return start(id, target, true);
    }
  }

  /** The engine's answer to {@code StorageOpt.size} when its storage driver has no quotas. */
  private static boolean isDiskLimitRefusal(DockerException e) {
    return dockerMessage(e).toLowerCase(Locale.ROOT).contains("storage-opt");
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
  private Optional<Machine> bringUp(String id, Target target) throws ComputeException {
    InspectContainerResponse inspect = inspectOrNull(id);
    if (inspect == null) {
      return Optional.empty();
    }
    String status = status(inspect);
    switch (status) {
      case "running":
        return Optional.of(toMachine(inspect));
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
          throw unavailableOr("unpause container " + id, e);
        }
        return Optional.of(awaitRunning(id, target));
      default:
        // created, exited, restarting
        return Optional.of(start(id, target, false));
    }
  }

  private Machine start(String id, Target target, boolean created) throws ComputeException {
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
          reason, "container " + target.containerName + " did not start: " + dockerMessage(e), e);
    } catch (RuntimeException e) {
      throw unavailableOr("start container " + target.containerName, e);
    }
    return awaitRunning(id, target);
  }

  /** Start returns once the process runs; a restarting container gets a short bounded wait. */
  private Machine awaitRunning(String id, Target target) throws ComputeException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      InspectContainerResponse inspect = inspectOrNull(id);
      if (inspect == null) {
        throw new ComputeException(
            Reason.FAILED, "container " + target.containerName + " vanished while starting");
      }
      String status = status(inspect);
      if ("running".equals(status)) {
        return toMachine(inspect);
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
      sleep(50);
    }
  }

  /**
   * A ComputeResource is a machine to run commands in, so its container must stay up. With no
   * command in the spec, the image's own command runs with a TTY and open stdin, as {@code docker
   * run -it} would (shells and REPLs such as {@code python} then wait instead of exiting); an image
   * with no command at all gets a shell loop that sleeps until the container is stopped.
   */
  private void keepRunning(CreateContainerCmd create, Target target) throws ComputeException {
    if (create.getCmd() != null && create.getCmd().length > 0) {
      return;
    }
    InspectImageResponse image;
    try {
      image = api.inspectImageCmd(target.image).exec();
    } catch (NotFoundException e) {
      throw e; // "No such image": provision pulls it and tries again
    } catch (RuntimeException e) {
      throw unavailableOr("inspect image " + target.image, e);
    }
    ContainerConfig config = image.getConfig();
    boolean hasCommand =
        config != null
            && (config.getCmd() != null && config.getCmd().length > 0
                || config.getEntrypoint() != null && config.getEntrypoint().length > 0);
    if (hasCommand) {
      create.withTty(true).withStdinOpen(true);
    } else {
      create.withCmd(KEEP_ALIVE);
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
      if (isConnectionFailure(e)) {
        throw unavailableOr("pull image " + image, e);
      }
      throw new ComputeException(
          Reason.INVALID,
          "image '"
              + image
              + "' is not present on "
              + host
              + " and cannot be pulled: "
              + dockerMessage(e),
          e);
    } finally {
      closeQuietly(callback);
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
    return Optional.ofNullable(inspectOrNull(best.get().getId())).map(DockerHost::toMachine);
  }

  @Override
  public List<Machine> listOwned() throws ComputeException {
    List<Machine> machines = new ArrayList<>();
    for (Container container :
        adoptable(listByLabel(Map.of(ComputeLabels.MANAGED_BY, ComputeLabels.MANAGED_BY_VALUE)))) {
      InspectContainerResponse inspect = inspectOrNull(container.getId());
      if (inspect != null) {
        machines.add(toMachine(inspect));
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
      throw unavailableOr("list containers", e);
    }
  }

  /** Force-removes the container and its anonymous volumes; one already gone is success. */
  @Override
  public void destroy(Machine machine) throws ComputeException {
    String id = containerId(machine);
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
              Reason.FAILED, "container " + id + " is still being removed: " + dockerMessage(e), e);
        }
        sleep(100);
      }
    } catch (RuntimeException e) {
      throw unavailableOr("remove container " + id, e);
    }
  }

  // ------------------------------------------------------------------------------------ exec

  /**
   * Runs {@code request.argv()} with {@code docker exec}, its stdout and stderr demultiplexed into
   * two buffers of at most {@code maxOutputBytes} each (the rest is read and dropped, and the
   * result says so), and the exit code from exec inspect.
   *
   * <p><b>Timeouts.</b> Docker has no API to kill an exec. Every exec therefore gets a unique
   * {@value ExecMarker#ENV} environment variable, which its process and every child it starts
   * inherit. At the timeout a second exec, {@code /bin/sh -c}, walks {@code /proc/<pid>/environ} in
   * the container and sends SIGSTOP and then SIGKILL to every process carrying that marker (in up
   * to three rounds, for children forked meanwhile), so the command's whole tree dies, not only its
   * first process, no parent gets to run on after its child died, and nothing else is touched; then
   * the output stream is drained until it closes. The result has {@code timedOut} and exit code -1.
   * This needs {@code /bin/sh}, {@code grep} and {@code kill} in the image (every image with a
   * shell has them); in an image without a shell the kill fails, which is logged, and the command
   * may run on. Processes that clear their own environment ({@code env -i}) escape the marker.
   */
  @Override
  public ExecResult exec(Machine machine, ExecRequest request) throws ComputeException {
    if (request.argv().isEmpty()) {
      throw new ComputeException(Reason.INVALID, "the command is empty");
    }
    int cap = Math.max(0, request.maxOutputBytes());
    String id = containerId(machine);
    String marker = UUID.randomUUID().toString();
    List<String> env = new ArrayList<>();
    for (Map.Entry<String, String> entry : request.env().entrySet()) {
      if (!ENV_NAME.matcher(entry.getKey()).matches()) {
        throw new ComputeException(
            Reason.INVALID, "environment variable name '" + entry.getKey() + "' is not valid");
      }
      env.add(entry.getKey() + "=" + (entry.getValue() == null ? "" : entry.getValue()));
    }
    env.add(ExecMarker.ENV + "=" + marker);
    long started = System.nanoTime();
    String execId = createExec(id, request.argv(), request.workdir(), env);
    OutputCollector output = new OutputCollector(cap);
    try {
      streams.execStartCmd(execId).withDetach(false).withTty(false).exec(output);
      boolean finished =
          output.awaitCompletion(request.timeout().toMillis(), TimeUnit.MILLISECONDS);
      if (!finished) {
        killMarked(id, marker);
        if (!output.awaitCompletion(KILL_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
          LOG.warn("Exec {} in container {} timed out and did not stop after the kill", execId, id);
        }
        return output.result(-1, true, Duration.ofNanos(System.nanoTime() - started));
      }
      output.rethrow();
      int exitCode = exitCode(execId);
      return output.result(exitCode, false, Duration.ofNanos(System.nanoTime() - started));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      killMarked(id, marker);
      throw new ComputeException(Reason.UNAVAILABLE, "interrupted while running a command", e);
    } catch (NotFoundException e) {
      throw new ComputeException(Reason.NOT_FOUND, "container " + id + " no longer exists", e);
    } catch (ConflictException e) {
      throw notRunning(id, e);
    } catch (RuntimeException e) {
      throw unavailableOr("run a command in container " + id, e);
    } finally {
      closeQuietly(output);
    }
  }

  private String createExec(String id, List<String> argv, String workdir, List<String> env)
      throws ComputeException {
    try {
      var cmd =
          api.execCreateCmd(id)
              .withCmd(argv.toArray(String[]::new))
              .withEnv(env)
              .withAttachStdout(true)
              .withAttachStderr(true)
              .withAttachStdin(false)
              .withTty(false);
      if (notBlank(workdir)) {
        cmd.withWorkingDir(workdir);
      }
      ExecCreateCmdResponse created = cmd.exec();
      return created.getId();
    } catch (NotFoundException e) {
      throw new ComputeException(Reason.NOT_FOUND, "container " + id + " no longer exists", e);
    } catch (ConflictException e) {
      throw notRunning(id, e);
    } catch (BadRequestException e) {
      throw new ComputeException(
          Reason.INVALID, "the Docker engine refused the command: " + dockerMessage(e), e);
    } catch (RuntimeException e) {
      throw unavailableOr("create an exec in container " + id, e);
    }
  }

  private static ComputeException notRunning(String id, RuntimeException e) {
    return new ComputeException(
        Reason.FAILED, "container " + id + " is not running: " + dockerMessage(e), e);
  }

  /**
   * The exit code; the engine records it as the stream closes, so a brief wait covers the moment
   * between the two.
   */
  private int exitCode(String execId) throws ComputeException {
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (true) {
      InspectExecResponse inspect = api.inspectExecCmd(execId).exec();
      Long code = inspect.getExitCodeLong();
      if (!Boolean.TRUE.equals(inspect.isRunning()) && code != null) {
        return code.intValue();
      }
      if (System.nanoTime() > deadline) {
        throw new ComputeException(
            Reason.FAILED, "the engine reported no exit code for exec " + execId);
      }
      sleep(10);
    }
  }

  /** SIGKILL to every process in the container whose environment carries {@code marker}. */
  private void killMarked(String containerId, String marker) {
    String script = ExecMarker.killScript(marker);
    try {
      String killer =
          api.execCreateCmd(containerId)
              .withCmd("/bin/sh", "-c", script)
              .withAttachStdout(true)
              .withAttachStderr(true)
              .exec()
              .getId();
      OutputCollector out = new OutputCollector(4096);
      try {
        streams.execStartCmd(killer).withDetach(false).exec(out);
        if (!out.awaitCompletion(KILL_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
          LOG.warn("Killing timed-out command in container {} did not finish", containerId);
        }
      } finally {
        closeQuietly(out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      LOG.warn(
          "Could not kill a timed-out command in container {}: {}", containerId, dockerMessage(e));
    }
  }

  /** Collects an exec's frames into two capped buffers. */
  private static final class OutputCollector extends ResultCallback.Adapter<Frame> {
    private final CappedOutput stdout;
    private final CappedOutput stderr;
    private volatile Throwable failure;

    OutputCollector(int cap) {
      this.stdout = new CappedOutput(cap);
      this.stderr = new CappedOutput(cap);
    }

    @Override
    public void onNext(Frame frame) {
      byte[] payload = frame.getPayload();
      if (payload == null) {
        return;
      }
      if (frame.getStreamType() == StreamType.STDERR) {
        stderr.write(payload, 0, payload.length);
      } else if (frame.getStreamType() == StreamType.STDOUT
          || frame.getStreamType() == StreamType.RAW) {
        stdout.write(payload, 0, payload.length);
      }
    }

    @Override
    public void onError(Throwable throwable) {
      failure = throwable;
      super.onError(throwable);
    }

    void rethrow() {
      Throwable t = failure;
      if (t instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (t != null) {
        throw new IllegalStateException(t.getMessage(), t);
      }
    }

    ExecResult result(int exitCode, boolean timedOut, Duration duration) {
      return new ExecResult(
          exitCode,
          stdout.text(),
          stderr.text(),
          stdout.truncated(),
          stderr.truncated(),
          timedOut,
          duration);
    }
  }

  // ----------------------------------------------------------------------------------- stats

  /**
   * One sample of {@code docker stats --no-stream}: CPU percent as the CLI computes it (container
   * CPU time delta over host CPU time delta, times online CPUs), memory usage without the page
   * cache, and network bytes summed over the container's interfaces (0 with network {@code none}).
   * Figures the engine does not report for a stopped container are -1.
   */
  @Override
  public MachineStats stats(Machine machine) throws ComputeException {
    String id = containerId(machine);
    StatsCollector collector = new StatsCollector();
    try {
      streams.statsCmd(id).withNoStream(true).exec(collector);
      if (!collector.awaitCompletion(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new ComputeException(
            Reason.UNAVAILABLE, "container " + id + " stats did not arrive in time");
      }
      collector.rethrow();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ComputeException(Reason.UNAVAILABLE, "interrupted while reading stats", e);
    } catch (NotFoundException e) {
      throw new ComputeException(Reason.NOT_FOUND, "container " + id + " no longer exists", e);
    } catch (RuntimeException e) {
      throw unavailableOr("read stats of container " + id, e);
    } finally {
      closeQuietly(collector);
    }
    Statistics stats = collector.stats;
    if (stats == null) {
      throw new ComputeException(Reason.FAILED, "the engine sent no stats for container " + id);
    }
    return toStats(stats);
  }

  static MachineStats toStats(Statistics stats) {
    return new MachineStats(
        cpuPercent(stats.getCpuStats(), stats.getPreCpuStats()),
        memoryUsage(stats.getMemoryStats()),
        memoryLimit(stats.getMemoryStats()),
        network(stats, true),
        network(stats, false),
        Instant.now());
  }

  static double cpuPercent(CpuStatsConfig now, CpuStatsConfig before) {
    if (now == null || now.getCpuUsage() == null || now.getSystemCpuUsage() == null) {
      return -1;
    }
    long total = nz(now.getCpuUsage().getTotalUsage());
    long system = nz(now.getSystemCpuUsage());
    long previousTotal =
        before == null || before.getCpuUsage() == null
            ? 0
            : nz(before.getCpuUsage().getTotalUsage());
    long previousSystem = before == null ? 0 : nz(before.getSystemCpuUsage());
    long cpuDelta = total - previousTotal;
    long systemDelta = system - previousSystem;
    long online = nz(now.getOnlineCpus());
    if (online == 0 && now.getCpuUsage().getPercpuUsage() != null) {
      online = now.getCpuUsage().getPercpuUsage().size();
    }
    if (online == 0) {
      online = 1;
    }
    if (systemDelta <= 0 || cpuDelta < 0) {
      return 0;
    }
    return (double) cpuDelta / systemDelta * online * 100.0;
  }

  static long memoryUsage(MemoryStatsConfig memory) {
    if (memory == null || memory.getUsage() == null) {
      return -1;
    }
    long usage = memory.getUsage();
    if (memory.getStats() != null) {
      // What docker stats shows: cgroup v1 subtracts total_inactive_file, v2 inactive_file.
      Long inactive = memory.getStats().getTotalInactiveFile();
      if (inactive == null) {
        inactive = memory.getStats().getInactiveFile();
      }
      if (inactive != null && inactive < usage) {
        usage -= inactive;
      }
    }
    return usage;
  }

  static long memoryLimit(MemoryStatsConfig memory) {
    return memory == null || memory.getLimit() == null ? -1 : memory.getLimit();
  }

  static long network(Statistics stats, boolean rx) {
    Map<String, StatisticNetworksConfig> networks = stats.getNetworks();
    if (networks == null) {
      return 0;
    }
    long sum = 0;
    for (StatisticNetworksConfig net : networks.values()) {
      sum += nz(rx ? net.getRxBytes() : net.getTxBytes());
    }
    return sum;
  }

  private static final class StatsCollector extends ResultCallback.Adapter<Statistics> {
    private volatile Statistics stats;
    private volatile Throwable failure;

    @Override
    public void onNext(Statistics statistics) {
      if (stats == null) {
        stats = statistics;
      }
    }

    @Override
    public void onError(Throwable throwable) {
      failure = throwable;
      super.onError(throwable);
    }

    void rethrow() {
      Throwable t = failure;
      if (t instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (t != null) {
        throw new IllegalStateException(t.getMessage(), t);
      }
    }
  }

  // ---------------------------------------------------------------------------------- close

  @Override
  public void close() {
    closeQuietly(api);
    closeQuietly(streams);
    closeQuietly(apiHttp);
    closeQuietly(streamHttp);
  }

  // -------------------------------------------------------------------------------- helpers

  /** The container name of a resource, within Docker's {@code [a-zA-Z0-9][a-zA-Z0-9_.-]+}. */
  public static String containerName(String namespace, String name, String uid) {
    String ns = sanitize(namespace);
    String n = sanitize(name);
    String shortUid = sanitize(uid.replace("-", ""));
    shortUid = shortUid.substring(0, Math.min(8, shortUid.length()));
    String base = "vera-" + ns + "-" + n;
    if (base.length() > 200) {
      base = base.substring(0, 200);
    }
    return base + "-" + shortUid;
  }

  private static String sanitize(String value) {
    String cleaned = value == null ? "" : value.replaceAll("[^a-zA-Z0-9_.-]", "-");
    return cleaned.isEmpty() ? "x" : cleaned;
  }

  static Machine toMachine(InspectContainerResponse inspect) {
    String id = inspect.getId();
    Map<String, String> labels =
        inspect.getConfig() == null || inspect.getConfig().getLabels() == null
            ? Map.of()
            : inspect.getConfig().getLabels();
    Machine.Owner owner =
        new Machine.Owner(
            labels.get(ComputeLabels.RESOURCE_NAMESPACE),
            labels.get(ComputeLabels.RESOURCE_NAME),
            labels.get(ComputeLabels.RESOURCE_UID),
            labels.get(ComputeLabels.INSTANCE));
    HostConfig hostConfig = inspect.getHostConfig();
    double cpus =
        hostConfig == null || hostConfig.getNanoCPUs() == null ? 0 : hostConfig.getNanoCPUs() / 1e9;
    long memoryMb =
        hostConfig == null || hostConfig.getMemory() == null ? 0 : hostConfig.getMemory() / MIB;
    int gpus = 0;
    if (hostConfig != null && hostConfig.getDeviceRequests() != null) {
      for (DeviceRequest request : hostConfig.getDeviceRequests()) {
        gpus += request.getCount() == null ? 0 : Math.max(0, request.getCount());
      }
    }
    return new Machine(
        RESOURCE_ID_PREFIX + id.substring(0, Math.min(12, id.length())),
        id,
        owner,
        state(status(inspect)),
        address(inspect),
        new Capacity(cpus, memoryMb, diskGb(hostConfig), gpus));
  }

  /** The container's disk cap in GiB ({@code StorageOpt.size}), 0 when it has none. */
  static long diskGb(HostConfig hostConfig) {
    Map<String, String> options = hostConfig == null ? null : hostConfig.getStorageOpt();
    String size = options == null ? null : options.get("size");
    if (size == null) {
      return 0;
    }
    Matcher m = STORAGE_SIZE.matcher(size);
    if (!m.matches()) {
      return 0;
    }
    long value = Long.parseLong(m.group(1));
    int shift =
        switch (m.group(2).toLowerCase(Locale.ROOT)) {
          case "t" -> 40;
          case "g" -> 30;
          case "m" -> 20;
          case "k" -> 10;
          default -> 0;
        };
    return (value << shift) >> 30;
  }

  static Machine.State state(String dockerStatus) {
    return switch (dockerStatus) {
      case "running" -> Machine.State.RUNNING;
      case "created", "restarting" -> Machine.State.STARTING;
      case "exited", "paused" -> Machine.State.STOPPED;
      default -> Machine.State.FAILED; // dead, removing, unknown
    };
  }

  private static String address(InspectContainerResponse inspect) {
    String mode = inspect.getHostConfig() == null ? null : inspect.getHostConfig().getNetworkMode();
    if (mode == null || "none".equals(mode)) {
      return null;
    }
    if ("host".equals(mode)) {
      return "127.0.0.1";
    }
    var settings = inspect.getNetworkSettings();
    if (settings == null) {
      return null;
    }
    if (settings.getNetworks() != null) {
      for (ContainerNetwork network : settings.getNetworks().values()) {
        if (notBlank(network.getIpAddress())) {
          return network.getIpAddress();
        }
      }
    }
    return notBlank(settings.getIpAddress()) ? settings.getIpAddress() : null;
  }

  private static String status(InspectContainerResponse inspect) {
    return inspect.getState() == null || inspect.getState().getStatus() == null
        ? "unknown"
        : inspect.getState().getStatus();
  }

  private static String label(InspectContainerResponse inspect, String key) {
    return inspect.getConfig() == null || inspect.getConfig().getLabels() == null
        ? null
        : inspect.getConfig().getLabels().get(key);
  }

  private InspectContainerResponse inspectOrNull(String id) throws ComputeException {
    try {
      return api.inspectContainerCmd(id).exec();
    } catch (NotFoundException e) {
      return null;
    } catch (RuntimeException e) {
      throw unavailableOr("inspect container " + id, e);
    }
  }

  private void removeQuietly(String id) {
    try {
      api.removeContainerCmd(id).withForce(true).withRemoveVolumes(true).exec();
    } catch (NotFoundException e) {
      // gone already
    } catch (RuntimeException e) {
      LOG.warn("Could not remove container {}: {}", id, dockerMessage(e));
    }
  }

  private static String containerId(Machine machine) throws ComputeException {
    if (machine == null) {
      throw new ComputeException(Reason.INVALID, "no machine given");
    }
    if (notBlank(machine.nativeId())) {
      return machine.nativeId();
    }
    String resourceId = machine.resourceId();
    if (resourceId != null && resourceId.startsWith(RESOURCE_ID_PREFIX)) {
      return resourceId.substring(RESOURCE_ID_PREFIX.length());
    }
    throw new ComputeException(
        Reason.INVALID, "machine " + resourceId + " is not a Docker container");
  }

  /**
   * UNAVAILABLE for a connection that failed or timed out (the engine may come back), FAILED with
   * the engine's own message for anything else it answered.
   */
  private ComputeException unavailableOr(String what, RuntimeException e) {
    if (e instanceof NotFoundException) {
      return new ComputeException(
          Reason.NOT_FOUND, "could not " + what + ": " + dockerMessage(e), e);
    }
    if (isConnectionFailure(e)) {
      return new ComputeException(
          Reason.UNAVAILABLE,
          "could not "
              + what
              + ": the Docker engine at "
              + host
              + " did not answer ("
              + rootMessage(e)
              + ")",
          e);
    }
    return new ComputeException(Reason.FAILED, "could not " + what + ": " + dockerMessage(e), e);
  }

  private static boolean isConnectionFailure(Throwable e) {
    if (e instanceof DockerException) {
      return ((DockerException) e).getHttpStatus() >= 502;
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof IOException) {
        return true;
      }
    }
    return false;
  }

  private static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message = root.getMessage();
    return root.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }

  /** The engine's message without docker-java's "Status 404: {"message":...}" wrapping. */
  static String dockerMessage(Throwable e) {
    String message = e.getMessage();
    if (message == null) {
      return e.getClass().getSimpleName();
    }
    int brace = message.indexOf('{');
    if (e instanceof DockerException && brace >= 0) {
      try {
        JsonNode node = JSON.readTree(message.substring(brace));
        if (node.hasNonNull("message")) {
          return node.get("message").asText();
        }
      } catch (IOException ignored) {
        // not JSON: keep the message as it is
      }
    }
    return message.strip();
  }

  private static void closeQuietly(AutoCloseable closeable) {
    try {
      closeable.close();
    } catch (Exception e) {
      LOG.debug("Closing {} failed", closeable.getClass().getSimpleName(), e);
    }
  }

  private static void sleep(long millis) throws ComputeException {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ComputeException(Reason.UNAVAILABLE, "interrupted", e);
    }
  }

  private static long nz(Long value) {
    return value == null ? 0 : value;
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
  private static final class Target {
    final String uid;
    final String namespace;
    final String name;
    final String containerName;
    final String image;
    final ComputeResourceSpec.DockerSpec docker;
    final ComputeResourceSpec.ResourceSpec resources;
    final List<Bind> binds;
    final RestartPolicy restartPolicy;
    final String networkMode;
    final InstanceId instance;

    private Target(ComputeResource resource, InstanceId instance) throws ComputeException {
      this.instance = instance;
      if (resource == null || resource.getMetadata() == null || resource.getSpec() == null) {
        throw new ComputeException(Reason.INVALID, "the resource has no metadata or spec");
      }
      uid = resource.getMetadata().getUid();
      namespace = resource.getMetadata().getNamespace();
      name = resource.getMetadata().getName();
      if (blank(uid) || blank(name)) {
        throw new ComputeException(Reason.INVALID, "the resource has no name or uid yet");
      }
      ComputeResourceSpec spec = resource.getSpec();
      if (spec.type != null && spec.type != ComputeResourceSpec.Type.Docker) {
        throw new ComputeException(
            Reason.UNSUPPORTED, "a Docker host cannot provision a " + spec.type + " resource");
      }
      docker = spec.docker;
      if (docker == null || blank(docker.image)) {
        throw new ComputeException(Reason.INVALID, "spec.docker.image is required");
      }
      image = docker.image.trim();
      resources = spec.resources;
      containerName = containerName(namespace, name, uid);
      binds = binds(docker.volumes);
      restartPolicy = restartPolicy(docker.restartPolicy);
      networkMode = blank(docker.networkMode) ? "none" : docker.networkMode.trim();
      if (!NETWORK_MODE.matcher(networkMode).matches()) {
        throw new ComputeException(
            Reason.INVALID, "spec.docker.networkMode '" + networkMode + "' is not a network");
      }
      if (docker.env != null) {
        for (String key : docker.env.keySet()) {
          if (key == null || !ENV_NAME.matcher(key).matches()) {
            throw new ComputeException(
                Reason.INVALID, "spec.docker.env name '" + key + "' is not valid");
          }
        }
      }
    }

    static Target of(ComputeResource resource, InstanceId instance) throws ComputeException {
      return new Target(resource, instance);
    }

    /** Whether the resource asks for a disk size, which Docker can cap only on some drivers. */
    boolean asksForDisk() {
      return resources != null && resources.diskGb != null && resources.diskGb > 0;
    }

    /**
     * @param capDisk whether to ask the engine to cap the container's disk at {@code diskGb}
     */
    void configure(CreateContainerCmd cmd, boolean capDisk) {
      Map<String, String> labels = new LinkedHashMap<>();
      labels.put(ComputeLabels.MANAGED_BY, ComputeLabels.MANAGED_BY_VALUE);
      labels.put(ComputeLabels.RESOURCE_UID, uid);
      labels.put(ComputeLabels.INSTANCE, instance.value());
      labels.put(ComputeLabels.RESOURCE_NAME, name);
      if (namespace != null) {
        labels.put(ComputeLabels.RESOURCE_NAMESPACE, namespace);
      }
      cmd.withLabels(labels);
      if (docker.command != null && !docker.command.isEmpty()) {
        cmd.withCmd(docker.command);
      }
      if (docker.env != null && !docker.env.isEmpty()) {
        List<String> env = new ArrayList<>();
        docker.env.forEach((k, v) -> env.add(k + "=" + (v == null ? "" : v)));
        cmd.withEnv(env);
      }
      HostConfig hostConfig =
          HostConfig.newHostConfig()
              .withNetworkMode(networkMode)
              .withRestartPolicy(restartPolicy)
              .withBinds(binds);
      if (resources != null && resources.cpuCores != null && resources.cpuCores > 0) {
        hostConfig.withNanoCPUs(Math.round(resources.cpuCores * 1e9));
      }
      if (resources != null && resources.memoryMb != null && resources.memoryMb > 0) {
        long bytes = resources.memoryMb * MIB;
        // No swap beyond the limit: memory is what the resource asked for, not twice that.
        hostConfig.withMemory(bytes).withMemorySwap(bytes);
      }
      if (capDisk && asksForDisk()) {
        hostConfig.withStorageOpt(Map.of("size", resources.diskGb + "G"));
      }
      if (resources != null && resources.gpuCount != null && resources.gpuCount > 0) {
        hostConfig.withDeviceRequests(
            List.of(
                new DeviceRequest()
                    .withCount(resources.gpuCount)
                    .withCapabilities(List.of(List.of("gpu")))));
      }
      if (Boolean.TRUE.equals(docker.privileged)) {
        hostConfig.withPrivileged(true);
      } else {
        hostConfig.withPrivileged(false).withSecurityOpts(List.of("no-new-privileges"));
      }
      cmd.withHostConfig(hostConfig);
    }

    private static List<Bind> binds(List<String> volumes) throws ComputeException {
      List<Bind> binds = new ArrayList<>();
      if (volumes == null) {
        return binds;
      }
      for (String volume : volumes) {
        binds.add(bind(volume));
      }
      return binds;
    }

    /** {@code host:container[:ro|rw]}, both absolute paths. */
    static Bind bind(String volume) throws ComputeException {
      String[] parts = volume == null ? new String[0] : volume.split(":", -1);
      if (parts.length < 2 || parts.length > 3) {
        throw new ComputeException(
            Reason.INVALID,
            "spec.docker.volumes entry '" + volume + "' must be host:container[:ro]");
      }
      String source = parts[0];
      String target = parts[1];
      if (!source.startsWith("/")
          || !CONTAINER_PATH.matcher(source).matches()
          || hasDotDot(source)) {
        throw new ComputeException(
            Reason.INVALID,
            "spec.docker.volumes entry '"
                + volume
                + "': the host side must be an absolute path without '..'");
      }
      if (!CONTAINER_PATH.matcher(target).matches() || hasDotDot(target) || "/".equals(target)) {
        throw new ComputeException(
            Reason.INVALID,
            "spec.docker.volumes entry '"
                + volume
                + "': the container side must be an absolute path other than /");
      }
      AccessMode mode = AccessMode.rw;
      if (parts.length == 3) {
        switch (parts[2]) {
          case "ro" -> mode = AccessMode.ro;
          case "rw" -> mode = AccessMode.rw;
          default ->
              throw new ComputeException(
                  Reason.INVALID,
                  "spec.docker.volumes entry '" + volume + "': the mode must be ro or rw");
        }
      }
      return new Bind(source, new Volume(target), mode);
    }

    private static boolean hasDotDot(String path) {
      for (String segment : path.split("/")) {
        if ("..".equals(segment)) {
          return true;
        }
      }
      return false;
    }

    private static RestartPolicy restartPolicy(String value) throws ComputeException {
      if (blank(value)) {
        return RestartPolicy.noRestart();
      }
      try {
        return RestartPolicy.parse(value.trim());
      } catch (IllegalArgumentException e) {
        throw new ComputeException(
            Reason.INVALID,
            "spec.docker.restartPolicy '"
                + value
                + "' must be no, always, unless-stopped or on-failure[:N]");
      }
    }

    @Override
    public String toString() {
      return namespace + "/" + name;
    }
  }
}
