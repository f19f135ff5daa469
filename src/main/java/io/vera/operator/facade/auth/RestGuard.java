package io.vera.operator.facade.auth;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.vera.operator.facade.ApiException;
import io.vera.operator.task.PoolKey;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stands in front of every matched REST route and the WebSocket upgrade: refuses requests on a
 * standby replica, then authenticates the bearer token with a TokenReview and authorizes the route
 * with SubjectAccessReviews, as {@link RouteAccess} maps it.
 *
 * <p>Answers: 401 {@code {"detail"}} with {@code WWW-Authenticate: Bearer} when the token is
 * missing or not accepted; 403 naming the verb and resource that was denied; 503 when the API
 * server cannot answer a review (never allow, never 500). Unknown paths are not matched and stay
 * 404. The token is never logged or echoed.
 *
 * <p>Tokens: {@code Authorization: Bearer <token>}. On the WebSocket upgrade a browser cannot set
 * headers, so, as the Kubernetes API server does, a {@code Sec-WebSocket-Protocol} entry {@code
 * base64url.bearer.authorization.k8s.io.<token as unpadded base64url>} is accepted too. The server
 * never selects that entry as the subprotocol; it selects the first other protocol offered
 * (browsers need one, e.g. {@value #WS_PROTOCOL}), or none.
 *
 * <p>Standby: with leader election, only the leader holds the queues, so a standby replica answers
 * every route except the open ones (health, readiness, metrics, docs) with 503 and {@code
 * Retry-After}; its {@code /readyz} is 503 too, so the Service sends REST to the leader only
 * (unless the Service selects the leader by its pod label: {@link
 * io.vera.operator.app.LeaderPodLabel}).
 */
public final class RestGuard {
  private static final Logger LOG = LoggerFactory.getLogger(RestGuard.class);

  /** Subprotocol prefix carrying a bearer token, as Kubernetes defines it. */
  public static final String TOKEN_PROTOCOL_PREFIX = "base64url.bearer.authorization.k8s.io.";

  /** A subprotocol browsers can offer beside the token so that the handshake selects one. */
  public static final String WS_PROTOCOL = "vera.v1";

  private static final String IDENTITY_ATTRIBUTE = "vera.identity";

  /**
   * How the REST API authenticates.
   *
   * @param enabled false only in embedded mode or with {@code --insecure-disable-auth}
   * @param cacheTtl how long TokenReview and SubjectAccessReview answers are reused
   * @param cacheSize most tokens, and most decisions, remembered at once
   */
  public record Settings(boolean enabled, Duration cacheTtl, int cacheSize) {
    public static final Duration DEFAULT_TTL = Duration.ofSeconds(20);
    public static final int DEFAULT_SIZE = 10_000;

    public static Settings off() {
      return new Settings(false, DEFAULT_TTL, DEFAULT_SIZE);
    }

    public static Settings on() {
      return new Settings(true, DEFAULT_TTL, DEFAULT_SIZE);
    }
  }

  private final Settings settings;
  private final String namespace;
  private final Function<String, Optional<PoolKey>> leasePool;
  private final BooleanSupplier leading;
  private final AccessReviews reviews;

  /**
   * @param client asks the API server the reviews (its credentials need {@code create} on
   *     tokenreviews and subjectaccessreviews)
   * @param namespace the operator's namespace, where the legacy routes act
   * @param leasePool the pool a lease id belongs to, while the operator holds it
   * @param leading whether this replica leads (always true without leader election)
   */
  public RestGuard(
      KubernetesClient client,
      String namespace,
      Function<String, Optional<PoolKey>> leasePool,
      Settings settings,
      BooleanSupplier leading) {
    this.settings = settings;
    this.namespace = namespace;
    this.leasePool = leasePool;
    this.leading = leading;
    this.reviews =
        settings.enabled()
            ? new AccessReviews(client, settings.cacheTtl(), settings.cacheSize(), System::nanoTime)
            : null;
  }

  /** No authentication and always leading: embedded mode, and facades built in tests. */
  public static RestGuard open() {
    return new RestGuard(null, null, lease -> Optional.empty(), Settings.off(), () -> true);
  }

  /** Whether this replica serves REST: it leads, or there is no leader election. */
  public boolean serving() {
    return leading.getAsBoolean();
  }

  public boolean authEnabled() {
    return settings.enabled();
  }

  /** Registers the checks; call before the routes are registered. */
  public void install(Javalin app) {
    app.beforeMatched(ctx -> check(ctx, false));
    app.wsBeforeUpgrade(ctx -> check(ctx, true));
    app.exception(
        ReviewUnavailableException.class,
        (e, ctx) ->
            ctx.status(503)
                .header("Retry-After", "5")
                .json(
                    java.util.Map.of(
                        "detail",
                        "cannot check the caller's credentials: the Kubernetes API server is"
                            + " unavailable; try again shortly")));
  }

  /**
   * Whether the caller of a request that passed the checks may {@code verb} the {@code resource}
   * collection in the operator's namespace, asked with the same SubjectAccessReview (and cache) as
   * the routes; always true with auth off. Lets the dashboard hide what the routes would refuse.
   */
  public boolean allows(Context ctx, String verb, String resource) {
    return allows(ctx, verb, resource, null);
  }

  /**
   * Whether the caller may {@code verb} the {@code resource} object {@code name} (null: the
   * collection) in the operator's namespace; always true with auth off. For routes whose object is
   * named in the body ({@link RouteAccess.Scope#askedByRoute}).
   */
  public boolean allows(Context ctx, String verb, String resource, String name) {
    if (!settings.enabled()) {
      return true;
    }
    Optional<Identity> caller = identity(ctx);
    return caller.isPresent()
        && reviews
            .authorize(caller.get(), new Permission(verb, resource, null, namespace, name))
            .allowed();
  }

  /**
   * Refuses with 403, worded as the guard refuses a route, unless the caller may {@code verb} the
   * {@code resource} object {@code name} in the operator's namespace; nothing with auth off.
   */
  public void require(Context ctx, String verb, String resource, String name) {
    if (!settings.enabled()) {
      return;
    }
    Identity identity =
        identity(ctx)
            .orElseThrow(
                () ->
                    new ApiException(403, "no authenticated caller for " + verb + " " + resource));
    authorize(ctx, identity, new Permission(verb, resource, null, namespace, name));
  }

  /** The authenticated caller of a request that passed the checks, if auth is on. */
  public static Optional<Identity> identity(Context ctx) {
    return Optional.ofNullable(ctx.attribute(IDENTITY_ATTRIBUTE));
  }

  private void check(Context ctx, boolean webSocket) {
    String method = webSocket ? "GET" : ctx.method().name();
    // Before the upgrade Javalin reports the before-handler's own path; WebSocket routes have no
    // path parameters, so the request path is the route.
    String route = webSocket ? ctx.path() : ctx.endpointHandlerPath();
    Optional<RouteAccess.Rule> rule = RouteAccess.rule(method, route);
    if (rule.isPresent() && rule.get().open()) {
      return;
    }
    if (!leading.getAsBoolean()) {
      ctx.header("Retry-After", "5");
      throw new ApiException(
          503,
          "this operator replica is a standby; only the leader serves the API (use the Service,"
              + " which routes to the ready leader)");
    }
    if (!settings.enabled()) {
      return;
    }
    if (rule.isEmpty()) {
      LOG.error("no authorization rule for {} {}; refusing it", method, route);
      throw new ApiException(403, "no authorization rule is defined for " + method + " " + route);
    }
    String token = webSocket ? webSocketToken(ctx) : null;
    if (token == null) {
      token = bearer(ctx);
    }
    if (token == null) {
      throw unauthorized(
          ctx, "missing bearer token: send 'Authorization: Bearer <token>'", "invalid_request");
    }
    Identity identity =
        reviews
            .authenticate(token)
            .orElseThrow(
                () -> unauthorized(ctx, "the bearer token was not accepted", "invalid_token"));
    for (RouteAccess.Check check : rule.get().checks()) {
      if (check.scope().askedByRoute()) {
        continue;
      }
      Optional<Permission> permission = permission(check, ctx);
      if (permission.isPresent()) {
        authorize(ctx, identity, permission.get());
      }
    }
    ctx.attribute(IDENTITY_ATTRIBUTE, identity);
    if (webSocket) {
      selectSubprotocol(ctx);
    }
  }

  private void authorize(Context ctx, Identity identity, Permission permission) {
    AccessReviews.Decision decision = reviews.authorize(identity, permission);
    if (!decision.allowed()) {
      LOG.info(
          "denied {} {} to user {}: {}",
          ctx.method(),
          ctx.path(),
          identity.username(),
          permission.describe());
      throw new ApiException(
          403,
          "forbidden: user \""
              + identity.username()
              + "\" cannot "
              + permission.describe()
              + (decision.reason().isBlank() ? "" : ": " + decision.reason()));
    }
  }

  /**
   * The permission a check asks for on this request; empty for a lease the operator does not hold
   * (the route then answers 410 Gone after authentication: there is no pool to authorize against).
   */
  private Optional<Permission> permission(RouteAccess.Check check, Context ctx) {
    String ns;
    String name;
    switch (check.scope()) {
      case PATH_NAMESPACE -> {
        ns = ctx.pathParam("namespace");
        name = check.nameParam() == null ? null : ctx.pathParam(check.nameParam());
      }
      case LEASE_POOL -> {
        Optional<PoolKey> pool = leasePool.apply(ctx.pathParam(check.nameParam()));
        if (pool.isEmpty()) {
          return Optional.empty();
        }
        ns = pool.get().namespace();
        name = pool.get().name();
      }
      default -> {
        ns = namespace;
        name = check.nameParam() == null ? null : ctx.pathParam(check.nameParam());
      }
    }
    return Optional.of(
        new Permission(check.verb(), check.resource(), check.subresource(), ns, name));
  }

  private static String bearer(Context ctx) {
    String header = ctx.header("Authorization");
    if (header == null) {
      return null;
    }
    header = header.trim();
    if (header.length() < 7 || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    String token = header.substring(7).trim();
    return token.isEmpty() ? null : token;
  }

  private static List<String> offeredProtocols(Context ctx) {
    List<String> protocols = new ArrayList<>();
    for (String header : headerValues(ctx)) {
      for (String part : header.split(",")) {
        if (!part.isBlank()) {
          protocols.add(part.trim());
        }
      }
    }
    return protocols;
  }

  private static List<String> headerValues(Context ctx) {
    List<String> values = new ArrayList<>();
    var headers = ctx.req().getHeaders("Sec-WebSocket-Protocol");
    while (headers != null && headers.hasMoreElements()) {
      values.add(headers.nextElement());
    }
    return values;
  }

  private static String webSocketToken(Context ctx) {
    for (String protocol : offeredProtocols(ctx)) {
      if (protocol.startsWith(TOKEN_PROTOCOL_PREFIX)) {
        String encoded = protocol.substring(TOKEN_PROTOCOL_PREFIX.length());
        try {
          String token = new String(Base64.getUrlDecoder().decode(encoded), StandardCharsets.UTF_8);
          return token.isBlank() ? null : token.trim();
        } catch (IllegalArgumentException e) {
          return null;
        }
      }
    }
    return null;
  }

  /**
   * Javalin selects the first offered subprotocol; never let that be the one carrying the token.
   */
  private static void selectSubprotocol(Context ctx) {
    Optional<String> selected =
        offeredProtocols(ctx).stream()
            .filter(p -> !p.startsWith(TOKEN_PROTOCOL_PREFIX))
            .findFirst();
    ctx.res().setHeader("Sec-WebSocket-Protocol", selected.orElse(null));
  }

  private static ApiException unauthorized(Context ctx, String detail, String error) {
    ctx.header("WWW-Authenticate", "Bearer realm=\"vera-operator\", error=\"" + error + "\"");
    return new ApiException(401, detail);
  }
}
