package io.vera.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
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

  public Phase phase;
  public String resourceId;

  /** The host's own id: Docker container id, {@code <node>/<vmid>}, pod name. */
  public String machineId;

  public String address;

  /** What the machine was given, read back from the host. */
  public ProviderStatus.Capacity capacity;

  /** When the machine was first seen running. */
  public String readyTime;

  /** Number of times the machine was lost behind the operator's back and recreated. */
  public Integer recreations;

  public String currentTask;
  public Long totalTasks;
  public String lastUsedTime;
  public Long observedGeneration;
  public List<Condition> conditions = new ArrayList<>();
}
