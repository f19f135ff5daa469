package io.vera.operator.facade;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.vera.operator.task.Lease;
import io.vera.operator.task.PoolKey;
import io.vera.operator.task.TaskError;
import io.vera.operator.task.TaskLeases;
import io.vera.operator.task.TaskQueueView;
import io.vera.operator.task.TaskSnapshot;
import io.vera.operator.worker.RemoteWorkers;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;

/**
 * The lease protocol worker pods speak to the operator. {@code lease} long-polls for a task (204
 * when none came); while running, the worker calls {@code renew} before the lease expires and stops
 * the attempt on 410 Gone (timed out, cancelled or expired); it ends with {@code complete} or
 * {@code fail}, answered 410 when the lease was already taken back, or hands the task back with
 * {@code release} when it shuts down before the attempt could finish.
 */
final class WorkerLeaseRoutes {
  static final String BASE = "/internal/v1";
  private static final int MAX_WAIT_SECONDS = 30;

  private final TaskQueueView queues;
  private final TaskLeases leases;
  private final RemoteWorkers remoteWorkers;
  private final ExecutorService longPolls;

  WorkerLeaseRoutes(
      TaskQueueView queues,
      TaskLeases leases,
      RemoteWorkers remoteWorkers,
      ExecutorService longPolls) {
    this.queues = queues;
    this.leases = leases;
    this.remoteWorkers = remoteWorkers;
    this.longPolls = longPolls;
  }

  void register(Javalin app) {
    app.post(BASE + "/namespaces/{namespace}/pools/{pool}/lease", this::lease);
    app.post(BASE + "/leases/{lease}/renew", this::renew);
    app.post(BASE + "/leases/{lease}/complete", this::complete);
    app.post(BASE + "/leases/{lease}/fail", this::fail);
    app.post(BASE + "/leases/{lease}/release", this::release);
  }

  private void lease(Context ctx) {
    PoolKey pool = new PoolKey(ctx.pathParam("namespace"), ctx.pathParam("pool"));
    JsonBody body = JsonBody.of(ctx);
    String workerId = body.requireString("worker_id", 253);
    List<String> handlers = body.strings("handlers", 10_000, 253);
    double cpuPercent = body.number("cpu_percent", 0, 0, 100);
    int wait = body.integer("wait_seconds", 20, 0, MAX_WAIT_SECONDS);
    // Queues the operator serves itself (ComputeResources, Providers) are not for worker pods.
    if (pool.isCompute() || pool.isProvider() || !queues.pools().contains(pool)) {
      throw ApiException.notFound("worker pool " + pool + " does not exist");
    }
    remoteWorkers.seen(pool, workerId, handlers);
    ctx.future(
        () ->
            CompletableFuture.supplyAsync(
                    () -> {
                      try {
                        return leases.lease(
                            pool, workerId, Duration.ofSeconds(wait), () -> cpuPercent, null);
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return Optional.<Lease>empty();
                      }
                    },
                    longPolls)
                .thenAccept(
                    lease -> {
                      if (lease.isEmpty()) {
                        ctx.status(204);
                      } else {
                        ctx.json(grant(lease.get()));
                      }
                    }));
  }

  private static ObjectNode grant(Lease lease) {
    TaskSnapshot task = lease.task();
    ObjectNode grant = JsonBody.MAPPER.createObjectNode();
    grant.put("lease_id", lease.id());
    grant.put("task_id", task.key().name());
    grant.put("namespace", task.key().namespace());
    grant.put("handler", task.handler());
    grant.set("payload", task.payload());
    grant.set("context", task.context());
    grant.put("attempt", task.attempts());
    grant.put("timeout_seconds", task.timeoutSeconds());
    grant.put("deadline", lease.deadline().toString());
    grant.put("lease_expires_at", lease.expiry().toString());
    return grant;
  }

  /** Extends the lease; the body may carry the attempt's latest {@code progress}. */
  private void renew(Context ctx) {
    String lease = ctx.pathParam("lease");
    Instant expiry = leases.renew(lease).orElseThrow(WorkerLeaseRoutes::gone);
    ObjectNode progress = ctx.body().isBlank() ? null : JsonBody.of(ctx).object("progress");
    if (progress != null) {
      JsonNode message = progress.get("message");
      leases.progress(
          lease,
          progress.path("fraction").isNumber() ? progress.path("fraction").asDouble() : Double.NaN,
          message == null || message.isNull() ? null : message.asText());
    }
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    response.put("lease_expires_at", expiry.toString());
    ctx.json(response);
  }

  private void complete(Context ctx) {
    JsonNode result = JsonBody.of(ctx).raw("result");
    if (!leases.complete(ctx.pathParam("lease"), result)) {
      throw gone();
    }
    ctx.status(204);
  }

  private void fail(Context ctx) {
    JsonBody body = JsonBody.of(ctx);
    TaskError error =
        new TaskError(
            body.string("type", TaskError.HANDLER_ERROR, 64),
            body.string("message", "worker reported a failure", 16_384));
    if (!leases.fail(
        ctx.pathParam("lease"), error, Boolean.TRUE.equals(body.bool("retryable", true)))) {
      throw gone();
    }
    ctx.status(204);
  }

  private void release(Context ctx) {
    if (!leases.release(ctx.pathParam("lease"))) {
      throw gone();
    }
    ctx.status(204);
  }

  private static ApiException gone() {
    return new ApiException(
        410, "the lease is no longer held: the task timed out, was cancelled or its lease expired");
  }
}
