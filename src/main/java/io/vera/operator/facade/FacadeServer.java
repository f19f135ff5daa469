package io.vera.operator.facade;

import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.json.JavalinJackson;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vera.operator.compute.ComputeService;
import io.vera.operator.facade.auth.RestGuard;
import io.vera.operator.facade.legacy.LegacyApi;
import io.vera.operator.facade.legacy.LegacyInfrastructure;
import io.vera.operator.facade.legacy.LegacyPools;
import io.vera.operator.facade.legacy.LegacyProviders;
import io.vera.operator.facade.openai.OpenAiError;
import io.vera.operator.facade.openai.OpenAiRoutes;
import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.provider.ProviderGateway;
import io.vera.operator.provider.UsageLedger;
import io.vera.operator.task.TaskLeases;
import io.vera.operator.task.TaskQuery;
import io.vera.operator.task.TaskQueueView;
import io.vera.operator.task.TaskService;
import io.vera.operator.worker.RemoteWorkers;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.DoubleSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The REST/WebSocket facade: the legacy routers, the OpenAI-compatible gateway ({@code /v1}), the
 * worker lease protocol, health, Prometheus metrics and the API docs. Every refusal is {@code
 * {"detail": ...}} (OpenAI's error shape on {@code /v1}) with a 4xx; an API server that cannot be
 * reached is a 503, never a hang or a 500.
 */
public final class FacadeServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(FacadeServer.class);
  static final long MAX_REQUEST_BYTES = 1024 * 1024;

  /**
   * What the facade serves from.
   *
   * @param queues what the routes and the dashboard read of the queues (and hear of their changes)
   * @param leases the lease protocol the worker routes speak; in the operator the same dispatcher
   *     as {@code queues}
   * @param remoteWorkers the worker pods that asked for work, recorded by the lease routes
   * @param cpuPercent the operator host's CPU use, 0–100
   */
  public record Services(
      TaskService tasks,
      TaskQueueView queues,
      TaskLeases leases,
      LegacyPools pools,
      HandlerRegistry handlers,
      RemoteWorkers remoteWorkers,
      DoubleSupplier cpuPercent,
      PrometheusMeterRegistry metrics,
      LegacyProviders providers,
      ProviderGateway gateway,
      UsageLedger usage,
      ComputeService compute,
      LegacyInfrastructure infrastructure) {}

  private final Javalin app;
  private final UpdatesHub updates;
  private final DashboardRoutes dashboard;
  private final ExecutorService longPolls;

  public FacadeServer(Services services) {
    this(services, RestGuard.open());
  }

  /**
   * @param guard authenticates and authorizes requests and refuses them on a standby replica; see
   *     {@link RestGuard} and {@link io.vera.operator.facade.auth.RouteAccess}
   */
  public FacadeServer(Services services, RestGuard guard) {
    this(services, guard, () -> false);
  }

  /**
   * @param readyAsStandby whether a standby replica reports Ready: where a Service selects the
   *     leader by its pod's label ({@link io.vera.operator.app.LeaderPodLabel}), a standby that can
   *     take over is Ready, so a PodDisruptionBudget lets the leader be evicted; otherwise only the
   *     leader is Ready, since the Service routes by readiness
   */
  public FacadeServer(Services services, RestGuard guard, BooleanSupplier readyAsStandby) {
    TaskQuery taskQuery = new TaskQuery(services.tasks().history());
    LegacyApi legacy =
        new LegacyApi(
            services.tasks(),
            services.queues(),
            services.pools(),
            services.handlers(),
            services.remoteWorkers(),
            services.cpuPercent(),
            services.providers(),
            services.gateway(),
            services.usage(),
            services.compute(),
            services.infrastructure(),
            LegacyInfrastructure.DEFAULT_DOCKER_HOST);
    this.updates = new UpdatesHub(legacy::status);
    services.queues().addListener(updates);
    AtomicInteger n = new AtomicInteger();
    this.longPolls =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "lease-long-poll-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    this.app =
        Javalin.create(
            config -> {
              config.showJavalinBanner = false;
              config.http.maxRequestSize = MAX_REQUEST_BYTES;
              config.http.asyncTimeout = 0L;
              config.jsonMapper(new JavalinJackson(JsonBody.MAPPER, false));
              config.useVirtualThreads = false;
              config.jetty.modifyServer(server -> server.setErrorHandler(new JsonErrorHandler()));
            });
    registerErrorMapping();
    guard.install(app);
    // Javalin tries a method's routes in registration order, one regex each, twice per request
    // (the guard asks for the matched route, then the endpoint runs): provider calls, whose added
    // latency has a sub-millisecond goal, come first. No two routers' paths overlap, so the order
    // changes no match (OpenApiMatchesRoutesTest checks that no route shadows a later one).
    legacy.registerProviderCalls(app);
    new OpenAiRoutes(services.providers(), services.gateway(), guard).register(app);
    legacy.register(app);
    app.ws(LegacyApi.BASE + "/ws/updates", updates::configure);
    new WorkerLeaseRoutes(services.queues(), services.leases(), services.remoteWorkers(), longPolls)
        .register(app);
    app.get(
        LegacyApi.BASE + "/health",
        ctx -> ctx.json(Map.of("status", "healthy", "service", "vera-operator")));
    app.get("/healthz", ctx -> ctx.result("ok"));
    // Readiness: a standby replica (leader election) is not ready, so the Service routes to the
    // leader, unless the Service selects the leader by label; liveness (/healthz) stays fine.
    app.get(
        "/readyz",
        ctx -> {
          if (guard.serving()) {
            ctx.json(Map.of("status", "ready", "leader", true));
          } else if (readyAsStandby.getAsBoolean()) {
            ctx.json(Map.of("status", "ready", "leader", false));
          } else {
            ctx.status(503)
                .json(Map.of("detail", "standby: another replica leads", "leader", false));
          }
        });
    app.get(
        "/metrics",
        ctx ->
            ctx.contentType("text/plain; version=0.0.4; charset=utf-8")
                .result(services.metrics().scrape()));
    ApiDocs.register(app);
    this.dashboard = new DashboardRoutes(services, taskQuery, guard, java.time.Clock.systemUTC());
    dashboard.register(app);
  }

  private void registerErrorMapping() {
    app.exception(ApiException.class, (e, ctx) -> refuse(ctx, e.status(), e.getMessage()));
    app.exception(
        HttpResponseException.class,
        (e, ctx) ->
            refuse(
                ctx, e.getStatus(), e.getMessage() == null ? "request refused" : e.getMessage()));
    app.exception(
        KubernetesClientException.class,
        (e, ctx) -> {
          int code = e.getCode();
          if (code == 404 || code == 409 || code == 422) {
            ctx.status(code)
                .json(
                    Map.of(
                        "detail",
                        e.getStatus() == null ? e.getMessage() : e.getStatus().getMessage()));
          } else {
            LOG.warn(
                "Kubernetes API call failed while serving {} {}: {}",
                ctx.method(),
                ctx.path(),
                e.getMessage());
            ctx.status(503)
                .json(
                    Map.of(
                        "detail", "the Kubernetes API server is unavailable; try again shortly"));
          }
        });
    app.exception(
        Exception.class,
        (e, ctx) -> {
          LOG.error("unexpected error serving {} {}", ctx.method(), ctx.path(), e);
          refuse(ctx, 500, "internal error; the operator log has the details");
        });
    app.error(
        404,
        ctx -> {
          if (ctx.result() == null || ctx.result().isEmpty()) {
            refuse(ctx, 404, "Not Found");
          }
        });
  }

  /**
   * A refusal as {@code {"detail": ...}}, or in OpenAI's error shape on the {@code /v1} gateway.
   */
  private static void refuse(Context ctx, int status, String message) {
    if (OpenAiError.isGatewayPath(ctx.path())) {
      OpenAiError.write(ctx, status, message);
    } else {
      ctx.status(status).json(Map.of("detail", message));
    }
  }

  /**
   * Every registered route as {@code "GET /path"}, WebSocket endpoints as {@code "WS /path"}; lets
   * tests compare the routes with the OpenAPI document.
   */
  public List<String> routes() {
    var router = app.unsafeConfig().pvt.internalRouter;
    List<String> routes = new ArrayList<>();
    router.allHttpHandlers().stream()
        .filter(e -> e.getEndpoint().getMethod().isHttpMethod())
        .forEach(e -> routes.add(e.getEndpoint().getMethod() + " " + e.getEndpoint().getPath()));
    router.allWsHandlers().forEach(e -> routes.add("WS " + e.getPath()));
    return routes;
  }

  public FacadeServer start(String host, int port) {
    app.start(host, port);
    return this;
  }

  public int port() {
    return app.port();
  }

  @Override
  public void close() {
    updates.close();
    dashboard.close();
    app.stop();
    longPolls.shutdownNow();
  }
}
