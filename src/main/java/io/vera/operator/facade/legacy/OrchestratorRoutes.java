package io.vera.operator.facade.legacy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolStatus;
import io.vera.operator.facade.ApiException;
import io.vera.operator.facade.JsonBody;
import io.vera.operator.facade.QueryParams;
import io.vera.operator.handler.HandlerMetadata;
import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.task.CancelOutcome;
import io.vera.operator.task.PoolKey;
import io.vera.operator.task.TaskHistory;
import io.vera.operator.task.TaskKey;
import io.vera.operator.task.TaskQueueView;
import io.vera.operator.task.TaskService;
import io.vera.operator.task.TaskSnapshot;
import io.vera.operator.worker.OfferedHandlers;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The legacy base router, {@code /orchestrator}: same paths, field names and shapes as the
 * original, translated onto resources. Submitting creates a VeraTask, status and pools read
 * WorkerPools, and scaling patches one.
 */
final class OrchestratorRoutes {
  static final String BASE = "/orchestrator";
  private static final Pattern TASK_ID = Pattern.compile("^[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?$");
  private static final Pattern HANDLER_NAME = Pattern.compile("^[A-Za-z0-9_.:/-]{1,253}$");
  private static final int MAX_RESULT_WAIT_SECONDS = 300;

  /**
   * How deep {@code tasks/history} pages by offset: each answer reads the history once and keeps
   * offset + limit tasks; deeper pages are a {@code history/query} with a time range.
   */
  private static final int MAX_HISTORY_OFFSET = 10_000;

  private final TaskService tasks;
  private final TaskQueueView dispatcher;
  private final LegacyPools pools;
  private final HandlerRegistry handlers;
  private final OfferedHandlers offered;
  private final DoubleSupplier cpuPercent;

  OrchestratorRoutes(
      TaskService tasks,
      TaskQueueView dispatcher,
      LegacyPools pools,
      HandlerRegistry handlers,
      OfferedHandlers offered,
      DoubleSupplier cpuPercent) {
    this.tasks = tasks;
    this.dispatcher = dispatcher;
    this.pools = pools;
    this.handlers = handlers;
    this.offered = offered;
    this.cpuPercent = cpuPercent;
  }

  void register(Javalin app) {
    app.post(BASE + "/initialize", this::initialize);
    app.post(BASE + "/start", ctx -> startStop(ctx, false));
    app.post(BASE + "/stop", ctx -> startStop(ctx, true));
    app.get(BASE + "/status", ctx -> ctx.json(status()));
    app.post(BASE + "/workers/scale", this::scale);
    app.get(BASE + "/workers/pools", this::listPools);
    app.post(BASE + "/tasks/submit", this::submit);
    app.get(BASE + "/tasks/result/{task_id}", this::result);
    app.get(BASE + "/tasks/registry", this::registry);
    app.get(BASE + "/tasks/history", this::history);
    app.post(BASE + "/tasks/history/query", this::historyQuery);
    app.get(BASE + "/tasks/active", this::active);
    app.get(BASE + "/tasks/queue/detailed", this::queueDetailed);
    app.get(BASE + "/tasks/{task_id}/status", ctx -> ctx.json(TaskViews.view(existing(ctx))));
    app.post(BASE + "/tasks/{task_id}/cancel", this::cancel);
    app.post(BASE + "/tasks/{task_id}/retry", this::retry);
    app.get(BASE + "/system/metrics", ctx -> ctx.json(systemMetrics()));
    app.get(BASE + "/system/processes", ctx -> ctx.json(SystemInfo.topProcesses(20)));
  }

  // ---- pools ---------------------------------------------------------------------------------

  private void initialize(Context ctx) {
    JsonBody body = JsonBody.of(ctx);
    Map<TaskType, Integer> sizes = new EnumMap<>(TaskType.class);
    for (TaskType type : TaskType.values()) {
      String field = type.name().toLowerCase() + "_workers";
      sizes.put(type, body.integer(field, LegacyPools.DEFAULT_SIZES.get(type), 0, 1000));
    }
    double threshold = body.number("cpu_threshold", 75.0, 0, 100);
    pools.initialize(sizes, threshold);
    Map<String, Integer> sized = new LinkedHashMap<>();
    sizes.forEach((type, n) -> sized.put(type.name(), n));
    ctx.json(new OrchestratorAnswers.Initialized(sized, threshold));
  }

  private void startStop(Context ctx, boolean suspend) {
    if (pools.list().isEmpty()) {
      throw ApiException.conflict(
          "the orchestrator is not initialized: POST " + BASE + "/initialize first");
    }
    pools.setSuspended(suspend);
    ctx.json(new OrchestratorAnswers.RunningChanged(!suspend));
  }

  /** The legacy status, as a tree: the WebSocket adds its timestamp to it. */
  ObjectNode status() {
    List<WorkerPool> all = pools.list();
    if (all.isEmpty()) {
      return JsonBody.MAPPER.valueToTree(new OrchestratorAnswers.NotInitialized());
    }
    int workers = 0;
    int active = 0;
    int queued = 0;
    boolean running = false;
    Map<String, Integer> queueSizes = new LinkedHashMap<>();
    Map<String, List<OrchestratorAnswers.Pool>> byType = new LinkedHashMap<>();
    for (WorkerPool pool : all) {
      OrchestratorAnswers.Pool view = poolView(pool);
      workers += view.numWorkers();
      active += view.activeTasks();
      queued += view.queueSize();
      running |= !pool.getSpec().isSuspended();
      queueSizes.merge(view.taskType(), view.queueSize(), Integer::sum);
      byType.computeIfAbsent(view.taskType(), t -> new ArrayList<>()).add(view);
    }
    Map<String, OrchestratorAnswers.TypeSummary> summaries = new LinkedHashMap<>();
    byType.forEach(
        (type, views) -> summaries.put(type, OrchestratorAnswers.TypeSummary.of(type, views)));
    return JsonBody.MAPPER.valueToTree(
        new OrchestratorAnswers.Status(
            true, running, workers, active, active, queued, queueSizes, summaries));
  }

  private OrchestratorAnswers.Pool poolView(WorkerPool pool) {
    PoolKey key = new PoolKey(pool.getMetadata().getNamespace(), pool.getMetadata().getName());
    Optional<TaskQueueView.PoolStats> stats = dispatcher.poolStats(key);
    WorkerPoolStatus status = pool.getStatus() == null ? new WorkerPoolStatus() : pool.getStatus();
    return new OrchestratorAnswers.Pool(
        pool.getMetadata().getName(),
        pool.getSpec().taskType.name(),
        pool.getSpec().runtimeOrDefault().name(),
        pool.getSpec().replicasOrDefault(),
        status.replicas == null ? 0 : status.replicas,
        status.readyReplicas == null ? 0 : status.readyReplicas,
        pool.getSpec().concurrencyOrDefault(),
        pool.getSpec().isSuspended(),
        pool.getSpec().cpuThresholdPercent,
        stats.map(TaskQueueView.PoolStats::queued).orElse(0),
        stats.map(TaskQueueView.PoolStats::running).orElse(0),
        stats.map(TaskQueueView.PoolStats::succeeded).orElse(0L),
        stats.map(TaskQueueView.PoolStats::failed).orElse(0L),
        new ArrayList<>(status.handlers));
  }

  private void scale(Context ctx) {
    JsonBody body = JsonBody.of(ctx);
    TaskType type = taskType(body.requireString("task_type", 32));
    if (!body.has("num_workers")) {
      throw ApiException.invalid("field 'num_workers' is required");
    }
    int replicas = body.integer("num_workers", 0, 0, 1000);
    WorkerPool pool =
        pools
            .scale(type, replicas)
            .orElseThrow(
                () ->
                    ApiException.notFound(
                        "no worker pool serves task type "
                            + type
                            + "; POST "
                            + BASE
                            + "/initialize creates them"));
    ctx.json(new OrchestratorAnswers.Scaled(type.name(), replicas, pool.getMetadata().getName()));
  }

  private void listPools(Context ctx) {
    ctx.json(new OrchestratorAnswers.Pools(pools.list().stream().map(this::poolView).toList()));
  }

  // ---- tasks ---------------------------------------------------------------------------------

  private void submit(Context ctx) {
    JsonBody body = JsonBody.of(ctx);
    String name = body.requireString("name", 253);
    if (!HANDLER_NAME.matcher(name).matches()) {
      throw ApiException.invalid(
          "field 'name' may hold only letters, digits and _ . : / -, got '"
              + ApiException.clip(name)
              + "'");
    }
    Optional<HandlerMetadata> meta = handlers.find(name).map(h -> h.metadata());
    if (meta.isEmpty() && !offered.allHandlers().contains(name)) {
      throw ApiException.badRequest(
          "unknown task '"
              + ApiException.clip(name)
              + "'; registered tasks: "
              + String.join(", ", registeredNames()));
    }
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.handler = name;
    if (meta.isEmpty()) {
      // Only worker pods offer it: send it to a pool whose workers do, unless the client chose.
      offered.poolsOffering(name).stream()
          .filter(p -> p.namespace().equals(tasks.namespace()))
          .findFirst()
          .ifPresent(p -> spec.poolRef = p.name());
    }
    JsonNode payload = body.raw("payload");
    spec.payload =
        payload == null || payload.isNull() ? JsonBody.MAPPER.createObjectNode() : payload;
    ObjectNode context = body.object("context");
    spec.context = context == null ? JsonBody.MAPPER.createObjectNode() : context;
    spec.description = body.string("description", null, 1024);
    String priority = body.string("priority", null, 32);
    if (priority != null) {
      spec.priority =
          TaskPriority.parse(priority)
              .orElseThrow(
                  () ->
                      ApiException.invalid(
                          "field 'priority' must be one of critical, high, normal, low, background; got '"
                              + ApiException.clip(priority)
                              + "'"));
    }
    String type = body.string("task_type", null, 32);
    if (type != null) {
      spec.taskType = taskType(type);
    }
    if (body.has("timeout")) {
      spec.timeoutSeconds = (int) Math.ceil(body.number("timeout", 300, 1, 86400));
    }
    if (body.has("max_retries")) {
      spec.retries = new VeraTaskSpec.RetryPolicy();
      spec.retries.limit = body.integer("max_retries", 3, 0, 100);
    }
    String pool = body.string("pool", null, 253);
    if (pool != null) {
      spec.poolRef = pool;
    }
    TaskKey key = tasks.submit(spec, Map.of());
    // A quick task may have finished and left the dispatcher already.
    TaskSnapshot task =
        tasks
            .find(key)
            .orElseThrow(() -> ApiException.notFound("task " + key.name() + " was deleted"));
    ctx.json(
        new OrchestratorAnswers.Submitted(
            key.name(),
            task.phase().legacyName(),
            name,
            task.priority().wireName(),
            task.taskType().name(),
            task.pool() == null ? null : task.pool().name(),
            task.pendingReason()));
  }

  private void result(Context ctx) {
    TaskKey key = taskKey(ctx);
    double timeout = QueryParams.number(ctx, "timeout", 5, 0, MAX_RESULT_WAIT_SECONDS);
    if (dispatcher.get(key).isEmpty()) {
      // Not in flight: finished (read from the API server) or unknown.
      TaskSnapshot done =
          tasks
              .find(key)
              .orElseThrow(() -> ApiException.notFound("task " + key.name() + " not found"));
      ctx.json(TaskViews.view(done));
      return;
    }
    ctx.future(
        () ->
            tasks
                .awaitFinished(key)
                .completeOnTimeout(null, (long) (timeout * 1000), TimeUnit.MILLISECONDS)
                .thenApply(
                    done -> {
                      TaskSnapshot latest = tasks.find(key).orElse(null);
                      if (latest == null) {
                        throw ApiException.notFound("task " + key.name() + " was deleted");
                      }
                      return TaskViews.view(latest);
                    })
                .thenAccept(ctx::json));
  }

  private void cancel(Context ctx) {
    TaskKey key = taskKey(ctx);
    CancelOutcome outcome = tasks.cancel(key);
    switch (outcome) {
      case NOT_FOUND -> throw ApiException.notFound("task " + key.name() + " not found");
      case ALREADY_FINISHED -> {
        TaskSnapshot task =
            tasks
                .find(key)
                .orElseThrow(() -> ApiException.notFound("task " + key.name() + " not found"));
        throw ApiException.conflict(
            "task " + key.name() + " already finished as " + task.phase().legacyName());
      }
      default -> ctx.json(new OrchestratorAnswers.Cancelled(key.name()));
    }
  }

  private void retry(Context ctx) throws InterruptedException {
    TaskSnapshot task = existing(ctx);
    if (task.phase() != TaskPhase.Failed && task.phase() != TaskPhase.Cancelled) {
      throw ApiException.conflict(
          "only failed or cancelled tasks can be retried; task "
              + task.key().name()
              + " is "
              + task.phase().legacyName());
    }
    TaskKey copy =
        tasks
            .resubmit(task.key())
            .orElseThrow(() -> ApiException.notFound("task " + task.key().name() + " not found"));
    ctx.json(new OrchestratorAnswers.Resubmitted(copy.name(), task.key().name()));
  }

  private void registry(Context ctx) {
    Map<String, Object> list = new LinkedHashMap<>();
    for (HandlerRegistry.RegisteredHandler handler : handlers.all()) {
      HandlerMetadata m = handler.metadata();
      list.put(
          m.name(),
          new OrchestratorAnswers.Handler(
              m.name(),
              m.taskType().name(),
              m.priority().wireName(),
              m.estimatedDurationSeconds(),
              m.maxRetries(),
              m.timeoutSeconds(),
              m.requiresGpu(),
              m.cpuCores(),
              m.memoryMb(),
              new ArrayList<>(m.labels()),
              m.description(),
              "operator"));
    }
    for (String remote : offered.allHandlers()) {
      list.putIfAbsent(remote, new OrchestratorAnswers.WorkerHandler(remote));
    }
    ctx.json(new OrchestratorAnswers.Registry(list));
  }

  private void history(Context ctx) {
    int limit = (int) QueryParams.number(ctx, "limit", 50, 1, 1000);
    int offset = (int) QueryParams.number(ctx, "offset", 0, 0, MAX_HISTORY_OFFSET);
    TaskHistory.Page finished = tasks.history().finished(tasks.namespace(), offset, limit);
    ctx.json(
        new OrchestratorAnswers.HistoryPage(
            taskViews(finished.tasks()), finished.total(), limit, offset));
  }

  private void historyQuery(Context ctx) {
    JsonBody body = JsonBody.of(ctx);
    Set<TaskPhase> states = new HashSet<>();
    for (String state : body.strings("status", 10, 32)) {
      states.add(phase(state));
    }
    Set<TaskType> types = new HashSet<>();
    for (String type : body.strings("task_type", 10, 32)) {
      types.add(taskType(type));
    }
    String name = body.string("task_name", null, 253);
    double start =
        body.number("start_time", Double.NEGATIVE_INFINITY, -Double.MAX_VALUE, Double.MAX_VALUE);
    double end =
        body.number("end_time", Double.POSITIVE_INFINITY, -Double.MAX_VALUE, Double.MAX_VALUE);
    int limit = body.integer("limit", 100, 1, 10_000);
    Predicate<TaskSnapshot> filter =
        t ->
            (states.isEmpty() || states.contains(t.phase()))
                && (types.isEmpty() || types.contains(t.taskType()))
                && (name == null || name.equals(t.handler()))
                && epoch(t.createdAt()) >= start
                && epoch(t.createdAt()) <= end;
    boolean finishedMayMatch = states.isEmpty() || states.stream().anyMatch(TaskPhase::isFinished);
    TaskHistory.Page matching =
        tasks.history().matching(tasks.namespace(), filter, finishedMayMatch, limit);
    ctx.json(new OrchestratorAnswers.HistoryMatches(taskViews(matching.tasks()), matching.total()));
  }

  private void active(Context ctx) {
    List<TaskSnapshot> running =
        dispatcher.unfinished(
            t -> t.phase() == TaskPhase.Running && t.key().namespace().equals(tasks.namespace()));
    ctx.json(new OrchestratorAnswers.Active(taskViews(running)));
  }

  private void queueDetailed(Context ctx) {
    Map<String, List<OrchestratorAnswers.Queued>> queues = new LinkedHashMap<>();
    int total = 0;
    Instant now = Instant.now();
    for (PoolKey pool : dispatcher.pools()) {
      if (!pool.namespace().equals(tasks.namespace())) {
        continue;
      }
      List<TaskSnapshot> order = dispatcher.queueOrder(pool);
      int position = 0;
      for (TaskSnapshot task : order) {
        queues
            .computeIfAbsent(task.taskType().name(), t -> new ArrayList<>())
            .add(
                new OrchestratorAnswers.Queued(
                    task.key().name(),
                    task.handler(),
                    task.priority().wireName(),
                    pool.name(),
                    ++position,
                    task.queuedAt() == null ? null : epoch(task.queuedAt()),
                    task.queuedAt() == null
                        ? 0
                        : Duration.between(task.queuedAt(), now).toMillis() / 1000.0));
        total++;
      }
    }
    ctx.json(new OrchestratorAnswers.QueueDetail(queues, total));
  }

  private ObjectNode systemMetrics() {
    ObjectNode metrics = SystemInfo.machine(cpuPercent.getAsDouble());
    int queued = 0;
    int running = 0;
    for (PoolKey pool : dispatcher.pools()) {
      if (!pool.namespace().equals(tasks.namespace())) {
        continue;
      }
      var stats = dispatcher.poolStats(pool);
      queued += stats.map(TaskQueueView.PoolStats::queued).orElse(0);
      running += stats.map(TaskQueueView.PoolStats::running).orElse(0);
    }
    metrics.put("queue_size", queued);
    metrics.put("active_tasks", running);
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    response.set("metrics", metrics);
    return response;
  }

  // ---- helpers -------------------------------------------------------------------------------

  private static List<JsonNode> taskViews(List<TaskSnapshot> tasks) {
    return tasks.stream().<JsonNode>map(TaskViews::view).toList();
  }

  private List<String> registeredNames() {
    List<String> names = new ArrayList<>(handlers.names());
    offered.allHandlers().stream().filter(n -> !names.contains(n)).forEach(names::add);
    return names;
  }

  /**
   * The task as stored, once an end the dispatcher knows is stored (briefly waited for): a client
   * told of the end by a WebSocket event, or that just cancelled it, reads that end.
   */
  private TaskSnapshot existing(Context ctx) throws InterruptedException {
    TaskKey key = taskKey(ctx);
    return tasks
        .findSettled(key)
        .orElseThrow(() -> ApiException.notFound("task " + key.name() + " not found"));
  }

  private TaskKey taskKey(Context ctx) {
    String id = ctx.pathParam("task_id");
    if (!TASK_ID.matcher(id).matches()) {
      throw ApiException.notFound("task " + ApiException.clip(id) + " not found");
    }
    return tasks.key(id);
  }

  static TaskType taskType(String value) {
    return TaskType.parse(value)
        .orElseThrow(
            () ->
                ApiException.invalid(
                    "unknown task type '"
                        + ApiException.clip(value)
                        + "'; one of LLM, WHISPER, TOOL, ML_MODEL, BACKGROUND, GENERAL"));
  }

  private static TaskPhase phase(String legacy) {
    for (TaskPhase phase : TaskPhase.values()) {
      if (phase.legacyName().equalsIgnoreCase(legacy) || phase.name().equalsIgnoreCase(legacy)) {
        return phase;
      }
    }
    throw ApiException.invalid(
        "unknown status '"
            + ApiException.clip(legacy)
            + "'; one of pending, queued, running, completed, failed, cancelled");
  }

  private static double epoch(Instant time) {
    return time.getEpochSecond() + time.getNano() / 1e9;
  }
}
