package io.vera.operator.facade.legacy;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.vera.operator.compute.Capacity;
import java.util.List;
import java.util.Map;

/**
 * The answers of the legacy {@code /orchestrator/infrastructure} router as types, serialised by
 * Jackson in snake_case with their fields in declaration order: the wire contract of {@code
 * docs/rest-api.md}, byte for byte ({@code InfrastructureAnswersTest} and {@code
 * ProxmoxInfrastructureApiTest} hold the exact text). A field the original sent as {@code null} is
 * a plain component; one it left out when it did not apply is marked {@link
 * JsonInclude.Include#NON_NULL}.
 */
public final class InfrastructureAnswers {
  private InfrastructureAnswers() {}

  /**
   * {@code POST /initialize}: each configured host's readiness, under {@code docker}/{@code
   * proxmox}.
   */
  public record Initialized(String status, String message, Map<String, HostReadiness> providers) {
    public Initialized(String message, Map<String, HostReadiness> providers) {
      this("success", message, providers);
    }
  }

  /** One host in {@code POST /initialize}; {@code detail} is what its probe said. */
  public record HostReadiness(String provider, boolean ready, String detail) {}

  /** {@code POST /resources/docker/provision} and {@code /resources/proxmox/provision}. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Provisioned(String status, String resourceId, String resourceType, String message) {
    public Provisioned(String resourceId, String resourceType, String message) {
      this("success", resourceId, resourceType, message);
    }
  }

  /** {@code POST /resources/scale}. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Scaled(String status, int count, List<String> resourceIds, String message) {
    public Scaled(List<String> resourceIds, String message) {
      this("success", resourceIds.size(), resourceIds, message);
    }
  }

  /** {@code POST /resources/cleanup}: the idle resources removed. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record CleanedUp(String status, int count, List<String> resourceIds) {
    public CleanedUp(List<String> resourceIds) {
      this("success", resourceIds.size(), resourceIds);
    }
  }

  /** {@code DELETE /resources/{id}}. */
  public record Removing(String status, String message) {
    public Removing(String resourceId) {
      this("success", "resource " + resourceId + " is being removed");
    }
  }

  /** {@code POST /resources/{id}/execute}; {@code output} is stdout followed by stderr. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Executed(
      String status,
      int exitCode,
      String output,
      String stdout,
      String stderr,
      boolean timedOut,
      boolean truncated,
      long durationMs) {}

  /**
   * Cores, memory, disk and GPUs, as {@code spec} and the capacities of {@code stats} give them.
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Size(double cpuCores, long memoryMb, long diskGb, int gpuCount) {
    public static Size of(Capacity capacity) {
      return new Size(
          capacity.cpuCores(), capacity.memoryMb(), capacity.diskGb(), capacity.gpuCount());
    }
  }

  /** {@code GET /stats}. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Stats(
      boolean initialized,
      int totalResources,
      int availableResources,
      int allocatedResources,
      int inUseResources,
      Size totalCapacity,
      Size availableCapacity,
      long tasksExecuted,
      int containersCreated,
      int vmsCreated) {}

  /**
   * {@code GET /stats/resources/{id}}: times in epoch seconds; a figure the host does not report is
   * null.
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record ResourceStats(
      String resourceId,
      double timestamp,
      Double cpuPercent,
      Double memoryUsedMb,
      Double memoryLimitMb,
      Double memoryPercent,
      Long networkRxBytes,
      Long networkTxBytes) {}

  /**
   * {@code GET /health}: {@code detail} names the hosts that are down, present only when the layer
   * is unhealthy.
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Health(
      String status,
      @JsonInclude(JsonInclude.Include.NON_NULL) String detail,
      boolean initialized,
      boolean dockerAvailable,
      boolean proxmoxAvailable,
      int totalResources,
      Map<String, HostHealth> providers) {}

  /** One host in {@code GET /health}; {@code detail} is present only when it is down. */
  public record HostHealth(
      String provider, boolean healthy, @JsonInclude(JsonInclude.Include.NON_NULL) String detail) {}

  /**
   * A resource in {@code GET /resources} and {@code GET /resources/{id}}: times in epoch seconds,
   * null when not (yet) known.
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Resource(
      String resourceId,
      String resourceType,
      String status,
      Size spec,
      String currentTaskId,
      long totalTasks,
      Double createdAt,
      Double lastUsed,
      Metadata metadata) {}

  /**
   * A resource's {@code metadata}. After the fixed fields come {@code image} (Docker), {@code node}
   * (Proxmox) and {@code error} (its Ready condition's message while that is not True), each only
   * when it applies, in that order, and null when the resource holds no value for it: so they are a
   * map written after the fixed fields rather than components left out when null.
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Metadata(
      String name,
      String namespace,
      String provider,
      String machineId,
      String address,
      String taskType,
      @JsonAnyGetter Map<String, String> applicable) {}
}
