package io.vera.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.crd.generator.annotation.PreserveUnknownFields;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

/** What the operator observed of a {@link VeraTask}. Written only by the operator. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class VeraTaskStatus {
  public TaskPhase phase;
  public String pool;
  public Integer attempts;
  public String worker;
  public String leaseId;
  public String leaseExpireTime;
  public String queuedTime;
  public String startTime;
  public String completionTime;
  public String nextRetryTime;

  @PreserveUnknownFields public JsonNode result;

  public TaskError error;
  public Usage usage;
  public Progress progress;
  public Long observedGeneration;
  public List<Condition> conditions = new ArrayList<>();

  /** Why a task attempt failed: a machine-readable type (e.g. Timeout) and a message for people. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class TaskError {
    public String type;
    public String message;

    public TaskError() {}

    public TaskError(String type, String message) {
      this.type = type;
      this.message = message;
    }
  }

  /** How far the running (or last) attempt said it got. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Progress {
    /** Whole percent done, 0 to 100. */
    public Integer percent;

    public String message;
    public String updateTime;
  }

  /** Tokens, cost and latency of a provider call. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Usage {
    public Long tokensIn;
    public Long tokensOut;
    public Double costUsd;
    public Double latencyMs;
  }
}
