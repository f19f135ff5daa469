package io.vera.operator.api;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.model.annotation.SpecReplicas;
import java.util.List;
import java.util.Map;

/** Desired shape of a {@link WorkerPool}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class WorkerPoolSpec {
  /** Where a pool's workers run. */
  public enum Runtime {
    Pods,
    Embedded
  }

  @JsonPropertyDescription(
      "The task type this pool runs: LLM, WHISPER, TOOL, ML_MODEL, BACKGROUND or GENERAL.")
  @Required
  public TaskType taskType;

  @SpecReplicas
  @Min(0)
  @Max(1000)
  @Default("1")
  @JsonPropertyDescription(
      "Number of workers when autoscaling is off; the /scale subresource writes it.")
  public Integer replicas;

  @Default("Pods")
  @JsonPropertyDescription(
      "Pods: a Deployment of worker pods that lease tasks over HTTP; Embedded: worker threads inside the operator.")
  public Runtime runtime;

  @Min(1)
  @Max(256)
  @Default("1")
  @JsonPropertyDescription("Tasks each worker runs at once.")
  public Integer concurrencyPerWorker;

  @JsonPropertyDescription(
      "Size the pool from its queue between minReplicas and maxReplicas; replicas is then ignored.")
  public Autoscaling autoscaling;

  @Min(0)
  @Max(100)
  @JsonPropertyDescription(
      "Leasing pauses while the operator's CPU use is at or above this percent; 100 never pauses.")
  public Double cpuThresholdPercent;

  @JsonPropertyDescription("When true, workers take no new tasks; running tasks finish.")
  public Boolean suspend;

  @Min(5)
  @Max(3600)
  @Default("30")
  @JsonPropertyDescription(
      "How long a lease lasts without renewal before the task is queued again.")
  public Integer leaseSeconds;

  @JsonPropertyDescription("Worker pod settings for the Pods runtime.")
  public WorkerTemplate template;

  public int replicasOrDefault() {
    return replicas == null ? 1 : replicas;
  }

  public Runtime runtimeOrDefault() {
    return runtime == null ? Runtime.Pods : runtime;
  }

  public int concurrencyOrDefault() {
    return concurrencyPerWorker == null ? 1 : concurrencyPerWorker;
  }

  public int leaseSecondsOrDefault() {
    return leaseSeconds == null ? 30 : leaseSeconds;
  }

  @JsonIgnore
  public boolean isSuspended() {
    return Boolean.TRUE.equals(suspend);
  }

  /** Queue-driven sizing between min and max workers. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Autoscaling {
    @Default("false")
    @JsonPropertyDescription("Turns queue-driven sizing on.")
    public Boolean enabled;

    @Min(0)
    @Default("0")
    @JsonPropertyDescription("Fewest workers; 0 lets an idle pool scale to zero.")
    public Integer minReplicas;

    @Required
    @Min(1)
    @Max(1000)
    @JsonPropertyDescription("Most workers (1-1000).")
    public Integer maxReplicas;

    @Min(1)
    @Default("1")
    @JsonPropertyDescription("Queued plus running tasks one worker should carry.")
    public Integer targetTasksPerWorker;

    @Min(0)
    @Default("60")
    @JsonPropertyDescription(
        "How long the queue must justify fewer workers before the pool shrinks.")
    public Integer scaleDownDelaySeconds;
  }

  /** The part of the worker pod template a user sets. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class WorkerTemplate {
    @JsonPropertyDescription("Worker image; the operator's own image (--worker-image) when empty.")
    public String image;

    @JsonPropertyDescription("Always, IfNotPresent or Never; the Kubernetes default when empty.")
    public String imagePullPolicy;

    @JsonPropertyDescription("CPU and memory requests and limits of each worker container.")
    public ResourceRequirements resources;

    @JsonPropertyDescription("Extra environment variables of each worker container.")
    public List<EnvVar> env;

    @JsonPropertyDescription("Node labels the worker pods must match.")
    public Map<String, String> nodeSelector;

    @JsonPropertyDescription("Tolerations of the worker pods.")
    public List<Toleration> tolerations;

    @JsonPropertyDescription(
        "ServiceAccount of the worker pods; needs the lease verb on workerpools. The operator's --worker-service-account when empty.")
    public String serviceAccountName;

    @JsonPropertyDescription(
        "Run worker pods in the node's network namespace: only for clusters without a pod network.")
    public Boolean hostNetwork;
  }
}
