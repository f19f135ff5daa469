package io.vera.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

/** What the operator observed of a {@link ComputeResource}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ComputeResourceStatus {
  /** Where a resource is in its life. */
  public enum Phase {
    Provisioning,
    Available,
    Allocated,
    InUse,
    Stopping,
    Failed
  }

  @JsonPropertyDescription(
      "Where the machine is: Provisioning, Available, Allocated, InUse, Stopping or Failed.")
  public Phase phase;

  @JsonPropertyDescription("The legacy API's id: docker-<id>, proxmox-<node>-<vmid> or pod-<name>.")
  public String resourceId;

  /** The host's own id: Docker container id, {@code <node>/<vmid>}, pod name. */
  @JsonPropertyDescription(
      "The host's own id of the machine: Docker container id, <node>/<vmid>, pod name.")
  public String machineId;

  @JsonPropertyDescription("Address the machine is reached at (IP or host name), when it has one.")
  public String address;

  /** What the machine was given, read back from the host. */
  @JsonPropertyDescription("What the machine was given, read back from the host.")
  public ProviderStatus.Capacity capacity;

  /** When the machine was first seen running. */
  @JsonPropertyDescription("When the machine was first seen running (RFC 3339).")
  public String readyTime;

  /** Number of times the machine was lost behind the operator's back and recreated. */
  @JsonPropertyDescription("Times the machine was lost behind the operator's back and recreated.")
  public Integer recreations;

  @JsonPropertyDescription("Name of the VeraTask running in the machine now.")
  public String currentTask;

  @JsonPropertyDescription("Tasks run in the machine so far.")
  public Long totalTasks;

  @JsonPropertyDescription(
      "When the machine last finished a task (RFC 3339); idleTimeoutSeconds counts from here.")
  public String lastUsedTime;

  @JsonPropertyDescription("The metadata.generation this status describes.")
  public Long observedGeneration;

  @JsonPropertyDescription(
      "Ready (True when the machine runs; False with the reason of a failure), Reconciling (True while provisioning), Stalled (True when the machine failed), DiskLimited and others: type, status True/False/Unknown, reason, message, lastTransitionTime and observedGeneration.")
  public List<Condition> conditions = new ArrayList<>();
}
