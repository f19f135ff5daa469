package io.vera.operator.api;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.crd.generator.annotation.PreserveUnknownFields;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import java.util.Map;

/** What a user asks of a {@link VeraTask}. Data only; the dispatcher interprets it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class VeraTaskSpec {
  @Size(min = 1, max = 253)
  @Pattern("^[A-Za-z0-9_.:/-]+$")
  @JsonPropertyDescription(
      "Name of the handler that runs this task, e.g. compute.sum (the legacy API's task name). Required unless resourceRef is set.")
  public String handler;

  @PreserveUnknownFields
  @JsonPropertyDescription("JSON input handed to the handler.")
  public JsonNode payload;

  @PreserveUnknownFields
  @JsonPropertyDescription("Free-form JSON context handed to the handler beside the payload.")
  public JsonNode context;

  @Size(max = 1024)
  @JsonPropertyDescription(
      "Free text for people, shown by the legacy API; at most 1024 characters.")
  public String description;

  @Default("normal")
  @JsonPropertyDescription(
      "critical, high, normal, low or background; served strictly in that order.")
  public TaskPriority priority;

  @JsonPropertyDescription(
      "Task type; defaults to the handler's own. Picks the pool when poolRef is not set.")
  public TaskType taskType;

  @JsonPropertyDescription("Name of the WorkerPool (same namespace) that runs this task.")
  public String poolRef;

  @JsonPropertyDescription("Run a command inside a ComputeResource instead of a handler.")
  public ResourceTarget resourceRef;

  @JsonPropertyDescription("Call a Provider (LLM, Lambda, RunPod, HTTP) instead of a handler.")
  public ProviderTarget providerRef;

  @Min(1)
  @Max(86400)
  @JsonPropertyDescription(
      "Run time limit; the handler is interrupted and the task fails with reason Timeout. Defaults to the handler's.")
  public Integer timeoutSeconds;

  @JsonPropertyDescription("Retry limit and backoff of failed attempts; defaults to the handler's.")
  public RetryPolicy retries;

  @Min(0)
  @JsonPropertyDescription("Delete the task this many seconds after it finished.")
  public Integer ttlSecondsAfterFinished;

  @JsonPropertyDescription("Set to true to cancel the task, queued or running.")
  public Boolean cancel;

  @JsonPropertyDescription("Labels the legacy API recorded with the task.")
  public Map<String, String> labels;

  public TaskPriority priorityOrDefault() {
    return priority == null ? TaskPriority.NORMAL : priority;
  }

  @JsonIgnore
  public boolean isCancelRequested() {
    return Boolean.TRUE.equals(cancel);
  }

  /** Retry limits and backoff of a task. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class RetryPolicy {
    @Min(0)
    @Max(100)
    @JsonPropertyDescription(
        "How many times a failed attempt is retried. Defaults to the handler's.")
    public Integer limit;

    @Min(0)
    @Max(3600)
    @Default("1")
    @JsonPropertyDescription("Delay before the first retry; doubles on each further retry.")
    public Integer backoffSeconds;

    @Min(0)
    @Max(86400)
    @Default("300")
    @JsonPropertyDescription("Upper bound of the doubling retry delay, in seconds (0-86400).")
    public Integer maxBackoffSeconds;
  }

  /** A command to run inside a ComputeResource. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ResourceTarget {
    @JsonPropertyDescription(
        "Name of the ComputeResource; empty to let the operator allocate one of the task type.")
    public String name;

    @Required
    @Size(min = 1)
    @JsonPropertyDescription(
        "Shell command run in the ComputeResource (docker exec, QEMU guest agent, or pod exec).")
    public String command;

    @JsonPropertyDescription(
        "Working directory of the command inside the machine; the image's default when empty.")
    public String workdir;

    @JsonPropertyDescription("Environment variables of the command, by name.")
    public Map<String, String> env;

    @JsonPropertyDescription(
        "Smallest machine that may run the command when the operator allocates one (name empty).")
    public ComputeResourceSpec.ResourceSpec minimum;
  }

  /** A call through a Provider. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ProviderTarget {
    @JsonPropertyDescription("Name of the Provider (same namespace) to call.")
    @Required
    public String name;

    @JsonPropertyDescription("Prompt of an LLM call, sent as one user message.")
    public String prompt;

    @JsonPropertyDescription("Model to call; the Provider's defaults.model when empty.")
    public String model;

    @JsonPropertyDescription(
        "Provider-specific JSON parameters (e.g. max_tokens, temperature, a Lambda's payload).")
    @PreserveUnknownFields
    public JsonNode params;
  }
}
