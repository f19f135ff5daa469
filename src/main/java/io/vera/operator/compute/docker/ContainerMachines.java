package io.vera.operator.compute.docker;

import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.model.ContainerNetwork;
import com.github.dockerjava.api.model.DeviceRequest;
import com.github.dockerjava.api.model.HostConfig;
import io.vera.operator.compute.Capacity;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.compute.ComputeLabels;
import io.vera.operator.compute.Machine;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a container is as a {@link Machine}: read from the engine's inspect (labels, state, address,
 * CPU, memory, disk and GPU limits), and the container id back from a Machine. No I/O.
 */
final class ContainerMachines {
  /** Prefix of the legacy API's resource ids. */
  static final String RESOURCE_ID_PREFIX = "docker-";

  private static final long MIB = 1024L * 1024L;

  /** A {@code StorageOpt.size} as Docker writes it: a whole number with a binary unit. */
  private static final Pattern STORAGE_SIZE =
      Pattern.compile("(?i)\\s*(\\d+)\\s*([kmgt]?)i?b?\\s*");

  private ContainerMachines() {}

  /** The machine a container is, from its inspect: owner labels, state, address, limits. */
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

  static String address(InspectContainerResponse inspect) {
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
        if (!blank(network.getIpAddress())) {
          return network.getIpAddress();
        }
      }
    }
    return !blank(settings.getIpAddress()) ? settings.getIpAddress() : null;
  }

  static String status(InspectContainerResponse inspect) {
    return inspect.getState() == null || inspect.getState().getStatus() == null
        ? "unknown"
        : inspect.getState().getStatus();
  }

  static String label(InspectContainerResponse inspect, String key) {
    return inspect.getConfig() == null || inspect.getConfig().getLabels() == null
        ? null
        : inspect.getConfig().getLabels().get(key);
  }

  static String containerId(Machine machine) throws ComputeException {
    if (machine == null) {
      throw new ComputeException(Reason.INVALID, "no machine given");
    }
    if (!blank(machine.nativeId())) {
      return machine.nativeId();
    }
    String resourceId = machine.resourceId();
    if (resourceId != null && resourceId.startsWith(RESOURCE_ID_PREFIX)) {
      return resourceId.substring(RESOURCE_ID_PREFIX.length());
    }
    throw new ComputeException(
        Reason.INVALID, "machine " + resourceId + " is not a Docker container");
  }

  private static boolean blank(String value) {
    return value == null || value.isBlank();
  }
}
