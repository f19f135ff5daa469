package io.vera.operator.compute.docker;

import com.github.dockerjava.api.command.CreateContainerCmd;
import com.github.dockerjava.api.model.AccessMode;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.DeviceRequest;
import com.github.dockerjava.api.model.HostConfig;
import com.github.dockerjava.api.model.RestartPolicy;
import com.github.dockerjava.api.model.Volume;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.compute.ComputeLabels;
import io.vera.operator.compute.InstanceId;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A ComputeResource's container as the engine is asked for it, validated: name, labels, command,
 * environment, binds, restart policy, network, CPU/memory/disk/GPU limits and isolation
 * (unprivileged with {@code no-new-privileges} unless {@code spec.docker.privileged}). Pure
 * translation: it fills a create command and sends nothing.
 */
final class ContainerSpec {
  /** What a container runs when neither the spec nor the image names a command. */
  static final List<String> KEEP_ALIVE =
      List.of("/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done");

  /** An environment variable name the engine takes, for containers and execs alike. */
  static final Pattern ENV_NAME = Pattern.compile("[^=\\x00]+");

  private static final long MIB = 1024L * 1024L;
  private static final Pattern CONTAINER_PATH = Pattern.compile("/[^:\\x00]*");
  private static final Pattern NETWORK_MODE =
      Pattern.compile("none|host|bridge|container:[a-zA-Z0-9][a-zA-Z0-9_.-]*|[a-zA-Z0-9][\\w.-]*");

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

  private ContainerSpec(ComputeResource resource, InstanceId instance) throws ComputeException {
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
    containerName = containerName(namespace, name, uid, instance);
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

  static ContainerSpec of(ComputeResource resource, InstanceId instance) throws ComputeException {
    return new ContainerSpec(resource, instance);
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
          Reason.INVALID, "spec.docker.volumes entry '" + volume + "' must be host:container[:ro]");
    }
    String source = parts[0];
    String target = parts[1];
    if (!source.startsWith("/") || !CONTAINER_PATH.matcher(source).matches() || hasDotDot(source)) {
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

  /**
   * The container name of a resource, within Docker's {@code [a-zA-Z0-9][a-zA-Z0-9_.-]+}: its
   * namespace and name, then 8 hex digits of a hash of its UID and the installation. The
   * installation counts because embedded API servers give the same UIDs in every state directory:
   * two embedded operators on one engine would otherwise both name their first resource {@code
   * sandbox} {@code vera-default-sandbox-00000000}, and the second could not create it.
   */
  static String containerName(String namespace, String name, String uid, InstanceId instance) {
    String ns = sanitize(namespace);
    String n = sanitize(name);
    String shortUid;
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256")
              .digest((instance.value() + "/" + uid).getBytes(StandardCharsets.UTF_8));
      shortUid = HexFormat.of().formatHex(digest, 0, 4);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
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

  private static boolean blank(String value) {
    return value == null || value.isBlank();
  }
}
