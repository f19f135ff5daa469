package io.vera.operator.facade.legacy;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.List;
import java.util.Map;

/**
 * The answers of the legacy {@code /orchestrator} router as types, serialised by Jackson in
 * snake_case with their fields in declaration order: the wire contract of {@code docs/rest-api.md},
 * byte for byte ({@code OrchestratorAnswersTest} holds the exact text). A field the original sent
 * as {@code null} is a plain component; one it left out when empty is marked {@link
 * JsonInclude.Include#NON_NULL}.
 */
public final class OrchestratorAnswers {
  private OrchestratorAnswers() {}

  /** {@code POST /initialize}: the pool sizes by task type, in task type order. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Initialized(
      String status, String message, Map<String, Integer> workerPools, double cpuThreshold) {
    public Initialized(Map<String, Integer> workerPools, double cpuThreshold) {
      this("success", "Orchestrator initialized", workerPools, cpuThreshold);
    }
  }

  /** {@code POST /start} and {@code /stop}. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record RunningChanged(String status, String message, boolean running) {
    public RunningChanged(boolean running) {
      this("success", running ? "Orchestrator started" : "Orchestrator stopped", running);
    }
  }

  /** {@code POST /workers/scale}. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Scaled(String status, String taskType, int numWorkers, String pool) {
    public Scaled(String taskType, int numWorkers, String pool) {
      this("success", taskType, numWorkers, pool);
    }
  }

  /** One pool in {@code GET /workers/pools}; {@code cpu_threshold} is null when unset. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Pool(
      String name,
      String taskType,
      String runtime,
      int numWorkers,
      int currentWorkers,
      int readyWorkers,
      int concurrencyPerWorker,
      boolean suspended,
      Double cpuThreshold,
      int queueSize,
      int activeTasks,
      long completedTasks,
      long failedTasks,
      List<String> handlers) {}

  /** {@code GET /workers/pools}. */
  public record Pools(List<Pool> pools, int count) {
    public Pools(List<Pool> pools) {
      this(pools, pools.size());
    }
  }

  /**
   * {@code POST /tasks/submit}: {@code pool} is null while no pool takes the task, and {@code
   * pending_reason} says why, present only then.
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Submitted(
      String taskId,
      String status,
      String name,
      String priority,
      String taskType,
      String pool,
      @JsonInclude(JsonInclude.Include.NON_NULL) String pendingReason) {}

  /** {@code POST /tasks/{id}/cancel}. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Cancelled(String status, String taskId, String message) {
    public Cancelled(String taskId) {
      this("success", taskId, "Task cancelled");
    }
  }

  /** {@code POST /tasks/{id}/retry}: the copy's id and the original's. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Resubmitted(String status, String taskId, String retryOf, String message) {
    public Resubmitted(String taskId, String retryOf) {
      this("success", taskId, retryOf, "Task resubmitted");
    }
  }

  /** {@code GET /tasks/history}: a page of finished tasks in the legacy task shape. */
  public record HistoryPage(List<JsonNode> tasks, long total, int limit, int offset) {}

  /** {@code POST /tasks/history/query}. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record HistoryMatches(List<JsonNode> tasks, int count, long totalMatching) {
    public HistoryMatches(List<JsonNode> tasks, long totalMatching) {
      this(tasks, tasks.size(), totalMatching);
    }
  }

  /** {@code GET /tasks/active}. */
  public record Active(List<JsonNode> tasks, int count) {
    public Active(List<JsonNode> tasks) {
      this(tasks, tasks.size());
    }
  }

  /**
   * One queued task in {@code GET /tasks/queue/detailed}: its place in its pool's queue (1 leases
   * next); times are epoch seconds, {@code queued_at} null if unknown.
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Queued(
      String taskId,
      String name,
      String priority,
      String pool,
      int position,
      Double queuedAt,
      double waitSeconds) {}

  /** {@code GET /tasks/queue/detailed}: queued tasks by task type, in the order first seen. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record QueueDetail(Map<String, List<Queued>> queues, int totalQueued) {}

  /** A handler the operator itself runs, in {@code GET /tasks/registry}. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Handler(
      String name,
      String taskType,
      String priority,
      double estimatedDuration,
      int maxRetries,
      int timeout,
      boolean requiresGpu,
      double cpuCores,
      int memoryMb,
      List<String> labels,
      String description,
      String source) {}

  /** A handler only worker pods offer: the operator knows its name alone. */
  public record WorkerHandler(String name, String source) {
    public WorkerHandler(String name) {
      this(name, "worker");
    }
  }

  /** {@code GET /tasks/registry}: handlers by name, the operator's first. */
  public record Registry(Map<String, Object> tasks, int count) {
    public Registry(Map<String, Object> tasks) {
      this(tasks, tasks.size());
    }
  }

  /** {@code GET /status} (and the WebSocket's status updates) before any pool exists. */
  public record NotInitialized(boolean initialized, boolean running) {
    public NotInitialized() {
      this(false, false);
    }
  }

  /**
   * {@code GET /status}: totals over every pool, queue sizes and pool summaries by task type, the
   * task types in the order their first pool is listed.
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Status(
      boolean initialized,
      boolean running,
      int workerCount,
      int activeWorkers,
      int activeTasks,
      int queueSize,
      Map<String, Integer> queueSizes,
      Map<String, TypeSummary> workerPools) {}

  /** The pools of one task type in {@code GET /status}, summed. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record TypeSummary(
      String taskType,
      List<String> pools,
      int numWorkers,
      int currentWorkers,
      int activeWorkers,
      int queueSize,
      int idleWorkers) {

    /** The summary of a task type's pools. */
    public static TypeSummary of(String taskType, List<Pool> pools) {
      int current = pools.stream().mapToInt(Pool::currentWorkers).sum();
      int active = pools.stream().mapToInt(Pool::activeTasks).sum();
      return new TypeSummary(
          taskType,
          pools.stream().map(Pool::name).toList(),
          pools.stream().mapToInt(Pool::numWorkers).sum(),
          current,
          active,
          pools.stream().mapToInt(Pool::queueSize).sum(),
          Math.max(0, current - active));
    }
  }
}
