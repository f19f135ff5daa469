package io.vera.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import java.util.List;
import java.util.Map;

/** Desired connection of a {@link Provider}. Credentials live only in the named Secret. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ProviderSpec {
  /** The external systems Vera talks to. */
  public enum Type {
    OpenAI,
    Anthropic,
    Gemini,
    Lambda,
    RunPod,
    HTTP,
    Docker,
    Proxmox
  }

  @Required public Type type;

  @JsonPropertyDescription("Base URL; each type has its public default.")
  public String endpoint;

  public String region;

  @JsonPropertyDescription("Secret in the same namespace holding the credentials.")
  public SecretRef credentialsSecretRef;

  public Defaults defaults;
  public List<ModelPrice> pricing;
  public Limits limits;

  @Min(1)
  @Max(3600)
  @Default("60")
  public Integer timeoutSeconds;

  @Min(0)
  @Max(10)
  @Default("3")
  public Integer retries;

  public DockerHost docker;
  public ProxmoxCluster proxmox;
  public List<HttpEndpoint> http;
  public RunPod runpod;

  /** A Secret by name, with the keys to read from it. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class SecretRef {
    @Required public String name;
    public Map<String, String> keys;
  }

  /** Request defaults for LLM providers. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Defaults {
    public String model;

    @Min(1)
    @Max(1000000)
    public Integer maxTokens;

    @Min(0)
    @Max(2)
    public Double temperature;
  }

  /** USD per million tokens for one model, overriding the built-in table. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ModelPrice {
    @Required public String model;

    @Min(0)
    public Double inputPerMillion;

    @Min(0)
    public Double outputPerMillion;

    @Min(0)
    public Double cachedInputPerMillion;

    @Min(0)
    public Double cacheWritePerMillion;
  }

  /** Rate, concurrency and spend limits. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Limits {
    @Min(1)
    public Integer requestsPerMinute;

    @Min(1)
    public Integer tokensPerMinute;

    @Min(1)
    public Integer maxConcurrency;

    @Min(0)
    public Double monthlyBudgetUsd;

    @JsonPropertyDescription(
        "Let OpenAI-compatible gateway calls to a model with no price through while monthlyBudgetUsd is set; their cost is unknown and not counted. Off by default: such a call is refused, since it would spend without limit.")
    public Boolean allowUnpricedCalls;
  }

  /** A Docker engine. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class DockerHost {
    @Default("unix:///var/run/docker.sock")
    public String host;

    public SecretRef tlsSecretRef;

    @Min(1)
    @Max(100)
    @Default("10")
    public Integer maxResources;

    @JsonPropertyDescription(
        "Create containers from this template when resource tasks of a type wait and no resource fits them, up to maxResources.")
    public AutoProvision autoProvision;

    @Default("BestEffort")
    @JsonPropertyDescription(
        "Whether a resource's diskGb must be enforced. Docker caps a container's disk only on some storage drivers (overlay2 on xfs with pquota, btrfs, zfs); BestEffort runs the container without the cap elsewhere and says so in the DiskLimited condition, Required refuses it.")
    public DiskLimit diskLimit;
  }

  /** What to do with {@code resources.diskGb} on an engine that cannot cap container disk size. */
  public enum DiskLimit {
    BestEffort,
    Required
  }

  /** The container the operator creates for waiting resource tasks. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class AutoProvision {
    @Required public String image;

    @Default("none")
    public String networkMode;

    @JsonPropertyDescription("Size of a new container; a task's resourceRef.minimum raises it.")
    public ComputeResourceSpec.ResourceSpec resources;

    @Min(0)
    @Default("300")
    @JsonPropertyDescription("Idle time after which an auto-provisioned container is removed.")
    public Integer idleTimeoutSeconds;

    @Min(0)
    @Max(20)
    @Default("0")
    @JsonPropertyDescription(
        "Containers kept idle and ready for resource tasks of warmTaskType, so such a task does not wait for a provision; counted against maxResources.")
    public Integer warm;

    @Default("GENERAL")
    public TaskType warmTaskType;
  }

  /** A Proxmox VE cluster. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ProxmoxCluster {
    @Default("true")
    public Boolean verifyTls;

    public SecretRef caSecretRef;
    public VmidRange vmidRange;
    public String pool;
    public List<String> tags;

    @Min(1)
    @Max(100)
    @Default("10")
    public Integer maxResources;
  }

  /** The VMIDs the operator owns. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class VmidRange {
    @Required
    @Min(100)
    public Integer min;

    @Required
    @Max(999999999)
    public Integer max;
  }

  /** One callable HTTP endpoint; nothing else is reachable through an HTTP provider. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HttpEndpoint {
    @Required public String name;

    @Default("POST")
    public String method;

    @Required public String url;
    public Map<String, String> headers;
  }

  /** RunPod serverless endpoints: which one the Ready probe reads, and what execution costs. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class RunPod {
    @Pattern("^[A-Za-z0-9_-]{1,128}$")
    @JsonPropertyDescription(
        "Endpoint whose health the Ready probe reads; without one the probe only checks that the API key is set.")
    public String probeEndpointId;

    @Min(0)
    @JsonPropertyDescription(
        "USD per second of execution time of an endpoint that endpointCostPerSecondUsd does not name.")
    public Double costPerSecondUsd;

    @JsonPropertyDescription(
        "USD per second of execution time by endpoint id; wins over costPerSecondUsd and over a request's usd_per_second.")
    public Map<String, Double> endpointCostPerSecondUsd;
  }
}
