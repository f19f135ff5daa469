package io.vera.operator.facade;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolStatus;
import io.vera.operator.handler.HandlerMetadata;
import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.pool.CpuSampler;
import io.vera.operator.pool.LegacyPools;
import io.vera.operator.task.PoolKey;
import io.vera.operator.task.TaskDispatcher;
import io.vera.operator.task.TaskHistory;
import io.vera.operator.task.TaskKey;
import io.vera.operator.task.TaskQueueView;
import io.vera.operator.task.TaskService;
import io.vera.operator.task.TaskSnapshot;
import io.vera.operator.worker.RemoteWorkers;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
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
  private final RemoteWorkers remoteWorkers;
  private final CpuSampler cpu;

  OrchestratorRoutes(
      TaskService tasks,
      TaskQueueView dispatcher,
      LegacyPools pools,
      HandlerRegistry handlers,
      RemoteWorkers remoteWorkers,
      CpuSampler cpu) {
    this.tasks = tasks;
    this.dispatcher = dispatcher;
    this.pools = pools;
    this.handlers = handlers;
    this.remoteWorkers = remoteWorkers;
    this.cpu = cpu;
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
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    response.put("status", "success");
    response.put("message", "Orchestrator initialized");
    ObjectNode sized = response.putObject("worker_pools");
    sizes.forEach((type, n) -> sized.put(type.name(), n));
    response.put("cpu_threshold", threshold);
    ctx.json(response);
  }

  private void startStop(Context ctx, boolean suspend) {
    if (pools.list().isEmpty()) {
      throw ApiException.conflict(
          "the orchestrator is not initialized: POST " + BASE + "/initialize first");
    }
    pools.setSuspended(suspend);
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    response.put("status", "success");
    response.put("message", suspend ? "Orchestrator stopped" : "Orchestrator started");
    response.put("running", !suspend);
    ctx.json(response);
  }

  ObjectNode status() {
    List<WorkerPool> all = pools.list();
    ObjectNode status = JsonBody.MAPPER.createObjectNode();
    if (all.isEmpty()) {
      status.put("initialized", false);
      status.put("running", false);
      return status;
    }
    int workers = 0;
    int active = 0;
    int queued = 0;
    boolean running = false;
    ObjectNode queueSizes = JsonBody.MAPPER.createObjectNode();
    ObjectNode byType = JsonBody.MAPPER.createObjectNode();
    for (WorkerPool pool : all) {
      ObjectNode view = poolView(pool);
      workers += view.get("num_workers").asInt();
      active += view.get("active_tasks").asInt();
      queued += view.get("queue_size").asInt();
      running |= !pool.getSpec().isSuspended();
      String type = pool.getSpec().taskType.name();
      queueSizes.put(type, queueSizes.path(type).asInt(0) + view.get("queue_size").asInt());
      ObjectNode typeView =
          byType.has(type) ? (ObjectNode) byType.get(type) : newTypeView(byType, type);
      add(typeView, "num_workers", view.get("num_workers").asInt());
      add(typeView, "current_workers", view.get("current_workers").asInt());
      add(typeView, "active_workers", view.get("active_tasks").asInt());
      add(typeView, "queue_size", view.get("queue_size").asInt());
      ((ArrayNode) typeView.get("pools")).add(pool.getMetadata().getName());
    }
    byType.forEach(
        v ->
            ((ObjectNode) v)
                .put(
                    "idle_workers",
                    Math.max(
                        0, v.get("current_workers").asInt() - v.get("active_workers").asInt())));
    status.put("initialized", true);
    status.put("running", running);
    status.put("worker_count", workers);
    status.put("active_workers", active);
    status.put("active_tasks", active);
    status.put("queue_size", queued);
    status.set("queue_sizes", queueSizes);
    status.set("worker_pools", byType);
    return status;
  }

  private static ObjectNode newTypeView(ObjectNode byType, String type) {
    ObjectNode view = byType.putObject(type);
    view.put("task_type", type);
    view.putArray("pools");
    return view;
  }

  private static void add(ObjectNode view, String field, int amount) {
    view.put(field, view.path(field).asInt(0) + amount);
  }

  private ObjectNode poolView(WorkerPool pool) {
    PoolKey key = new PoolKey(pool.getMetadata().getNamespace(), pool.getMetadata().getName());
    Optional<TaskDispatcher.PoolStats> stats = dispatcher.poolStats(key);
    WorkerPoolStatus status = pool.getStatus() == null ? new WorkerPoolStatus() : pool.getStatus();
    ObjectNode view = JsonBody.MAPPER.createObjectNode();
    view.put("name", pool.getMetadata().getName());
    view.put("task_type", pool.getSpec().taskType.name());
    view.put("runtime", pool.getSpec().runtimeOrDefault().name());
    view.put("num_workers", pool.getSpec().replicasOrDefault());
    view.put("current_workers", status.replicas == null ? 0 : status.replicas);
    view.put("ready_workers", status.readyReplicas == null ? 0 : status.readyReplicas);
    view.put("concurrency_per_worker", pool.getSpec().concurrencyOrDefault());
    view.put("suspended", pool.getSpec().isSuspended());
    if (pool.getSpec().cpuThresholdPercent == null) {
      view.putNull("cpu_threshold");
    } else {
      view.put("cpu_threshold", pool.getSpec().cpuThresholdPercent);
    }
    view.put("queue_size", stats.map(TaskDispatcher.PoolStats::queued).orElse(0));
    view.put("active_tasks", stats.map(TaskDispatcher.PoolStats::running).orElse(0));
    view.put("completed_tasks", stats.map(TaskDispatcher.PoolStats::succeeded).orElse(0L));
    view.put("failed_tasks", stats.map(TaskDispatcher.PoolStats::failed).orElse(0L));
    ArrayNode offered = view.putArray("handlers");
    status.handlers.forEach(offered::add);
    return view;
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
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    response.put("status", "success");
    response.put("task_type", type.name());
    response.put("num_workers", replicas);
    response.put("pool", pool.getMetadata().getName());
    ctx.json(response);
  }

  private void listPools(Context ctx) {
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    ArrayNode list = response.putArray("pools");
    pools.list().forEach(p -> list.add(poolView(p)));
    response.put("count", list.size());
    ctx.json(response);
  }

  // ---- tasks ---------------------------------------------------------------------------------

  private void submit(Context ctx) {
    JsonBody body = JsonBody.of(ctx);
    String name = body.requireString("name", 253);
    if (!HANDLER_NAME.matcher(name).matches()) {
      throw ApiException.invalid(
          "field 'name' may hold only letters, digits and _ . : / -, got '" + clip(name) + "'");
    }
    Optional<HandlerMetadata> meta = handlers.find(name).map(h -> h.metadata());
    if (meta.isEmpty() && !remoteWorkers.allHandlers().contains(name)) {
      throw ApiException.badRequest(
          "unknown task '"
              + clip(name)
              + "'; registered tasks: "
              + String.join(", ", registeredNames()));
    }
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.handler = name;
    if (meta.isEmpty()) {
      // Only worker pods offer it: send it to a pool whose workers do, unless the client chose.
      remoteWorkers.poolsOffering(name).stream()
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
                              + clip(priority)
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
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    response.put("task_id", key.name());
    response.put("status", task.phase().legacyName());
    response.put("name", name);
    response.put("priority", task.priority().wireName());
    response.put("task_type", task.taskType().name());
    response.put("pool", task.pool() == null ? null : task.pool().name());
    if (task.pendingReason() != null) {
      response.put("pending_reason", task.pendingReason());
    }
    ctx.json(response);
  }

  private void result(Context ctx) {
    TaskKey key = taskKey(ctx);
    double timeout = queryNumber(ctx, "timeout", 5, 0, MAX_RESULT_WAIT_SECONDS);
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
    TaskDispatcher.CancelOutcome outcome = tasks.cancel(key);
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
      default -> {
        ObjectNode response = JsonBody.MAPPER.createObjectNode();
        response.put("status", "success");
        response.put("task_id", key.name());
        response.put("message", "Task cancelled");
        ctx.json(response);
      }
    }
  }

  private void retry(Context ctx) {
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
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    response.put("status", "success");
    response.put("task_id", copy.name());
    response.put("retry_of", task.key().name());
    response.put("message", "Task resubmitted");
    ctx.json(response);
  }

  private void registry(Context ctx) {
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    ObjectNode list = response.putObject("tasks");
    for (HandlerRegistry.RegisteredHandler handler : handlers.all()) {
      HandlerMetadata m = handler.metadata();
      ObjectNode item = list.putObject(m.name());
      item.put("name", m.name());
      item.put("task_type", m.taskType().name());
      item.put("priority", m.priority().wireName());
      item.put("estimated_duration", m.estimatedDurationSeconds());
      item.put("max_retries", m.maxRetries());
      item.put("timeout", m.timeoutSeconds());
      item.put("requires_gpu", m.requiresGpu());
      item.put("cpu_cores", m.cpuCores());
      item.put("memory_mb", m.memoryMb());
      ArrayNode labels = item.putArray("labels");
      m.labels().forEach(labels::add);
      item.put("description", m.description());
      item.put("source", "operator");
    }
    for (String remote : remoteWorkers.allHandlers()) {
      if (!list.has(remote)) {
        ObjectNode item = list.putObject(remote);
        item.put("name", remote);
        item.put("source", "worker");
      }
    }
    response.put("count", list.size());
    ctx.json(response);
  }

  private void history(Context ctx) {
    int limit = (int) queryNumber(ctx, "limit", 50, 1, 1000);
    int offset = (int) queryNumber(ctx, "offset", 0, 0, MAX_HISTORY_OFFSET);
    TaskHistory.Page finished = tasks.history().finished(tasks.namespace(), offset, limit);
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    ArrayNode list = response.putArray("tasks");
    finished.tasks().forEach(t -> list.add(TaskViews.view(t)));
    response.put("total", finished.total());
    response.put("limit", limit);
    response.put("offset", offset);
    ctx.json(response);
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
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    ArrayNode list = response.putArray("tasks");
    matching.tasks().forEach(t -> list.add(TaskViews.view(t)));
    response.put("count", list.size());
    response.put("total_matching", matching.total());
    ctx.json(response);
  }

  private void active(Context ctx) {
    List<TaskSnapshot> running =
        dispatcher.unfinished(
            t -> t.phase() == TaskPhase.Running && t.key().namespace().equals(tasks.namespace()));
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    ArrayNode list = response.putArray("tasks");
    running.forEach(t -> list.add(TaskViews.view(t)));
    response.put("count", list.size());
    ctx.json(response);
  }

  private void queueDetailed(Context ctx) {
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    ObjectNode queues = response.putObject("queues");
    int total = 0;
    Instant now = Instant.now();
    for (PoolKey pool : dispatcher.pools()) {
      if (!pool.namespace().equals(tasks.namespace())) {
        continue;
      }
      List<TaskSnapshot> order = dispatcher.queueOrder(pool);
      int position = 0;
      for (TaskSnapshot task : order) {
        ArrayNode list =
            queues.has(task.taskType().name())
                ? (ArrayNode) queues.get(task.taskType().name())
                : queues.putArray(task.taskType().name());
        ObjectNode item = JsonBody.MAPPER.createObjectNode();
        item.put("task_id", task.key().name());
        item.put("name", task.handler());
        item.put("priority", task.priority().wireName());
        item.put("pool", pool.name());
        item.put("position", ++position);
        TaskViews.epoch(item, "queued_at", task.queuedAt());
        item.put(
            "wait_seconds",
            task.queuedAt() == null
                ? 0
                : Duration.between(task.queuedAt(), now).toMillis() / 1000.0);
        list.add(item);
        total++;
      }
    }
    response.put("total_queued", total);
    ctx.json(response);
  }

  private ObjectNode systemMetrics() {
    ObjectNode metrics = SystemInfo.machine(cpu.getAsDouble());
    int queued = 0;
    int running = 0;
    for (PoolKey pool : dispatcher.pools()) {
      if (!pool.namespace().equals(tasks.namespace())) {
        continue;
      }
      var stats = dispatcher.poolStats(pool);
      queued += stats.map(TaskDispatcher.PoolStats::queued).orElse(0);
      running += stats.map(TaskDispatcher.PoolStats::running).orElse(0);
    }
    metrics.put("queue_size", queued);
    metrics.put("active_tasks", running);
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    response.set("metrics", metrics);
    return response;
  }

  // ---- helpers -------------------------------------------------------------------------------

  private List<String> registeredNames() {
    List<String> names = new ArrayList<>(handlers.names());
    remoteWorkers.allHandlers().stream().filter(n -> !names.contains(n)).forEach(names::add);
    return names;
  }

  private TaskSnapshot existing(Context ctx) {
    TaskKey key = taskKey(ctx);
    return tasks
        .find(key)
        .orElseThrow(() -> ApiException.notFound("task " + key.name() + " not found"));
  }

  private TaskKey taskKey(Context ctx) {
    String id = ctx.pathParam("task_id");
    if (!TASK_ID.matcher(id).matches()) {
      throw ApiException.notFound("task " + clip(id) + " not found");
    }
    return tasks.key(id);
  }

  static TaskType taskType(String value) {
    return TaskType.parse(value)
        .orElseThrow(
            () ->
                ApiException.invalid(
                    "unknown task type '"
                        + clip(value)
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
            + clip(legacy)
            + "'; one of pending, queued, running, completed, failed, cancelled");
  }

  static double queryNumber(Context ctx, String name, double fallback, double min, double max) {
    String raw = ctx.queryParam(name);
    if (raw == null || raw.isBlank()) {
      return fallback;
    }
    double value;
    try {
      value = Double.parseDouble(raw);
    } catch (NumberFormatException e) {
      throw ApiException.invalid(
          "query parameter '" + name + "' must be a number, got '" + clip(raw) + "'");
    }
    if (!(value >= min && value <= max)) {
      throw ApiException.invalid(
          "query parameter '"
              + name
              + "' must be between "
              + (long) min
              + " and "
              + (long) max
              + ", got "
              + clip(raw));
    }
    return value;
  }

  private static double epoch(Instant time) {
    return time.getEpochSecond() + time.getNano() / 1e9;
  }

  static String clip(String text) {
    return text.length() > 64 ? text.substring(0, 64) + "…" : text;
  }
}
