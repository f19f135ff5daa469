package io.vera.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

/** What the operator observed of a {@link Provider}: its probe and its usage totals. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ProviderStatus {
  @JsonPropertyDescription(
      "Running totals of calls through the provider; they survive operator restarts.")
  public UsageTotals usage;

  /** For Docker and Proxmox providers: what the host offers, from the last probe. */
  @JsonPropertyDescription(
      "For Docker and Proxmox providers: what the host offers, from the last probe.")
  public HostStatus host;

  @JsonPropertyDescription("The metadata.generation this status describes.")
  public Long observedGeneration;

  @JsonPropertyDescription(
      "Ready (True when the last probe passed; False with reason CredentialsMissing, InvalidSpec or ProbeFailed), Stalled (True while Ready is False, with the same reason) and, for a Docker provider with docker.autoProvision, AutoProvisioning (False with reason BackingOff while a container it made failed to start and the next one waits, 30 s doubling to 10 min; True once one starts or the template changes): type, status True/False/Unknown, reason, message, lastTransitionTime and observedGeneration.")
  public List<Condition> conditions = new ArrayList<>();

  /** Running totals over every call made through the provider. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class UsageTotals {
    @JsonPropertyDescription("Calls made.")
    public Long requests;

    @JsonPropertyDescription("Calls that succeeded.")
    public Long succeeded;

    @JsonPropertyDescription("Calls that failed.")
    public Long failed;

    @JsonPropertyDescription("Input tokens over all calls.")
    public Long tokensIn;

    @JsonPropertyDescription("Output tokens over all calls.")
    public Long tokensOut;

    @JsonPropertyDescription("Cost over all calls, in USD.")
    public Double costUsd;

    @JsonPropertyDescription("Mean call latency, in milliseconds.")
    public Double averageLatencyMs;

    @JsonPropertyDescription("When the last call was made (RFC 3339).")
    public String lastRequestTime;

    /** The calendar month (UTC, {@code YYYY-MM}) that {@link #monthCostUsd} covers. */
    @JsonPropertyDescription("The calendar month (UTC, YYYY-MM) that monthCostUsd covers.")
    public String month;

    /** Spend so far in {@link #month}, checked against the monthly budget. */
    @JsonPropertyDescription(
        "Spend so far in month, in USD, checked against limits.monthlyBudgetUsd.")
    public Double monthCostUsd;

    @JsonPropertyDescription("The day (UTC, YYYY-MM-DD) that dayCostUsd covers.")
    public String day;

    @JsonPropertyDescription("Spend so far in day, in USD, checked against limits.dailyBudgetUsd.")
    public Double dayCostUsd;

    @JsonPropertyDescription("Spend of each caller of the OpenAI-compatible gateway.")
    public List<Spend> callers;

    @JsonPropertyDescription("Spend of each namespace of the gateway's calling ServiceAccounts.")
    public List<Spend> namespaces;

    @JsonPropertyDescription("Spend of each end user the callers named in OpenAI's user field.")
    public List<Spend> endUsers;

    @JsonPropertyDescription(
        "Calls, tokens and spend per UTC day and model, for this month and the previous one (at"
            + " most 20 models a day; later ones are summed as model (other)).")
    public List<DayUsage> days;
  }

  /** One model's calls on one UTC day. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class DayUsage {
    @JsonPropertyDescription("The day (UTC, YYYY-MM-DD).")
    public String day;

    @JsonPropertyDescription(
        "The model asked for (the Provider's default when the call named none).")
    public String model;

    @JsonPropertyDescription("Calls made.")
    public Long requests;

    @JsonPropertyDescription("Calls that failed.")
    public Long failed;

    @JsonPropertyDescription("Input tokens.")
    public Long tokensIn;

    @JsonPropertyDescription("Output tokens.")
    public Long tokensOut;

    @JsonPropertyDescription("Cost in USD, summed exactly as a decimal (to 10 decimal places).")
    public BigDecimal costUsd;
  }

  /** Spend of one caller, namespace or end user. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Spend {
    @JsonPropertyDescription("The caller, namespace or end user.")
    public String name;

    @JsonPropertyDescription("The caller's namespace (ServiceAccounts).")
    public String namespace;

    @JsonPropertyDescription("For an end user: the caller that named it.")
    public String caller;

    @JsonPropertyDescription("Calls made.")
    public Long requests;

    @JsonPropertyDescription("Cost over all calls, in USD.")
    public Double costUsd;

    @JsonPropertyDescription("The calendar month (UTC, YYYY-MM) that monthCostUsd covers.")
    public String month;

    @JsonPropertyDescription("Spend in month, in USD.")
    public Double monthCostUsd;

    @JsonPropertyDescription("The day (UTC, YYYY-MM-DD) that dayCostUsd covers.")
    public String day;

    @JsonPropertyDescription("Spend in day, in USD.")
    public Double dayCostUsd;
  }

  /** A Docker engine's or Proxmox cluster's version and capacity. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HostStatus {
    @JsonPropertyDescription("Version of the Docker engine or Proxmox VE.")
    public String version;

    @JsonPropertyDescription("Total capacity of the host (all nodes).")
    public Capacity capacity;

    /** Machines of this provider that ComputeResources hold now. */
    @JsonPropertyDescription("Machines of this provider that ComputeResources hold now.")
    public Integer resources;

    @JsonPropertyDescription("The cluster's nodes (Proxmox).")
    public List<Node> nodes;
  }

  /** A cluster node with its total and free capacity. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Node {
    @JsonPropertyDescription("Node name.")
    public String name;

    @JsonPropertyDescription("Whether the node answers.")
    public Boolean online;

    @JsonPropertyDescription("The node's total capacity.")
    public Capacity total;

    @JsonPropertyDescription("The node's free capacity.")
    public Capacity free;
  }

  /** CPUs, memory, disk and GPUs. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Capacity {
    @JsonPropertyDescription("CPU cores.")
    public Double cpuCores;

    @JsonPropertyDescription("Memory in MiB.")
    public Long memoryMb;

    @JsonPropertyDescription("Disk in GiB.")
    public Long diskGb;

    @JsonPropertyDescription("GPUs.")
    public Integer gpuCount;
  }
}
