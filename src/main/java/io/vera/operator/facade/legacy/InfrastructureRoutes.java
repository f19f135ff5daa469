package io.vera.operator.facade.legacy;

import io.fabric8.kubernetes.api.model.Condition;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.ComputeResourceStatus;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.api.TaskType;
import io.vera.operator.compute.Capacity;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeHosts;
import io.vera.operator.compute.ComputeService;
import io.vera.operator.compute.ExecRequest;
import io.vera.operator.compute.ExecResult;
import io.vera.operator.compute.HostReachability;
import io.vera.operator.compute.MachineStats;
import io.vera.operator.facade.ApiException;
import io.vera.operator.facade.JsonBody;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The legacy infrastructure router, {@code /orchestrator/infrastructure}: Docker containers,
 * Proxmox VMs and LXCs and Kubernetes pods as ComputeResources. Provisioning creates a
 * ComputeResource and answers once its machine runs; everything else reads or acts on those
 * resources through the {@link ComputeService}.
 */
final class InfrastructureRoutes {
  static final String BASE = "/orchestrator/infrastructure";

  /**
   * How long provisioning waits for a host that answers to run the machines (image pulls and VM
   * clones take minutes); a host that does not answer is refused within {@link #HOST_DEADLINE}.
   */
  private static final Duration PROVISION_WAIT = Duration.ofMinutes(5);

  /** How long a host has to answer its probe before provisioning is refused with 504. */
  static final Duration HOST_DEADLINE = Duration.ofSeconds(5);

  private static final int MAX_COMMAND_CHARS = 65_536;
  private static final String DEFAULT_IMAGE = "python:3.11-slim";
  private static final int MAX_OUTPUT_BYTES = 1024 * 1024;
  private static final Pattern RESOURCE_ID = Pattern.compile("[a-z0-9][a-z0-9.-]{0,252}");
  private static final Pattern VOLUME = Pattern.compile("[^:\\x00]+:/[^:\\x00]*(:(ro|rw))?");

  private final ComputeService compute;
  private final LegacyInfrastructure infrastructure;
  private final String defaultDockerHost;

  InfrastructureRoutes(
      ComputeService compute, LegacyInfrastructure infrastructure, String defaultDockerHost) {
    this.compute = compute;
    this.infrastructure = infrastructure;
    this.defaultDockerHost = defaultDockerHost;
  }

  void register(Javalin app) {
    app.post(BASE + "/initialize", this::initialize);
    app.post(BASE + "/resources/docker/provision", this::provisionDocker);
    app.post(BASE + "/resources/proxmox/provision", this::provisionProxmox);
    app.post(BASE + "/resources/scale", this::scale);
    app.post(BASE + "/resources/cleanup", this::cleanup);
    app.get(BASE + "/resources", this::list);
    app.get(BASE + "/resources/{resource_id}", this::get);
    app.delete(BASE + "/resources/{resource_id}", this::delete);
    app.post(BASE + "/resources/{resource_id}/execute", this::execute);
    app.get(BASE + "/stats", this::stats);
    app.get(BASE + "/stats/resources/{resource_id}", this::resourceStats);
    app.get(BASE + "/health", this::health);
  }

  /** The legacy names of resource types. */
  enum LegacyType {
    DOCKER("docker_container", ComputeResourceSpec.Type.Docker, "docker-"),
    PROXMOX_VM("proxmox_vm", ComputeResourceSpec.Type.ProxmoxVM, "proxmox-vm-"),
    PROXMOX_LXC("proxmox_lxc", ComputeResourceSpec.Type.ProxmoxLXC, "proxmox-lxc-"),
    POD("kubernetes_pod", ComputeResourceSpec.Type.Pod, "pod-");

    final String legacyName;
    final ComputeResourceSpec.Type type;
    final String namePrefix;

    LegacyType(String legacyName, ComputeResourceSpec.Type type, String namePrefix) {
      this.legacyName = legacyName;
      this.type = type;
      this.namePrefix = namePrefix;
    }

    static LegacyType of(ComputeResourceSpec.Type type) {
      for (LegacyType t : values()) {
        if (t.type == type) {
          return t;
        }
      }
      throw new IllegalArgumentException(String.valueOf(type));
    }

    static LegacyType parse(String field, String value) {
      for (LegacyType t : values()) {
        if (t.legacyName.equals(value)) {
          return t;
        }
      }
      throw ApiException.invalid(
          "field '"
              + field
              + "' must be one of docker_container, proxmox_vm, proxmox_lxc, kubernetes_pod, got '"
              + value
              + "'");
    }
  }

  // ---- initialize ----------------------------------------------------------------------------

  /**
   * Creates or updates the Docker and Proxmox Providers and answers with each host's readiness,
   * asked within {@link #HOST_DEADLINE}: a host that is down does not fail the call (the Provider
   * is kept and probed again), it is said in {@code providers}.
   */
  private void initialize(Context ctx) throws InterruptedException {
    JsonBody body = JsonBody.of(ctx);
    boolean docker = body.bool("enable_docker", true);
    boolean proxmox = body.bool("enable_proxmox", false);
    int maxResources = body.integer("max_resources", 10, 1, 100);
    ProviderSpec.AutoProvision autoProvision = null;
    if (body.bool("auto_scale", false)) {
      autoProvision = new ProviderSpec.AutoProvision();
      autoProvision.image = body.string("auto_scale_image", DEFAULT_IMAGE, 512);
      autoProvision.networkMode = "none";
      autoProvision.idleTimeoutSeconds = 300;
    }
    Map<String, Provider> configured = new LinkedHashMap<>();
    if (docker) {
      String url = body.string("docker_url", defaultDockerHost, 2048);
      configured.put(
          "docker",
          infrastructure.configureDocker(normalizeDockerUrl(url), maxResources, autoProvision));
    }
    if (proxmox) {
      String host = body.requireString("proxmox_host", 253);
      Map<String, String> credentials = new LinkedHashMap<>();
      String user = body.requireString("proxmox_user", 256);
      String tokenName = body.string("proxmox_token_name", null, 256);
      if (tokenName != null) {
        credentials.put("tokenId", user + "!" + tokenName);
        credentials.put("tokenSecret", body.requireString("proxmox_token_value", 4096));
      } else {
        credentials.put("username", user);
        credentials.put("password", body.requireString("proxmox_password", 4096));
      }
      configured.put(
          "proxmox",
          infrastructure.configureProxmox(
              proxmoxEndpoint(host),
              body.bool("proxmox_verify_ssl", false),
              credentials,
              maxResources));
    }
    Map<String, InfrastructureAnswers.HostReadiness> readiness = new LinkedHashMap<>();
    for (Map.Entry<String, Provider> e : configured.entrySet()) {
      HostReachability.Answer answer = compute.reachable(e.getValue(), HOST_DEADLINE);
      readiness.put(
          e.getKey(),
          new InfrastructureAnswers.HostReadiness(
              e.getValue().getMetadata().getName(),
              answer.verdict() == HostReachability.Verdict.REACHABLE,
              answer.detail()));
    }
    ctx.json(
        new InfrastructureAnswers.Initialized(
            configured.isEmpty()
                ? "no backend enabled"
                : "initialized " + String.join(" and ", configured.keySet()),
            readiness));
  }

  private static String normalizeDockerUrl(String url) {
    if (url.startsWith("unix://") && !url.startsWith("unix:///")) {
      return "unix:///" + url.substring("unix://".length());
    }
    if (!url.startsWith("unix:///") && !url.startsWith("tcp://")) {
      throw ApiException.invalid(
          "field 'docker_url' must be unix:///path or tcp://host:port, got '" + url + "'");
    }
    return url;
  }

  private static String proxmoxEndpoint(String host) {
    String endpoint = host.contains("://") ? host : "https://" + host;
    if (!endpoint.startsWith("https://") && !endpoint.startsWith("http://")) {
      throw ApiException.invalid("field 'proxmox_host' must be a host name or an https URL");
    }
    if (!endpoint.substring(endpoint.indexOf("://") + 3).contains(":")) {
      endpoint = endpoint + ":8006";
    }
    return endpoint;
  }

  // ---- provisioning --------------------------------------------------------------------------

  private void provisionDocker(Context ctx) throws InterruptedException {
    JsonBody body = JsonBody.of(ctx);
    ComputeResourceSpec spec = dockerSpec(body);
    ComputeResource resource = provision(LegacyType.DOCKER, spec, 1).get(0);
    ctx.json(provisioned(resource, "Docker container provisioned"));
  }

  private void provisionProxmox(Context ctx) throws InterruptedException {
    JsonBody body = JsonBody.of(ctx);
    LegacyType type =
        LegacyType.parse("resource_type", body.string("resource_type", "proxmox_vm", 32));
    if (type != LegacyType.PROXMOX_VM && type != LegacyType.PROXMOX_LXC) {
      throw ApiException.invalid("field 'resource_type' must be proxmox_vm or proxmox_lxc");
    }
    ComputeResourceSpec spec = proxmoxSpec(body, type);
    ComputeResource resource = provision(type, spec, 1).get(0);
    ctx.json(
        provisioned(
            resource,
            type == LegacyType.PROXMOX_VM
                ? "Proxmox VM provisioned"
                : "Proxmox LXC container provisioned"));
  }

  private void scale(Context ctx) throws InterruptedException {
    JsonBody body = JsonBody.of(ctx);
    LegacyType type = LegacyType.parse("resource_type", body.requireString("resource_type", 32));
    int count = body.integer("count", 1, 1, 20);
    ComputeResourceSpec spec =
        switch (type) {
          case DOCKER -> dockerSpec(body);
          case PROXMOX_VM, PROXMOX_LXC -> proxmoxSpec(body, type);
          case POD -> podSpec(body);
        };
    List<ComputeResource> resources = provision(type, spec, count);
    ctx.json(
        new InfrastructureAnswers.Scaled(
            resources.stream().map(InfrastructureRoutes::resourceId).toList(),
            "provisioned " + resources.size() + " " + type.legacyName));
  }

  private ComputeResourceSpec dockerSpec(JsonBody body) {
    ComputeResourceSpec spec = baseSpec(body, ComputeResourceSpec.Type.Docker);
    spec.docker = new ComputeResourceSpec.DockerSpec();
    spec.docker.image = body.string("image", DEFAULT_IMAGE, 512);
    Map<String, String> env = body.stringMap("environment", 256);
    spec.docker.env = env.isEmpty() ? null : env;
    spec.docker.volumes = volumes(body);
    spec.docker.networkMode = body.string("network_mode", "none", 64);
    return spec;
  }

  private ComputeResourceSpec proxmoxSpec(JsonBody body, LegacyType type) {
    ComputeResourceSpec spec = baseSpec(body, type.type);
    spec.proxmox = new ComputeResourceSpec.ProxmoxSpec();
    spec.proxmox.node = body.requireString("node", 64);
    String template = body.string("template", null, 256);
    if (type == LegacyType.PROXMOX_LXC) {
      spec.proxmox.ostemplate = template;
    } else {
      spec.proxmox.template = template;
    }
    spec.proxmox.storage = body.string("storage", "local-lvm", 64);
    spec.proxmox.networkBridge = body.string("network_bridge", "vmbr0", 64);
    return spec;
  }

  private ComputeResourceSpec podSpec(JsonBody body) {
    ComputeResourceSpec spec = baseSpec(body, ComputeResourceSpec.Type.Pod);
    spec.pod = new ComputeResourceSpec.PodSpec();
    spec.pod.image = body.requireString("image", 512);
    Map<String, String> env = body.stringMap("environment", 256);
    spec.pod.env = env.isEmpty() ? null : env;
    return spec;
  }

  private static ComputeResourceSpec baseSpec(JsonBody body, ComputeResourceSpec.Type type) {
    ComputeResourceSpec spec = new ComputeResourceSpec();
    spec.type = type;
    spec.resources = new ComputeResourceSpec.ResourceSpec();
    JsonBody size = body.has("spec") ? body.nested("spec") : JsonBody.parse("{}");
    spec.resources.cpuCores = size.number("cpu_cores", 1.0, 0.1, 128);
    spec.resources.memoryMb = size.integer("memory_mb", 512, 128, 512000);
    spec.resources.diskGb = size.integer("disk_gb", 10, 1, 10000);
    spec.resources.gpuCount = size.integer("gpu_count", 0, 0, 8);
    size.integer("gpu_memory_mb", 0, 0, Integer.MAX_VALUE);
    size.integer("network_bandwidth_mbps", 100, 1, Integer.MAX_VALUE);
    String taskType = body.string("task_type", "GENERAL", 32);
    try {
      spec.taskType = TaskType.valueOf(taskType.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw ApiException.invalid("field 'task_type' is not a task type: '" + taskType + "'");
    }
    return spec;
  }

  /** Volumes as docker-py gave them: {host: container} or {host: {"bind": c, "mode": m}}. */
  private static List<String> volumes(JsonBody body) {
    if (!body.has("volumes")) {
      return null;
    }
    List<String> volumes = new ArrayList<>();
    var fields = body.object("volumes").fields();
    while (fields.hasNext()) {
      var e = fields.next();
      String bind;
      if (e.getValue().isTextual()) {
        bind = e.getKey() + ":" + e.getValue().asText();
      } else if (e.getValue().isObject() && e.getValue().path("bind").isTextual()) {
        String mode = e.getValue().path("mode").asText("rw");
        bind = e.getKey() + ":" + e.getValue().path("bind").asText() + ":" + mode;
      } else {
        throw ApiException.invalid(
            "field 'volumes." + e.getKey() + "' must be a container path or {\"bind\", \"mode\"}");
      }
      if (!VOLUME.matcher(bind).matches()) {
        throw ApiException.invalid(
            "field 'volumes' entry '" + bind + "' is not host:/container[:ro|rw]");
      }
      volumes.add(bind);
    }
    return volumes.isEmpty() ? null : volumes;
  }

  /**
   * Creates {@code count} resources of one spec and waits until all run. The host is asked first,
   * within {@link #HOST_DEADLINE}: one that is down is refused with 503 and one that is silent with
   * 504, before anything is created. While waiting, a host found unavailable ends the wait at once.
   * Whatever goes wrong, including the wait running out or the thread being interrupted, the
   * resources this call created are removed again: all or nothing, as a legacy client expects of
   * one call, whether or not the client is still there to read the answer.
   */
  private List<ComputeResource> provision(LegacyType type, ComputeResourceSpec spec, int count)
      throws InterruptedException {
    Provider provider = null;
    if (type != LegacyType.POD) {
      requireInitialized();
      String backend = type == LegacyType.DOCKER ? "Docker" : "Proxmox";
      provider =
          infrastructure
              .provider(type.type)
              .orElseThrow(
                  () ->
                      ApiException.badRequest(
                          backend
                              + " is not initialized: POST "
                              + BASE
                              + "/initialize with enable_"
                              + backend.toLowerCase(Locale.ROOT)
                              + " first"));
      spec.providerRef = provider.getMetadata().getName();
      int max = ComputeHosts.maxResources(provider);
      long held =
          compute.list(infrastructure.namespace()).stream()
              .filter(r -> spec.providerRef.equals(r.getSpec().providerRef))
              .count();
      if (held + count > max) {
        throw ApiException.conflict(
            "provisioning "
                + count
                + " more would exceed max_resources "
                + max
                + " ("
                + held
                + " exist)");
      }
      requireAnswering(provider);
    }
    String batch = UUID.randomUUID().toString().substring(0, 8);
    List<String> names = new ArrayList<>();
    boolean done = false;
    try {
      for (int i = 0; i < count; i++) {
        names.add(
            compute
                .create(
                    infrastructure.namespace(),
                    type.namePrefix,
                    spec,
                    Map.of("vera.io/source", "legacy-infrastructure", "vera.io/batch", batch))
                .getMetadata()
                .getName());
      }
      List<ComputeResource> settled = new ArrayList<>();
      List<Failure> failures = new ArrayList<>();
      long until = System.nanoTime() + PROVISION_WAIT.toNanos();
      for (String name : names) {
        Duration left = Duration.ofNanos(Math.max(0, until - System.nanoTime()));
        ComputeResource r = compute.awaitSettled(infrastructure.namespace(), name, left);
        if (r != null && isRunning(r)) {
          settled.add(r);
          continue;
        }
        if (r != null && provider != null && ComputeService.hostUnavailable(r)) {
          requireAnswering(provider);
          throw ApiException.unavailable("provisioning failed: " + failure(r, name).message());
        }
        failures.add(
            r != null
                    && (r.getStatus() == null
                        || r.getStatus().phase != ComputeResourceStatus.Phase.Failed)
                ? new Failure(
                    "Timeout",
                    "not running after "
                        + PROVISION_WAIT.toSeconds()
                        + " s: "
                        + failure(r, name).message())
                : failure(r, name));
        break;
      }
      if (failures.isEmpty()) {
        done = true;
        return settled;
      }
      throw failureException(failures);
    } finally {
      if (!done) {
        for (String name : names) {
          compute.find(infrastructure.namespace(), name).ifPresent(compute::delete);
        }
      }
    }
  }

  /**
   * Refuses with 503 when the Provider's host is down and 504 when it does not answer within {@link
   * #HOST_DEADLINE}, naming the Provider and why.
   */
  private void requireAnswering(Provider provider) throws InterruptedException {
    HostReachability.Answer answer = compute.reachable(provider, HOST_DEADLINE);
    String name = provider.getMetadata().getName();
    switch (answer.verdict()) {
      case REACHABLE -> {}
      case UNREACHABLE ->
          throw ApiException.unavailable(
              "the host of Provider " + name + " is unreachable: " + answer.detail());
      case SILENT -> throw ApiException.timedOut(answer.detail());
    }
  }

  private static boolean isRunning(ComputeResource r) {
    return r.getStatus() != null
        && r.getStatus().resourceId != null
        && (r.getStatus().phase == ComputeResourceStatus.Phase.Available
            || r.getStatus().phase == ComputeResourceStatus.Phase.InUse);
  }

  /** Why a resource did not come up: its Ready condition's reason and message. */
  private record Failure(String reason, String message) {}

  private static Failure failure(ComputeResource r, String name) {
    if (r == null) {
      return new Failure("InvalidSpec", "resource " + name + " was deleted while provisioning");
    }
    Optional<Condition> ready =
        r.getStatus() == null
            ? Optional.empty()
            : r.getStatus().conditions.stream()
                .filter(c -> "Ready".equals(c.getType()))
                .findFirst();
    return new Failure(
        ready.map(Condition::getReason).orElse("Timeout"),
        ready.map(Condition::getMessage).orElse("the operator has not reported on it yet"));
  }

  private static ApiException failureException(List<Failure> failures) {
    Failure first = failures.get(0);
    String detail = "provisioning failed: " + first.message();
    return switch (first.reason()) {
      case "InvalidSpec", "Unsupported", "MachineFailed" -> ApiException.invalid(detail);
      case "QuotaExceeded" -> ApiException.conflict(detail);
      case "Timeout" -> ApiException.timedOut(detail);
      default -> ApiException.unavailable(detail);
    };
  }

  private static InfrastructureAnswers.Provisioned provisioned(
      ComputeResource resource, String message) {
    return new InfrastructureAnswers.Provisioned(
        resourceId(resource), LegacyType.of(resource.getSpec().type).legacyName, message);
  }

  // ---- reading -------------------------------------------------------------------------------

  private void list(Context ctx) {
    String status = ctx.queryParam("status");
    String type = ctx.queryParam("resource_type");
    if (status != null
        && !List.of(
                "provisioning", "available", "allocated", "in_use", "stopping", "stopped", "error")
            .contains(status)) {
      throw ApiException.invalid(
          "query 'status' must be one of provisioning, available, allocated, in_use, stopping, stopped, error");
    }
    LegacyType wanted = type == null ? null : LegacyType.parse("resource_type", type);
    requireInitialized();
    List<InfrastructureAnswers.Resource> items = new ArrayList<>();
    for (ComputeResource r : compute.list(infrastructure.namespace())) {
      if (wanted != null && r.getSpec().type != wanted.type) {
        continue;
      }
      if (status != null && !status.equals(legacyStatus(r))) {
        continue;
      }
      items.add(view(r));
    }
    ctx.json(items);
  }

  private void get(Context ctx) {
    ctx.json(view(resource(ctx)));
  }

  private void delete(Context ctx) {
    ComputeResource r = resource(ctx);
    if (r.getStatus() != null && r.getStatus().phase == ComputeResourceStatus.Phase.InUse) {
      throw ApiException.conflict(
          "resource " + resourceId(r) + " is running task " + r.getStatus().currentTask);
    }
    compute.delete(r);
    ctx.json(new InfrastructureAnswers.Removing(resourceId(r)));
  }

  private void execute(Context ctx) throws InterruptedException {
    ComputeResource r = resource(ctx);
    JsonBody body = JsonBody.of(ctx);
    String command = body.requireString("command", MAX_COMMAND_CHARS);
    if (command.isBlank()) {
      throw ApiException.invalid("field 'command' must not be blank");
    }
    String workdir = body.string("workdir", null, 4096);
    if (workdir != null && !workdir.startsWith("/")) {
      throw ApiException.invalid("field 'workdir' must be an absolute path");
    }
    Map<String, String> env = body.stringMap("environment", 256);
    int timeout = body.integer("timeout", 300, 1, 3600);
    ComputeResourceStatus.Phase phase = r.getStatus() == null ? null : r.getStatus().phase;
    if (phase != ComputeResourceStatus.Phase.Available
        && phase != ComputeResourceStatus.Phase.InUse) {
      throw ApiException.conflict(
          "resource " + resourceId(r) + " cannot run commands while it is " + legacyStatus(r));
    }
    ExecResult result;
    try {
      result =
          compute.exec(
              r,
              ExecRequest.shell(
                  command, workdir, env, Duration.ofSeconds(timeout), MAX_OUTPUT_BYTES),
              "exec-" + UUID.randomUUID());
    } catch (ComputeException e) {
      throw mapped(e);
    }
    ctx.json(
        new InfrastructureAnswers.Executed(
            result.exitCode() == 0 && !result.timedOut() ? "success" : "failed",
            result.exitCode(),
            result.stdout() + result.stderr(),
            result.stdout(),
            result.stderr(),
            result.timedOut(),
            result.stdoutTruncated() || result.stderrTruncated(),
            result.duration().toMillis()));
  }

  private void stats(Context ctx) {
    List<ComputeResource> all =
        infrastructure.initialized() ? compute.list(infrastructure.namespace()) : List.of();
    Capacity total = Capacity.NONE;
    Capacity available = Capacity.NONE;
    Map<String, Integer> counts = new LinkedHashMap<>();
    long tasks = 0;
    int containers = 0;
    int vms = 0;
    for (ComputeResource r : all) {
      counts.merge(legacyStatus(r), 1, Integer::sum);
      ComputeResourceStatus status = r.getStatus();
      if (status == null || status.resourceId == null) {
        continue;
      }
      Capacity capacity = Capacity.fromStatus(status.capacity);
      total = total.plus(capacity);
      if (status.phase == ComputeResourceStatus.Phase.Available) {
        available = available.plus(capacity);
      }
      tasks += status.totalTasks == null ? 0 : status.totalTasks;
      int made = 1 + (status.recreations == null ? 0 : status.recreations);
      if (r.getSpec().type == ComputeResourceSpec.Type.Docker) {
        containers += made;
      } else if (r.getSpec().type != ComputeResourceSpec.Type.Pod) {
        vms += made;
      }
    }
    ctx.json(
        new InfrastructureAnswers.Stats(
            infrastructure.initialized(),
            all.size(),
            counts.getOrDefault("available", 0),
            counts.getOrDefault("allocated", 0),
            counts.getOrDefault("in_use", 0),
            InfrastructureAnswers.Size.of(total),
            InfrastructureAnswers.Size.of(available),
            tasks,
            containers,
            vms));
  }

  private void resourceStats(Context ctx) {
    ComputeResource r = resource(ctx);
    MachineStats stats;
    try {
      stats = compute.stats(r);
    } catch (ComputeException e) {
      throw mapped(e);
    }
    ctx.json(
        new InfrastructureAnswers.ResourceStats(
            resourceId(r),
            stats.readAt().toEpochMilli() / 1000.0,
            stats.cpuPercent() < 0 ? null : stats.cpuPercent(),
            mb(stats.memoryUsageBytes()),
            mb(stats.memoryLimitBytes()),
            stats.memoryUsageBytes() < 0 || stats.memoryLimitBytes() <= 0
                ? null
                : 100.0 * stats.memoryUsageBytes() / stats.memoryLimitBytes(),
            stats.networkRxBytes() < 0 ? null : stats.networkRxBytes(),
            stats.networkTxBytes() < 0 ? null : stats.networkTxBytes()));
  }

  /**
   * Each configured host separately under {@code providers}; the layer is healthy (200) when any
   * configured host is, and 503 only when every one of them is down.
   */
  private void health(Context ctx) {
    Optional<Provider> docker = infrastructure.provider(ComputeResourceSpec.Type.Docker);
    Optional<Provider> proxmox = infrastructure.provider(ComputeResourceSpec.Type.ProxmoxVM);
    Map<String, InfrastructureAnswers.HostHealth> providers = new LinkedHashMap<>();
    List<String> down = new ArrayList<>();
    docker.ifPresent(p -> providers.put("docker", hostHealth(p, down, "docker")));
    proxmox.ifPresent(p -> providers.put("proxmox", hostHealth(p, down, "proxmox")));
    boolean healthy = providers.isEmpty() || down.size() < providers.size();
    ctx.status(healthy ? 200 : 503)
        .json(
            new InfrastructureAnswers.Health(
                healthy ? "healthy" : "unhealthy",
                healthy ? null : String.join("; ", down),
                !providers.isEmpty(),
                docker.filter(InfrastructureRoutes::ready).isPresent(),
                proxmox.filter(InfrastructureRoutes::ready).isPresent(),
                providers.isEmpty() ? 0 : compute.list(infrastructure.namespace()).size(),
                providers));
  }

  private static InfrastructureAnswers.HostHealth hostHealth(
      Provider p, List<String> down, String name) {
    if (ready(p)) {
      return new InfrastructureAnswers.HostHealth(p.getMetadata().getName(), true, null);
    }
    down.add(name + ": " + readyMessage(p));
    return new InfrastructureAnswers.HostHealth(p.getMetadata().getName(), false, readyMessage(p));
  }

  /** A Provider whose first probe has not run yet counts as up; only a failed probe is down. */
  private static boolean ready(Provider provider) {
    return provider.getStatus() == null
        || provider.getStatus().conditions.stream()
            .filter(c -> "Ready".equals(c.getType()))
            .allMatch(c -> "True".equals(c.getStatus()));
  }

  private static String readyMessage(Provider provider) {
    return provider.getStatus().conditions.stream()
        .filter(c -> "Ready".equals(c.getType()))
        .map(Condition::getMessage)
        .findFirst()
        .orElse("not ready");
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** The original answers 400 here: initializing is the client's missing step. */
  private void requireInitialized() {
    if (!infrastructure.initialized()) {
      throw ApiException.badRequest(
          "Infrastructure not initialized: POST " + BASE + "/initialize first");
    }
  }

  private ComputeResource resource(Context ctx) {
    String id = ctx.pathParam("resource_id");
    if (!RESOURCE_ID.matcher(id).matches()) {
      throw ApiException.notFound("resource " + id + " not found");
    }
    return compute
        .find(infrastructure.namespace(), id)
        .orElseThrow(() -> ApiException.notFound("resource " + id + " not found"));
  }

  private static ApiException mapped(ComputeException e) {
    return switch (e.reason()) {
      case NOT_FOUND -> ApiException.notFound(e.getMessage());
      case INVALID -> ApiException.invalid(e.getMessage());
      case UNSUPPORTED -> ApiException.conflict(e.getMessage());
      case UNAVAILABLE, FAILED -> ApiException.unavailable(e.getMessage());
    };
  }

  static String resourceId(ComputeResource r) {
    return r.getStatus() != null && r.getStatus().resourceId != null
        ? r.getStatus().resourceId
        : r.getMetadata().getName();
  }

  static String legacyStatus(ComputeResource r) {
    if (r.getMetadata().getDeletionTimestamp() != null) {
      return "stopping";
    }
    ComputeResourceStatus.Phase phase = r.getStatus() == null ? null : r.getStatus().phase;
    if (phase == null) {
      return "provisioning";
    }
    return switch (phase) {
      case Provisioning -> "provisioning";
      case Available -> "available";
      case Allocated -> "allocated";
      case InUse -> "in_use";
      case Stopping -> "stopping";
      case Failed -> "error";
    };
  }

  private static InfrastructureAnswers.Resource view(ComputeResource r) {
    ComputeResourceStatus status =
        r.getStatus() == null ? new ComputeResourceStatus() : r.getStatus();
    Map<String, String> applicable = new LinkedHashMap<>();
    if (r.getSpec().docker != null) {
      applicable.put("image", r.getSpec().docker.image);
    }
    if (r.getSpec().proxmox != null) {
      applicable.put("node", r.getSpec().proxmox.node);
    }
    status.conditions.stream()
        .filter(c -> "Ready".equals(c.getType()) && !"True".equals(c.getStatus()))
        .findFirst()
        .ifPresent(c -> applicable.put("error", c.getMessage()));
    return new InfrastructureAnswers.Resource(
        resourceId(r),
        LegacyType.of(r.getSpec().type).legacyName,
        legacyStatus(r),
        InfrastructureAnswers.Size.of(Capacity.of(r.getSpec().resources)),
        status.currentTask,
        status.totalTasks == null ? 0 : status.totalTasks,
        epoch(r.getMetadata().getCreationTimestamp()),
        epoch(status.lastUsedTime),
        new InfrastructureAnswers.Metadata(
            r.getMetadata().getName(),
            r.getMetadata().getNamespace(),
            r.getSpec().providerRef,
            status.machineId,
            status.address,
            r.getSpec().taskType == null ? "GENERAL" : r.getSpec().taskType.name(),
            applicable));
  }

  private static Double epoch(String time) {
    return time == null ? null : Instant.parse(time).toEpochMilli() / 1000.0;
  }

  private static Double mb(long bytes) {
    return bytes < 0 ? null : bytes / (1024.0 * 1024.0);
  }

  private void cleanup(Context ctx) {
    JsonBody body = JsonBody.of(ctx);
    int maxIdle = body.integer("max_idle_seconds", 300, 60, 3600);
    requireInitialized();
    List<ComputeResource> removed =
        compute.removeIdle(infrastructure.namespace(), Duration.ofSeconds(maxIdle));
    ctx.json(
        new InfrastructureAnswers.CleanedUp(
            removed.stream().map(InfrastructureRoutes::resourceId).toList()));
  }
}
