package io.vera.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.model.annotation.LabelSelector;
import io.fabric8.kubernetes.model.annotation.StatusReplicas;
import java.util.ArrayList;
import java.util.List;

/** What the operator observed of a {@link WorkerPool}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class WorkerPoolStatus {
  @JsonPropertyDescription("Workers the pool runs now (the /scale subresource reads it).")
  @StatusReplicas
  public Integer replicas;

  @JsonPropertyDescription("Workers ready to lease tasks.")
  public Integer readyReplicas;

  @JsonPropertyDescription(
      "Label selector of the worker pods, for the /scale subresource (HPA, KEDA).")
  @LabelSelector
  public String selector;

  @JsonPropertyDescription("Tasks waiting in the pool's queue.")
  public Integer queued;

  @JsonPropertyDescription("Tasks running on the pool's workers.")
  public Integer running;

  @JsonPropertyDescription("Tasks that succeeded in this pool, counted across operator restarts.")
  public Long succeeded;

  @JsonPropertyDescription("Tasks that failed in this pool, counted across operator restarts.")
  public Long failed;

  @JsonPropertyDescription("Age of the oldest queued task, in seconds; 0 with an empty queue.")
  public Long oldestQueuedAgeSeconds;

  @JsonPropertyDescription("Handler names the pool's workers offer.")
  public List<String> handlers = new ArrayList<>();

  @JsonPropertyDescription("When the autoscaler last changed the worker count (RFC 3339).")
  public String lastScaleTime;

  @JsonPropertyDescription("The metadata.generation this status describes.")
  public Long observedGeneration;

  @JsonPropertyDescription(
      "Ready (True when all workers are ready; False with reason WorkersStarting or Suspended) and Reconciling (True while workers start): type, status True/False/Unknown, reason, message, lastTransitionTime and observedGeneration.")
  public List<Condition> conditions = new ArrayList<>();
}
