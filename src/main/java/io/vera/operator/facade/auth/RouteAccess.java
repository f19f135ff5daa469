package io.vera.operator.facade.auth;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What each REST route needs from its caller: the mapping from routes to Kubernetes RBAC verbs on
 * Vera's resources (API group {@code vera.io}), checked with a SubjectAccessReview for the user the
 * bearer token belongs to. docs/security.md prints the same table.
 *
 * <p>Routes are keyed as Javalin registers them: {@code "METHOD /path/{param}"}; the WebSocket
 * endpoint is keyed by the GET that upgrades. A route with no entry is refused with 403 (fail
 * closed) and a test fails for it, so a new route cannot ship without a decision here. Unknown
 * paths never reach this table: they stay 404.
 *
 * <p>Namespaces: the legacy routers act in the operator's namespace ({@code --namespace}, where
 * REST-submitted tasks, the legacy pools and Providers live), so their checks are made there. The
 * worker lease protocol is checked in the pool's own namespace and for the pool by name, so a
 * worker ServiceAccount can be limited to its pools with {@code resourceNames}.
 *
 * <p>Choices worth knowing:
 *
 * <ul>
 *   <li>Health routes, {@code /healthz}, {@code /readyz} and {@code /metrics} are open: probes and
 *       Prometheus scrape them without credentials (as with a Kubernetes component's metrics port,
 *       restrict them with a NetworkPolicy if needed).
 *   <li>{@code /openapi.json}, {@code /docs} and the dashboard's page and files ({@code /ui}) are
 *       open: static files shipped in the image that say nothing about the cluster, and a browser
 *       cannot send a bearer token to load a page. Calls made from either UI need a token like any
 *       other.
 *   <li>Three custom verbs, granted only by the roles that name them: {@code call} on {@code
 *       providers} (spends money with an external API), {@code exec} on {@code computeresources}
 *       (runs a command in a machine) and {@code lease} on {@code workerpools} (the worker
 *       protocol, for worker ServiceAccounts).
 *   <li>{@code call} on the gateway's routes ({@code /v1}) names the Provider the request's model
 *       names (or that declares its route), so {@code resourceNames} in a Role limit a caller to
 *       some Providers; the route asks it once it has read the body, and {@code /v1/models} lists
 *       only what the caller may call.
 *   <li>A route may need several permissions: retrying a task reads the original and creates a
 *       copy; scaling compute resources may create and delete them.
 * </ul>
 */
public final class RouteAccess {

  /** Where a check's namespace and object name come from. */
  public enum Scope {
    /** The operator's own namespace; the name, if any, from a path parameter. */
    OPERATOR_NAMESPACE,
    /** The {@code namespace} path parameter; the name from a path parameter. */
    PATH_NAMESPACE,
    /** The namespace and name of the WorkerPool the {@code lease} path parameter belongs to. */
    LEASE_POOL,
    /**
     * The Provider a gateway call names (the {@code <provider>/} of its model, or the Provider that
     * declares its route), known only once the body is read: the route asks it itself with {@link
     * RestGuard#require}, in the operator's namespace; the guard only authenticates.
     */
    REQUEST_PROVIDER,
    /**
     * Each Provider a listing could show: the route asks per Provider with {@link RestGuard#allows}
     * and lists only what is allowed; the guard only authenticates.
     */
    EACH_PROVIDER;

    /** Whether the route itself asks this check, because its object is not in the path. */
    public boolean askedByRoute() {
      return this == REQUEST_PROVIDER || this == EACH_PROVIDER;
    }
  }

  /**
   * One permission a route needs, before its namespace and name are known.
   *
   * @param nameParam path parameter naming the object, or null for the whole collection
   */
  public record Check(
      String verb, String resource, String subresource, String nameParam, Scope scope) {}

  /** What a route needs: nothing ({@code open}), or every one of {@code checks}. */
  public record Rule(boolean open, List<Check> checks) {
    static Rule none() {
      return new Rule(true, List.of());
    }
  }

  public static final String TASKS = "veratasks";
  public static final String POOLS = "workerpools";
  public static final String PROVIDERS = "providers";
  public static final String RESOURCES = "computeresources";

  private static final Map<String, Rule> TABLE = new LinkedHashMap<>();

  static {
    String o = "/orchestrator";
    // Open: probes, metrics and the static API description.
    for (String path :
        List.of(
            o + "/health",
            o + "/external/health",
            o + "/infrastructure/health",
            "/healthz",
            "/readyz",
            "/metrics",
            "/openapi.json",
            "/docs",
            "/docs/assets/{file}",
            "/ui",
            "/ui/assets/{file}")) {
      TABLE.put("GET " + path, Rule.none());
    }

    // Legacy orchestrator router.
    put("POST", o + "/initialize", ns("create", POOLS));
    put("POST", o + "/start", ns("patch", POOLS));
    put("POST", o + "/stop", ns("patch", POOLS));
    put("GET", o + "/status", ns("list", POOLS));
    put("POST", o + "/workers/scale", new Check("update", POOLS, "scale", null, opNs()));
    put("GET", o + "/workers/pools", ns("list", POOLS));
    put("POST", o + "/tasks/submit", ns("create", TASKS));
    put("GET", o + "/tasks/result/{task_id}", named("get", TASKS, "task_id"));
    put("GET", o + "/tasks/{task_id}/status", named("get", TASKS, "task_id"));
    put("POST", o + "/tasks/{task_id}/cancel", named("patch", TASKS, "task_id"));
    put("POST", o + "/tasks/{task_id}/retry", named("get", TASKS, "task_id"), ns("create", TASKS));
    put("GET", o + "/tasks/registry", ns("list", TASKS));
    put("GET", o + "/tasks/history", ns("list", TASKS));
    put("POST", o + "/tasks/history/query", ns("list", TASKS));
    put("GET", o + "/tasks/active", ns("list", TASKS));
    put("GET", o + "/tasks/queue/detailed", ns("list", TASKS));
    put("GET", o + "/system/metrics", ns("list", POOLS));
    put("GET", o + "/system/processes", ns("list", POOLS));
    put("GET", o + "/ws/updates", ns("watch", TASKS));

    // External providers.
    put("POST", o + "/external/initialize", ns("create", PROVIDERS));
    put("POST", o + "/external/execute", ns("call", PROVIDERS));
    put("POST", o + "/external/execute/stream", ns("call", PROVIDERS));
    put("POST", o + "/external/llm/complete", ns("call", PROVIDERS));
    put("GET", o + "/external/providers", ns("list", PROVIDERS));
    put("GET", o + "/external/providers/{provider}/status", ns("get", PROVIDERS));
    put("GET", o + "/external/stats", ns("list", PROVIDERS));
    put("GET", o + "/external/stats/{provider}", ns("get", PROVIDERS));
    put("GET", o + "/external/stats/cost/summary", ns("list", PROVIDERS));
    put("GET", o + "/external/stats/tokens/summary", ns("list", PROVIDERS));

    // The OpenAI-compatible gateway: calling a model spends money like an external call, and is
    // granted per Provider (resourceNames), so a caller may call openai/* but not anthropic/*.
    put("POST", "/v1/chat/completions", calledProvider());
    put("GET", "/v1/models", new Check("call", PROVIDERS, null, null, Scope.EACH_PROVIDER));
    put("GET", "/v1/spend", ns("list", PROVIDERS));
    put("POST", "/v1/embeddings", calledProvider());
    put("POST", "/v1/audio/transcriptions", calledProvider());

    // Infrastructure (compute resources). No object name: a legacy resource_id is the
    // ComputeResource's status.resourceId when it has one, not its name, so a name check could
    // match the wrong object under resourceNames.
    String r = o + "/infrastructure/resources";
    put("POST", o + "/infrastructure/initialize", ns("create", PROVIDERS));
    put("POST", r + "/docker/provision", ns("create", RESOURCES));
    put("POST", r + "/proxmox/provision", ns("create", RESOURCES));
    put("POST", r + "/scale", ns("create", RESOURCES), ns("delete", RESOURCES));
    put("POST", r + "/cleanup", ns("delete", RESOURCES));
    put("GET", r, ns("list", RESOURCES));
    put("GET", r + "/{resource_id}", ns("get", RESOURCES));
    put("DELETE", r + "/{resource_id}", ns("delete", RESOURCES));
    put("POST", r + "/{resource_id}/execute", ns("exec", RESOURCES));
    put("GET", o + "/infrastructure/stats", ns("list", RESOURCES));
    put("GET", o + "/infrastructure/stats/resources/{resource_id}", ns("get", RESOURCES));

    // The dashboard's own reads; its actions use the routes above, so they are checked alike.
    String ui = "/ui/api";
    put("GET", ui + "/permissions", ns("list", TASKS));
    put("GET", ui + "/overview", ns("list", POOLS));
    put("GET", ui + "/series", ns("list", POOLS));
    put("GET", ui + "/tasks", ns("list", TASKS));
    put("GET", ui + "/tasks/{task_id}", named("get", TASKS, "task_id"));
    put("GET", ui + "/queue", ns("list", TASKS));
    put("GET", ui + "/compute", ns("list", RESOURCES));
    put("GET", ui + "/providers", ns("list", PROVIDERS));

    // Worker lease protocol.
    String w = "/internal/v1";
    put(
        "POST",
        w + "/namespaces/{namespace}/pools/{pool}/lease",
        new Check("lease", POOLS, null, "pool", Scope.PATH_NAMESPACE));
    for (String action : List.of("renew", "complete", "fail", "release")) {
      put(
          "POST",
          w + "/leases/{lease}/" + action,
          new Check("lease", POOLS, null, "lease", Scope.LEASE_POOL));
    }
  }

  private RouteAccess() {}

  /**
   * The rule of a registered route, e.g. {@code ("GET", "/orchestrator/tasks/{task_id}/status")}.
   */
  public static Optional<Rule> rule(String method, String routePath) {
    return Optional.ofNullable(TABLE.get(method.toUpperCase() + " " + routePath));
  }

  /** The whole table, keyed {@code "METHOD /path"}, in the order of docs/security.md. */
  public static Map<String, Rule> table() {
    return java.util.Collections.unmodifiableMap(TABLE);
  }

  private static void put(String method, String path, Check... checks) {
    TABLE.put(method + " " + path, new Rule(false, List.of(checks)));
  }

  private static Scope opNs() {
    return Scope.OPERATOR_NAMESPACE;
  }

  private static Check ns(String verb, String resource) {
    return new Check(verb, resource, null, null, Scope.OPERATOR_NAMESPACE);
  }

  private static Check calledProvider() {
    return new Check("call", PROVIDERS, null, "model", Scope.REQUEST_PROVIDER);
  }

  private static Check named(String verb, String resource, String param) {
    return new Check(verb, resource, null, param, Scope.OPERATOR_NAMESPACE);
  }
}
