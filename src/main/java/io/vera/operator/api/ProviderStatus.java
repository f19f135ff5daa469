package io.vera.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

/** What the operator observed of a {@link Provider}: its probe and its usage totals. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ProviderStatus {
  public UsageTotals usage;

  /** For Docker and Proxmox providers: what the host offers, from the last probe. */
  public HostStatus host;

  public Long observedGeneration;
  public List<Condition> conditions = new ArrayList<>();

  /** Running totals over every call made through the provider. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class UsageTotals {
    public Long requests;
    public Long succeeded;
    public Long failed;
    public Long tokensIn;
    public Long tokensOut;
    public Double costUsd;
    public Double averageLatencyMs;
    public String lastRequestTime;

    /** The calendar month (UTC, {@code YYYY-MM}) that {@link #monthCostUsd} covers. */
    public String month;

    /** Spend so far in {@link #month}, checked against the monthly budget. */
    public Double monthCostUsd;
  }

  /** A Docker engine's or Proxmox cluster's version and capacity. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HostStatus {
    public String version;
    public Capacity capacity;

    /** Machines of this provider that ComputeResources hold now. */
    public Integer resources;

    public List<Node> nodes;
  }

  /** A cluster node with its total and free capacity. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Node {
    public String name;
    public Boolean online;
    public Capacity total;
    public Capacity free;
  }

  /** CPUs, memory, disk and GPUs. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Capacity {
    public Double cpuCores;
    public Long memoryMb;
    public Long diskGb;
    public Integer gpuCount;
  }
}
