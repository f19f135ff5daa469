package io.vera.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.crd.generator.annotation.PreserveUnknownFields;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

/** What the operator observed of a {@link VeraTask}. Written only by the operator. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class VeraTaskStatus {
  @JsonPropertyDescription(
      "Where the task is: Pending (no pool yet), Queued, Running, Succeeded, Failed or Cancelled.")
  public TaskPhase phase;

  @JsonPropertyDescription("The WorkerPool the task was queued in.")
  public String pool;

  @JsonPropertyDescription("Attempts started so far, the running one included.")
  public Integer attempts;

  @JsonPropertyDescription("Id of the worker running (or that ran) the last attempt.")
  public String worker;

  @JsonPropertyDescription(
      "Id of the running attempt's lease; a worker renews it until the attempt ends.")
  public String leaseId;

  @JsonPropertyDescription(
      "When the running attempt's lease runs out unless renewed (RFC 3339); the task is then queued again.")
  public String leaseExpireTime;

  @JsonPropertyDescription("When the task entered its pool's queue (RFC 3339).")
  public String queuedTime;

  @JsonPropertyDescription("When the first attempt started (RFC 3339).")
  public String startTime;

  @JsonPropertyDescription("When the task reached Succeeded, Failed or Cancelled (RFC 3339).")
  public String completionTime;

  @JsonPropertyDescription(
      "When a failed attempt is retried (RFC 3339), while waiting for its backoff.")
  public String nextRetryTime;

  @JsonPropertyDescription(
      "Run time from startTime to completionTime as kubectl prints durations (45s, 3m12s, 2h5m); set once the task finished.")
  public String duration;

  @JsonPropertyDescription(
      "The handler's JSON result, at most the operator's --max-result-bytes (default 262144 bytes).")
  @PreserveUnknownFields
  public JsonNode result;

  @JsonPropertyDescription("Why the last attempt failed.")
  public TaskError error;

  @JsonPropertyDescription("Tokens, cost and latency of a provider call (providerRef tasks).")
  public Usage usage;

  @JsonPropertyDescription(
      "How far a running attempt has got, as its handler reports it (at most one write a second).")
  public Progress progress;

  @JsonPropertyDescription("The metadata.generation this status describes.")
  public Long observedGeneration;

  @JsonPropertyDescription(
      "Ready (True once Succeeded), Reconciling (True while pending, queued or running), Stalled (True once Failed or Cancelled) and Succeeded (True, or False with reason Failed/Cancelled/<error type> once finished): type, status True/False/Unknown, reason, message, lastTransitionTime and observedGeneration, per the Kubernetes conventions.")
  public List<Condition> conditions = new ArrayList<>();

  /** Why a task attempt failed: a machine-readable type (e.g. Timeout) and a message for people. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class TaskError {
    @JsonPropertyDescription(
        "Machine-readable kind of failure, e.g. Timeout, HandlerError, UnknownHandler, InvalidInput, LeaseExpired, ResultTooLarge, CommandFailed, ProviderError, Cancelled.")
    public String type;

    @JsonPropertyDescription("What went wrong, for people; never holds a secret.")
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
    @JsonPropertyDescription("Whole percent done, 0 to 100.")
    public Integer percent;

    @JsonPropertyDescription("What the handler is doing now, in its own words.")
    public String message;

    @JsonPropertyDescription("When the handler last reported progress (RFC 3339).")
    public String updateTime;
  }

  /** Tokens, cost and latency of a provider call. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Usage {
    @JsonPropertyDescription("Input (prompt) tokens the provider counted.")
    public Long tokensIn;

    @JsonPropertyDescription("Output (completion) tokens the provider counted.")
    public Long tokensOut;

    @JsonPropertyDescription("Cost of the call in USD, from the model's price per million tokens.")
    public Double costUsd;

    @JsonPropertyDescription("Time the call took, in milliseconds.")
    public Double latencyMs;
  }
}
