package io.vera.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.model.annotation.LabelSelector;
import io.fabric8.kubernetes.model.annotation.StatusReplicas;
import java.util.ArrayList;
import java.util.List;

/** What the operator observed of a {@link WorkerPool}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class WorkerPoolStatus {
  @StatusReplicas public Integer replicas;
  public Integer readyReplicas;
  @LabelSelector public String selector;
  public Integer queued;
  public Integer running;
  public Long succeeded;
  public Long failed;
  public Long oldestQueuedAgeSeconds;
  public List<String> handlers = new ArrayList<>();
  public String lastScaleTime;
  public Long observedGeneration;
  public List<Condition> conditions = new ArrayList<>();
}
