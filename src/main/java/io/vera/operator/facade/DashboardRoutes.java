package io.vera.operator.facade;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Event;
import io.javalin.Javalin;
import io.javalin.http.ContentType;
import io.javalin.http.Context;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderStatus;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolStatus;
import io.vera.operator.compute.ComputeService;
import io.vera.operator.facade.auth.RestGuard;
import io.vera.operator.facade.auth.RouteAccess;
import io.vera.operator.facade.legacy.LegacyPools;
import io.vera.operator.facade.legacy.LegacyProviders;
import io.vera.operator.facade.legacy.TaskViews;
import io.vera.operator.provider.ProviderGateway;
import io.vera.operator.provider.ProviderKey;
import io.vera.operator.provider.UsageLedger;
import io.vera.operator.task.PoolKey;
import io.vera.operator.task.TaskKey;
import io.vera.operator.task.TaskQuery;
import io.vera.operator.task.TaskQueueView;
import io.vera.operator.task.TaskService;
import io.vera.operator.task.TaskSnapshot;
import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.DoubleSupplier;
import java.util.regex.Pattern;

/**
 * The dashboard, {@code /ui}: its page and files (bundled in the jar, nothing loaded from
 * elsewhere) and the JSON it reads, shaped for people rather than for the legacy clients. What it
 * changes (cancel, retry, provision, delete) goes through the REST routes, so the same checks
 * apply; {@code /ui/api/permissions} tells the page which of them the caller may use, so it hides
 * what would be refused. Live updates come from the legacy WebSocket {@code ws/updates}.
 */
final class DashboardRoutes implements AutoCloseable {
  static final String PAGE = "/ui";
  static final String ASSETS = "/ui/assets/";
  static final String API = "/ui/api";
  private static final String RESOURCE_ROOT = "ui/";
  private static final Pattern ASSET_NAME = Pattern.compile("^[a-z0-9][a-z0-9.-]{0,80}$");
  private static final Pattern TASK_ID = Pattern.compile("^[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?$");
  private static final int MAX_PAGE = 500;
  private static final Duration RATE_WINDOW = Duration.ofMinutes(5);

  private final TaskService tasks;
  private final TaskQueueView dispatcher;

  /**
   * How deep the task table pages by offset: each page reads the matching tasks once and keeps
   * offset + limit of them; deeper rows are reached by sorting the other way or filtering.
   */
  private static final int MAX_OFFSET = 10_000;

  private final TaskQuery query;
  private final LegacyPools pools;
  private final DoubleSupplier cpu;
  private final ComputeService compute;
  private final LegacyProviders providers;
  private final UsageLedger usage;
  private final ProviderGateway gateway;
  private final RestGuard guard;
  private final DashboardSamples samples;
  private final Clock clock;
  private final Map<String, byte[]> assets = new HashMap<>();

  DashboardRoutes(FacadeServer.Services services, TaskQuery query, RestGuard guard, Clock clock) {
    this.tasks = services.tasks();
    this.dispatcher = services.queues();
    this.query = query;
    this.pools = services.pools();
    this.cpu = services.cpuPercent();
    this.compute = services.compute();
    this.providers = services.providers();
    this.usage = services.usage();
    this.gateway = services.gateway();
    this.guard = guard;
    this.samples = new DashboardSamples(dispatcher, clock);
    this.clock = clock;
    // Read the finished tasks into their index now rather than on the first page.
    tasks.history().prepare(tasks.namespace());
  }

  void register(Javalin app) {
    app.get(PAGE, ctx -> asset(ctx, "index.html"));
    app.get(ASSETS + "{file}", ctx -> asset(ctx, ctx.pathParam("file")));
    app.get(API + "/permissions", this::permissions);
    app.get(API + "/overview", ctx -> ctx.json(overview()));
    app.get(API + "/series", ctx -> ctx.json(series()));
    app.get(API + "/tasks", this::taskPage);
    app.get(API + "/tasks/{task_id}", this::taskDetail);
    app.get(API + "/queue", ctx -> ctx.json(queue()));
    app.get(API + "/compute", ctx -> ctx.json(computeResources()));
    app.get(API + "/providers", ctx -> ctx.json(providerList()));
  }

  // ---- the page ------------------------------------------------------------------------------

  private void asset(Context ctx, String name) throws IOException {
    byte[] body = ASSET_NAME.matcher(name).matches() ? load(name) : null;
    if (body == null) {
      ctx.status(404).json(Map.of("detail", "the dashboard has no file named '" + name + "'"));
      return;
    }
    String extension = name.substring(name.lastIndexOf('.') + 1);
    String type =
        switch (extension) {
          case "js" -> "text/javascript; charset=utf-8";
          case "css" -> "text/css; charset=utf-8";
          case "html" -> "text/html; charset=utf-8";
          case "svg" -> "image/svg+xml";
          default -> {
            String known = ContentType.getMimeTypeByExtension(extension);
            yield known == null ? ContentType.OCTET_STREAM : known;
          }
        };
    // The page may load only its own files: no request leaves for another origin.
    ctx.header(
            "Content-Security-Policy",
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self';"
                + " script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
        .header("X-Content-Type-Options", "nosniff")
        .header("Cache-Control", "no-cache")
        .contentType(type)
        .result(body);
  }

  private byte[] load(String name) throws IOException {
    synchronized (assets) {
      byte[] cached = assets.get(name);
      if (cached != null) {
        return cached;
      }
      try (InputStream in =
          DashboardRoutes.class.getClassLoader().getResourceAsStream(RESOURCE_ROOT + name)) {
        if (in == null) {
          return null;
        }
        byte[] body = in.readAllBytes();
        assets.put(name, body);
        return body;
      }
    }
  }

  // ---- who may do what -----------------------------------------------------------------------

  private void permissions(Context ctx) {
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    response.put("auth", guard.authEnabled());
    response.put("user", RestGuard.identity(ctx).map(i -> i.username()).orElse(null));
    response.put("namespace", tasks.namespace());
    ObjectNode can = response.putObject("can");
    can.put("cancel_tasks", guard.allows(ctx, "patch", RouteAccess.TASKS));
    can.put("create_tasks", guard.allows(ctx, "create", RouteAccess.TASKS));
    can.put("list_pools", guard.allows(ctx, "list", RouteAccess.POOLS));
    can.put("list_resources", guard.allows(ctx, "list", RouteAccess.RESOURCES));
    can.put("create_resources", guard.allows(ctx, "create", RouteAccess.RESOURCES));
    can.put("delete_resources", guard.allows(ctx, "delete", RouteAccess.RESOURCES));
    can.put("list_providers", guard.allows(ctx, "list", RouteAccess.PROVIDERS));
    ctx.json(response);
  }

  // ---- overview ------------------------------------------------------------------------------

  ObjectNode overview() {
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    double cpuPercent = cpu.getAsDouble();
    response.put("cpu_percent", round(cpuPercent));
    ArrayNode list = response.putArray("pools");
    int queued = 0;
    int running = 0;
    long succeeded = 0;
    long failed = 0;
    Set<PoolKey> shown = new HashSet<>();
    for (WorkerPool pool : pools.list()) {
      PoolKey key = new PoolKey(pool.getMetadata().getNamespace(), pool.getMetadata().getName());
      shown.add(key);
      ObjectNode view = poolView(key, dispatcher.poolStats(key));
      WorkerPoolStatus status =
          pool.getStatus() == null ? new WorkerPoolStatus() : pool.getStatus();
      view.put("kind", "WorkerPool");
      view.put("task_type", pool.getSpec().taskType.name());
      view.put("runtime", pool.getSpec().runtimeOrDefault().name());
      view.put("replicas", pool.getSpec().replicasOrDefault());
      view.put("current", status.replicas == null ? 0 : status.replicas);
      view.put("ready", status.readyReplicas == null ? 0 : status.readyReplicas);
      view.put("concurrency", pool.getSpec().concurrencyOrDefault());
      view.put("suspended", pool.getSpec().isSuspended());
      Double threshold = pool.getSpec().cpuThresholdPercent;
      if (threshold == null) {
        view.putNull("cpu_threshold");
      } else {
        view.put("cpu_threshold", threshold);
      }
      view.put("cpu_gated", cpuGated(threshold, cpuPercent));
      list.add(view);
    }
    for (PoolKey key : dispatcher.pools()) {
      if (!shown.contains(key) && key.namespace().equals(tasks.namespace())) {
        ObjectNode view = poolView(key, dispatcher.poolStats(key));
        view.put("kind", key.isProvider() ? "Provider" : key.isCompute() ? "Compute" : "Queue");
        list.add(view);
      }
    }
    for (var node : list) {
      queued += node.path("queued").asInt();
      running += node.path("running").asInt();
      succeeded += node.path("succeeded").asLong();
      failed += node.path("failed").asLong();
    }
    ObjectNode totals = response.putObject("totals");
    totals.put("queued", queued);
    totals.put("running", running);
    totals.put("succeeded", succeeded);
    totals.put("failed", failed);
    TaskViews.epoch(response, "timestamp", Instant.now());
    return response;
  }

  private ObjectNode poolView(PoolKey key, Optional<TaskQueueView.PoolStats> stats) {
    ObjectNode view = JsonBody.MAPPER.createObjectNode();
    view.put("name", key.name());
    view.put("queued", stats.map(TaskQueueView.PoolStats::queued).orElse(0));
    view.put("running", stats.map(TaskQueueView.PoolStats::running).orElse(0));
    view.put("succeeded", stats.map(TaskQueueView.PoolStats::succeeded).orElse(0L));
    view.put("failed", stats.map(TaskQueueView.PoolStats::failed).orElse(0L));
    Long oldest = stats.map(TaskQueueView.PoolStats::oldestQueuedAgeSeconds).orElse(null);
    if (oldest == null) {
      view.putNull("oldest_queued_seconds");
    } else {
      view.put("oldest_queued_seconds", oldest);
    }
    double[] rates = samples.ratesPerMinute(key, RATE_WINDOW);
    view.put("succeeded_per_minute", round(rates[0]));
    view.put("failed_per_minute", round(rates[1]));
    return view;
  }

  private static boolean cpuGated(Double threshold, double cpuPercent) {
    return threshold != null && threshold < 100 && cpuPercent >= threshold;
  }

  ObjectNode series() {
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    response.put("interval_seconds", DashboardSamples.INTERVAL.toSeconds());
    ArrayNode times = response.putArray("t");
    ArrayNode queued = response.putArray("queued");
    ArrayNode running = response.putArray("running");
    ArrayNode finished = response.putArray("finished_per_minute");
    List<DashboardSamples.Sample> all = samples.all();
    long previousDone = -1;
    Instant previousAt = null;
    for (DashboardSamples.Sample sample : all) {
      int q = 0;
      int r = 0;
      long done = 0;
      for (var entry : sample.pools().entrySet()) {
        if (entry.getKey().namespace().equals(tasks.namespace())) {
          q += entry.getValue().queued();
          r += entry.getValue().running();
          done += entry.getValue().succeeded() + entry.getValue().failed();
        }
      }
      times.add(sample.at().getEpochSecond());
      queued.add(q);
      running.add(r);
      if (previousAt == null) {
        finished.addNull();
      } else {
        double minutes = Duration.between(previousAt, sample.at()).toMillis() / 60_000.0;
        finished.add(minutes <= 0 ? 0 : round(Math.max(0, done - previousDone) / minutes));
      }
      previousDone = done;
      previousAt = sample.at();
    }
    return response;
  }

  // ---- tasks ---------------------------------------------------------------------------------

  private void taskPage(Context ctx) {
    Set<TaskPhase> phases = new HashSet<>();
    String states = ctx.queryParam("state");
    if (states != null && !states.isBlank()) {
      for (String state : states.split(",")) {
        phases.add(phase(state.trim()));
      }
    }
    String priorityName = blankToNull(ctx.queryParam("priority"));
    TaskPriority priority =
        priorityName == null
            ? null
            : TaskPriority.parse(priorityName)
                .orElseThrow(
                    () ->
                        ApiException.invalid(
                            "query parameter 'priority' must be one of critical, high, normal,"
                                + " low, background; got '"
                                + ApiException.clip(priorityName)
                                + "'"));
    String sortName = Optional.ofNullable(blankToNull(ctx.queryParam("sort"))).orElse("created");
    TaskQuery.Sort sort =
        TaskQuery.Sort.parse(sortName)
            .orElseThrow(
                () ->
                    ApiException.invalid(
                        "query parameter 'sort' must be one of created, completed, handler,"
                            + " phase, priority, duration; got '"
                            + ApiException.clip(sortName)
                            + "'"));
    String order = Optional.ofNullable(blankToNull(ctx.queryParam("order"))).orElse("desc");
    if (!order.equals("asc") && !order.equals("desc")) {
      throw ApiException.invalid(
          "query parameter 'order' must be asc or desc; got '" + ApiException.clip(order) + "'");
    }
    int limit = (int) QueryParams.number(ctx, "limit", 50, 1, MAX_PAGE);
    int offset = (int) QueryParams.number(ctx, "offset", 0, 0, MAX_OFFSET);
    String text = blankToNull(ctx.queryParam("q"));
    if (text != null && text.length() > 253) {
      throw ApiException.invalid("query parameter 'q' may be at most 253 characters");
    }
    TaskQuery.Page page =
        query.page(
            new TaskQuery.Filter(
                tasks.namespace(),
                phases,
                blankToNull(ctx.queryParam("pool")),
                blankToNull(ctx.queryParam("handler")),
                priority,
                text),
            sort,
            order.equals("desc"),
            offset,
            limit);
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    ArrayNode list = response.putArray("tasks");
    for (TaskSnapshot task : page.tasks()) {
      ObjectNode row = TaskViews.view(task);
      row.remove(List.of("payload", "context", "result", "description"));
      list.add(row);
    }
    response.put("total", page.total());
    response.put("offset", page.offset());
    response.put("limit", page.limit());
    response.put("complete", page.complete());
    ctx.json(response);
  }

  private void taskDetail(Context ctx) throws InterruptedException {
    String id = ctx.pathParam("task_id");
    if (!TASK_ID.matcher(id).matches()) {
      throw ApiException.notFound("task " + ApiException.clip(id) + " not found");
    }
    TaskKey key = tasks.key(id);
    // The page reloads on a task's live events, which go out before the state is stored: an end
    // it was told of is waited for, briefly, so the page does not stay on the state before it.
    TaskSnapshot task =
        tasks
            .findSettled(key)
            .orElseThrow(() -> ApiException.notFound("task " + key.name() + " not found"));
    ObjectNode view = TaskViews.view(task);
    view.put("namespace", key.namespace());
    epoch(view, "lease_expires_at", task.leaseExpiry());
    if (task.usage() != null) {
      ObjectNode used = view.putObject("usage");
      used.put("tokens_in", task.usage().tokensIn());
      used.put("tokens_out", task.usage().tokensOut());
      used.put("cost_usd", task.usage().costUsd());
      used.put("latency_ms", task.usage().latencyMs());
    }
    ArrayNode events = view.putArray("events");
    try {
      for (Event event : tasks.events(key)) {
        ObjectNode item = events.addObject();
        item.put("type", event.getType());
        item.put("reason", event.getReason());
        item.put("message", event.getMessage());
        item.put("count", event.getCount() == null ? 1 : event.getCount());
        item.put("last_seen", event.getLastTimestamp());
      }
    } catch (RuntimeException e) {
      view.put("events_error", "the task's Events could not be read: " + e.getMessage());
    }
    ctx.json(view);
  }

  // ---- queue ---------------------------------------------------------------------------------

  /**
   * Every waiting task with its position in its pool's queue and why it waits, as far as the
   * dispatcher knows: the pool is suspended, the CPU gate holds it, no worker is ready, all worker
   * slots are busy, tasks ahead of it, a retry's backoff, or no pool takes it.
   */
  ObjectNode queue() {
    double cpuPercent = cpu.getAsDouble();
    Map<String, WorkerPool> byName = new LinkedHashMap<>();
    pools.list().forEach(p -> byName.put(p.getMetadata().getName(), p));
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    ArrayNode list = response.putArray("tasks");
    Instant now = Instant.now();
    for (PoolKey key : dispatcher.pools()) {
      if (!key.namespace().equals(tasks.namespace())) {
        continue;
      }
      WorkerPool pool = byName.get(key.name());
      TaskQueueView.PoolStats stats = dispatcher.poolStats(key).orElse(null);
      int running = stats == null ? 0 : stats.running();
      Optional<String> hold = providerHold(key);
      int position = 0;
      for (TaskSnapshot task : dispatcher.queueOrder(key)) {
        position++;
        ObjectNode item = queuedView(task, now);
        item.put("position", position);
        String ahead = position > 1 ? "; " + (position - 1) + " task(s) ahead" : "";
        item.put(
            "reason",
            hold.isPresent()
                ? hold.get() + ahead
                : waitReason(key, pool, running, position, cpuPercent));
        list.add(item);
      }
    }
    for (TaskSnapshot task :
        dispatcher.unfinished(
            t ->
                t.key().namespace().equals(tasks.namespace())
                    && (t.phase() == TaskPhase.Pending
                        || (t.phase() == TaskPhase.Queued && t.nextRetryAt() != null)))) {
      ObjectNode item = queuedView(task, now);
      item.putNull("position");
      item.put(
          "reason",
          task.phase() == TaskPhase.Pending
              ? Optional.ofNullable(task.pendingReason()).orElse("no pool takes this task yet")
              : retryReason(task));
      list.add(item);
    }
    response.put("total", list.size());
    response.put("cpu_percent", round(cpuPercent));
    return response;
  }

  /** The budget or rate limit that holds calls to a provider's queue, if it is one. */
  private Optional<String> providerHold(PoolKey key) {
    if (!key.isProvider()) {
      return Optional.empty();
    }
    String provider = key.name().substring(key.name().indexOf(':') + 1);
    return gateway.hold(new ProviderKey(key.namespace(), provider));
  }

  /**
   * Why a task waits out a retry's backoff: its provider's budget or rate limit when one holds
   * calls (a refused call is retried after the limit's window), else the last attempt's error.
   */
  private String retryReason(TaskSnapshot task) {
    String when = task.nextRetryAt().toString().replaceFirst("\\.\\d+Z$", "Z");
    Optional<String> hold = task.pool() == null ? Optional.empty() : providerHold(task.pool());
    if (hold.isPresent()) {
      return hold.get() + "; tries again at " + when;
    }
    String error = task.error() == null ? null : task.error().message();
    return "retrying after a failed attempt"
        + (error == null ? "" : " (" + ApiException.clip(error) + ")")
        + "; queues again at "
        + when;
  }

  private static ObjectNode queuedView(TaskSnapshot task, Instant now) {
    ObjectNode item = JsonBody.MAPPER.createObjectNode();
    item.put("task_id", task.key().name());
    item.put("name", task.handler());
    item.put("priority", task.priority().wireName());
    item.put("status", task.phase().legacyName());
    item.put("pool", task.pool() == null ? null : task.pool().name());
    Instant since = task.queuedAt() == null ? task.createdAt() : task.queuedAt();
    item.put("wait_seconds", Math.max(0, Duration.between(since, now).toSeconds()));
    return item;
  }

  private static String waitReason(
      PoolKey key, WorkerPool pool, int running, int position, double cpuPercent) {
    if (key.isProvider()) {
      return "waiting for a call slot of provider "
          + key.name().substring(key.name().indexOf(':') + 1)
          + " (its concurrency and rate limits)";
    }
    if (key.isCompute()) {
      return "waiting for a ComputeResource of the right size to be free";
    }
    if (pool == null) {
      return "waiting in queue " + key.name();
    }
    if (pool.getSpec().isSuspended()) {
      return "pool " + key.name() + " is suspended (spec.suspend)";
    }
    Double threshold = pool.getSpec().cpuThresholdPercent;
    if (running > 0 && cpuGated(threshold, cpuPercent)) {
      return String.format(
          Locale.ROOT,
          "CPU gate: host CPU at %.0f%% is at or above the pool's threshold of %.0f%%; one task"
              + " runs at a time",
          cpuPercent,
          threshold);
    }
    WorkerPoolStatus status = pool.getStatus() == null ? new WorkerPoolStatus() : pool.getStatus();
    int replicas = pool.getSpec().replicasOrDefault();
    if (replicas == 0) {
      return "pool " + key.name() + " has 0 workers (scale it up)";
    }
    int ready = status.readyReplicas == null ? 0 : status.readyReplicas;
    if (ready == 0) {
      return "no worker of pool " + key.name() + " is ready yet";
    }
    int slots = ready * pool.getSpec().concurrencyOrDefault();
    if (running >= slots) {
      return "all "
          + slots
          + " worker slots are busy"
          + (position > 1 ? "; " + (position - 1) + " task(s) ahead" : "; next to start");
    }
    return position > 1 ? (position - 1) + " task(s) ahead" : "starting";
  }

  // ---- compute and providers ------------------------------------------------------------------

  ObjectNode computeResources() {
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    ArrayNode list = response.putArray("resources");
    Instant now = Instant.now();
    for (ComputeResource resource : compute.list(tasks.namespace())) {
      ComputeResourceSpec spec = resource.getSpec();
      var status = resource.getStatus();
      ObjectNode item = list.addObject();
      item.put("name", resource.getMetadata().getName());
      item.put("type", spec.type == null ? null : spec.type.name());
      item.put("provider", spec.providerRef);
      item.put("phase", status == null || status.phase == null ? "Pending" : status.phase.name());
      item.put("resource_id", status == null ? null : status.resourceId);
      item.put("address", status == null ? null : status.address);
      item.put("current_task", status == null ? null : status.currentTask);
      item.put("total_tasks", status == null || status.totalTasks == null ? 0 : status.totalTasks);
      item.put("last_used", status == null ? null : status.lastUsedTime);
      ObjectNode capacity = item.putObject("capacity");
      if (spec.resources != null) {
        capacity.put("cpu_cores", spec.resources.cpuCores);
        capacity.put("memory_mb", spec.resources.memoryMb);
        capacity.put("disk_gb", spec.resources.diskGb);
        capacity.put("gpu_count", spec.resources.gpuCount);
      }
      item.put("idle_timeout_seconds", spec.idleTimeoutSeconds);
      Optional<Instant> idleSince = compute.idleSince(resource);
      if (idleSince.isPresent()) {
        item.put("idle_seconds", Math.max(0, Duration.between(idleSince.get(), now).toSeconds()));
      } else {
        item.putNull("idle_seconds");
      }
      item.put("message", status == null ? null : readyMessage(status.conditions));
    }
    response.put("count", list.size());
    return response;
  }

  ObjectNode providerList() {
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    ArrayNode list = response.putArray("providers");
    for (Provider provider : providers.list()) {
      ObjectNode item = list.addObject();
      String name = provider.getMetadata().getName();
      item.put("name", name);
      item.put("type", provider.getSpec().type == null ? null : provider.getSpec().type.name());
      item.put(
          "default_model",
          provider.getSpec().defaults == null ? null : provider.getSpec().defaults.model);
      ProviderStatus status = provider.getStatus();
      Condition ready =
          status == null
              ? null
              : status.conditions.stream()
                  .filter(c -> "Ready".equals(c.getType()))
                  .findFirst()
                  .orElse(null);
      item.put("ready", ready != null && "True".equals(ready.getStatus()));
      item.put("ready_message", ready == null ? "not probed yet" : ready.getMessage());
      ObjectNode used = item.putObject("usage");
      ProviderKey key = new ProviderKey(provider.getMetadata().getNamespace(), name);
      Optional<UsageLedger.Totals> totals = usage.totals(key);
      if (totals.isPresent()) {
        UsageLedger.Totals t = totals.get();
        used.put("requests", t.requests());
        used.put("succeeded", t.succeeded());
        used.put("failed", t.failed());
        used.put("tokens_in", t.tokensIn());
        used.put("tokens_out", t.tokensOut());
        used.put("cost_usd", t.costUsd());
        used.put("month", t.month());
        used.put("month_cost_usd", t.monthCostUsd());
        used.put("average_latency_ms", round(t.averageLatencyMs()));
      } else if (status != null && status.usage != null) {
        ProviderStatus.UsageTotals t = status.usage;
        used.put("requests", t.requests);
        used.put("succeeded", t.succeeded);
        used.put("failed", t.failed);
        used.put("tokens_in", t.tokensIn);
        used.put("tokens_out", t.tokensOut);
        used.put("cost_usd", t.costUsd);
        used.put("month", t.month);
        used.put("month_cost_usd", t.monthCostUsd);
        used.put("average_latency_ms", t.averageLatencyMs);
      }
      var limits = provider.getSpec().limits;
      ObjectNode limitView = item.putObject("limits");
      if (limits != null) {
        limitView.put("monthly_budget_usd", limits.monthlyBudgetUsd);
        limitView.put("daily_budget_usd", limits.dailyBudgetUsd);
        limitView.put("requests_per_minute", limits.requestsPerMinute);
        limitView.put("tokens_per_minute", limits.tokensPerMinute);
        limitView.put("max_concurrency", limits.maxConcurrency);
      }
      // The ledger's own history while this operator records calls, else what status holds.
      List<ProviderStatus.DayUsage> days = usage.days(key);
      if (days.isEmpty() && status != null && status.usage != null && status.usage.days != null) {
        days = status.usage.days;
      }
      ProviderMonthView.write(
          item.putObject("this_month"), days, LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC));
    }
    response.put("count", list.size());
    return response;
  }

  private static String readyMessage(List<Condition> conditions) {
    return conditions == null
        ? null
        : conditions.stream()
            .filter(c -> "Ready".equals(c.getType()))
            .map(Condition::getMessage)
            .findFirst()
            .orElse(null);
  }

  // ---- helpers -------------------------------------------------------------------------------

  private static TaskPhase phase(String name) {
    for (TaskPhase phase : TaskPhase.values()) {
      if (phase.legacyName().equalsIgnoreCase(name) || phase.name().equalsIgnoreCase(name)) {
        return phase;
      }
    }
    throw ApiException.invalid(
        "query parameter 'state' takes pending, queued, running, completed, failed, cancelled;"
            + " got '"
            + ApiException.clip(name)
            + "'");
  }

  private static String blankToNull(String value) {
    return value == null || value.isBlank() ? null : value.trim();
  }

  private static void epoch(ObjectNode view, String field, Instant time) {
    TaskViews.epoch(view, field, time);
  }

  private static double round(double value) {
    return Math.round(value * 100) / 100.0;
  }

  @Override
  public void close() {
    samples.close();
  }
}
