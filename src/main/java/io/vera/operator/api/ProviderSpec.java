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

  @JsonPropertyDescription(
      "The external system: OpenAI, Anthropic, Gemini, Lambda, RunPod, HTTP, Docker or Proxmox.")
  @Required
  public Type type;

  @JsonPropertyDescription("Base URL; each type has its public default.")
  public String endpoint;

  @JsonPropertyDescription("Region, for Lambda (AWS region, e.g. eu-west-1).")
  public String region;

  @JsonPropertyDescription("Secret in the same namespace holding the credentials.")
  public SecretRef credentialsSecretRef;

  @JsonPropertyDescription("Request defaults of LLM calls.")
  public Defaults defaults;

  @JsonPropertyDescription(
      "Model prices overriding the built-in table and the pricing ConfigMap, in USD per million tokens.")
  public List<ModelPrice> pricing;

  @JsonPropertyDescription("Rate, concurrency and spend limits of calls through this provider.")
  public Limits limits;

  @JsonPropertyDescription(
      "Public model names of the OpenAI-compatible gateway, each sending calls to LLM Providers of this namespace with weights and falling back to the next target on 429, 5xx, timeouts and connection errors before the first byte.")
  public List<Route> routes;

  @Min(1)
  @Max(3600)
  @Default("60")
  @JsonPropertyDescription("Deadline of one call, in seconds (1-3600).")
  public Integer timeoutSeconds;

  @Min(0)
  @Max(10)
  @Default("3")
  @JsonPropertyDescription(
      "Retries of a call that failed with a retryable error (429, 5xx, connection), with backoff (0-10).")
  public Integer retries;

  @JsonPropertyDescription("The Docker engine, for type Docker.")
  public DockerHost docker;

  @JsonPropertyDescription("The Proxmox VE cluster, for type Proxmox (endpoint is its API URL).")
  public ProxmoxCluster proxmox;

  @JsonPropertyDescription(
      "The endpoints callable through a provider of type HTTP; nothing else is reachable.")
  public List<HttpEndpoint> http;

  @JsonPropertyDescription("RunPod settings, for type RunPod.")
  public RunPod runpod;

  /** A Secret by name, with the keys to read from it. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class SecretRef {
    @JsonPropertyDescription("Name of the Secret in the Provider's namespace.")
    @Required
    public String name;

    @JsonPropertyDescription(
        "Secret keys of logical credentials (apiKey, accessKeyId, ...); a credential not listed is read from the key of its own name.")
    public Map<String, String> keys;
  }

  /** Request defaults for LLM providers. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Defaults {
    @JsonPropertyDescription("Model used when a call names none.")
    public String model;

    @Min(1)
    @Max(1000000)
    @JsonPropertyDescription("Most output tokens of a call when it sets none (1-1000000).")
    public Integer maxTokens;

    @Min(0)
    @Max(2)
    @JsonPropertyDescription("Sampling temperature of a call when it sets none (0-2).")
    public Double temperature;
  }

  /** USD per million tokens for one model, overriding the built-in table. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ModelPrice {
    @JsonPropertyDescription("Model name as the provider reports it.")
    @Required
    public String model;

    @Min(0)
    @JsonPropertyDescription("USD per million input tokens.")
    public Double inputPerMillion;

    @Min(0)
    @JsonPropertyDescription("USD per million output tokens.")
    public Double outputPerMillion;

    @Min(0)
    @JsonPropertyDescription("USD per million cached input tokens; the input price when unset.")
    public Double cachedInputPerMillion;

    @Min(0)
    @JsonPropertyDescription(
        "USD per million tokens written to the prompt cache (Anthropic); the input price when unset.")
    public Double cacheWritePerMillion;
  }

  /** Rate, concurrency and spend limits. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Limits {
    @Min(1)
    @JsonPropertyDescription(
        "Most calls per minute; a call beyond is refused as rate-limited (429) and retried after the window.")
    public Integer requestsPerMinute;

    @Min(1)
    @JsonPropertyDescription("Most tokens per minute, counted from each call's usage.")
    public Integer tokensPerMinute;

    @Min(1)
    @JsonPropertyDescription("Most calls in flight at once.")
    public Integer maxConcurrency;

    @Min(0)
    @JsonPropertyDescription(
        "Spend allowed per calendar month (UTC), in USD; calls are refused once it is reached.")
    public Double monthlyBudgetUsd;

    @Min(0)
    @JsonPropertyDescription(
        "Spend allowed per day (UTC), in USD; calls are refused once it is reached.")
    public Double dailyBudgetUsd;

    @JsonPropertyDescription(
        "Budget of each caller (Kubernetes user or ServiceAccount) of the OpenAI-compatible gateway on this provider.")
    public Budget perCaller;

    @JsonPropertyDescription(
        "Budget of each namespace (of the calling ServiceAccounts) of the OpenAI-compatible gateway on this provider.")
    public Budget perNamespace;

    @JsonPropertyDescription(
        "Budgets of named callers (e.g. system:serviceaccount:team-a:app), each in place of perCaller for that caller.")
    public List<NamedBudget> callers;

    @JsonPropertyDescription(
        "Budgets of named caller namespaces, each in place of perNamespace for that namespace.")
    public List<NamedBudget> namespaces;

    @JsonPropertyDescription(
        "Let OpenAI-compatible gateway calls to a model with no price through while monthlyBudgetUsd is set; their cost is unknown and not counted. Off by default: such a call is refused, since it would spend without limit.")
    public Boolean allowUnpricedCalls;
  }

  /** A public model name and the targets its calls go to. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Route {
    @Required
    @Pattern("^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
    @JsonPropertyDescription(
        "The model name callers send (no slash, so it never reads as <provider>/<model>).")
    public String name;

    @Required
    @JsonPropertyDescription(
        "Where calls go, in fallback order; the first target of a call is drawn by weight among the healthy ones.")
    public List<RouteTarget> targets;
  }

  /** One target of a route. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class RouteTarget {
    @Required
    @JsonPropertyDescription(
        "Name of an LLM Provider (OpenAI, Anthropic, Gemini) in this namespace.")
    public String provider;

    @Required
    @JsonPropertyDescription("The model as that Provider's upstream names it.")
    public String model;

    @Min(0)
    @Default("1")
    @JsonPropertyDescription(
        "Share of the calls that start at this target; 0 makes it a fallback only.")
    public Integer weight;
  }

  /** Spend allowed to each caller or namespace, per calendar month and per day (UTC). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Budget {
    @Min(0)
    @JsonPropertyDescription("USD per calendar month (UTC).")
    public Double monthlyUsd;

    @Min(0)
    @JsonPropertyDescription("USD per day (UTC).")
    public Double dailyUsd;
  }

  /** The budget of one named caller or namespace. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class NamedBudget extends Budget {
    @Required
    @JsonPropertyDescription(
        "The caller (Kubernetes user or ServiceAccount, as the gateway names it) or namespace.")
    public String name;
  }

  /** A Docker engine. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class DockerHost {
    @Default("unix:///var/run/docker.sock")
    @JsonPropertyDescription(
        "Docker engine address: unix:///path/docker.sock or tcp://host:2376 (with tlsSecretRef).")
    public String host;

    @JsonPropertyDescription(
        "Secret with the engine's CA (ca.crt) and the client certificate and key (tls.crt, tls.key) for a tcp:// engine.")
    public SecretRef tlsSecretRef;

    @Min(1)
    @Max(100)
    @Default("10")
    @JsonPropertyDescription("Most containers the operator keeps on this engine (1-100).")
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
    @JsonPropertyDescription("Image of auto-provisioned containers.")
    @Required
    public String image;

    @Default("none")
    @JsonPropertyDescription(
        "Docker network mode of auto-provisioned containers: none (default), bridge, host or a network name.")
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
    @JsonPropertyDescription(
        "Task type of the warm containers: LLM, WHISPER, TOOL, ML_MODEL, BACKGROUND or GENERAL.")
    public TaskType warmTaskType;
  }

  /** A Proxmox VE cluster. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ProxmoxCluster {
    @Default("true")
    @JsonPropertyDescription("Verify the API's TLS certificate (against caSecretRef when set).")
    public Boolean verifyTls;

    @JsonPropertyDescription("Secret with the CA certificate (ca.crt) of the Proxmox API.")
    public SecretRef caSecretRef;

    @JsonPropertyDescription(
        "VMIDs the operator may create and remove; machines outside it are never touched.")
    public VmidRange vmidRange;

    @JsonPropertyDescription("Proxmox resource pool new machines go into.")
    public String pool;

    @JsonPropertyDescription("Proxmox tags added to every machine the operator creates.")
    public List<String> tags;

    @Min(1)
    @Max(100)
    @Default("10")
    @JsonPropertyDescription("Most machines the operator keeps on this cluster (1-100).")
    public Integer maxResources;
  }

  /** The VMIDs the operator owns. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class VmidRange {
    @Required
    @Min(100)
    @JsonPropertyDescription("Lowest VMID the operator owns (100 or more).")
    public Integer min;

    @Required
    @Max(999999999)
    @JsonPropertyDescription("Highest VMID the operator owns.")
    public Integer max;
  }

  /** One callable HTTP endpoint; nothing else is reachable through an HTTP provider. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HttpEndpoint {
    @JsonPropertyDescription("Name a task uses to call this endpoint.")
    @Required
    public String name;

    @Default("POST")
    @JsonPropertyDescription("HTTP method: GET, POST, PUT, PATCH or DELETE.")
    public String method;

    @JsonPropertyDescription("Full URL of the endpoint (http or https).")
    @Required
    public String url;

    @JsonPropertyDescription(
        "Headers sent with every call; ${<key>} in a value is replaced by that key of credentialsSecretRef.")
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
