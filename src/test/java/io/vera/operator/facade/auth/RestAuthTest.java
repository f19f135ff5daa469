package io.vera.operator.facade.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.app.ClusterSettings;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.app.OperatorHarness.Response;
import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.worker.RemoteWorker;
import io.vera.operator.worker.ServiceAccountToken;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import okhttp3.HttpUrl;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * REST authentication and authorization in a cluster, against the embedded API server with {@link
 * FakeReviews} answering TokenReviews and SubjectAccessReviews: every route of the facade, taken
 * from the running server and the OpenAPI document, has a rule; every protected route refuses a
 * missing or bad token with 401, a user without the mapped permission with 403, and asks exactly
 * the mapped SubjectAccessReviews for a user who has it.
 */
class RestAuthTest {
  private static final String NS = OperatorHarness.NAMESPACE;
  private static final Identity ALICE =
      new Identity(
          "alice",
          "uid-alice",
          List.of("system:authenticated", "team-a"),
          Map.of("scopes.example.io", List.of("tasks")));
  private static final Identity NOBODY =
      new Identity("nobody", "uid-nobody", List.of("system:authenticated"), Map.of());

  private static final FakeReviews REVIEWS =
      new FakeReviews()
          .token("alice-token", ALICE)
          .token("nobody-token", NOBODY)
          .grant("alice create veratasks")
          .grant("alice get veratasks")
          .grant("alice list veratasks")
          .grant("alice watch veratasks");
  private static OperatorHarness harness;

  @BeforeAll
  static void start() {
    harness =
        new OperatorHarness(
            REVIEWS,
            new ClusterSettings(
                RestGuard.Settings.on(), ClusterSettings.LeaderElection.disabled(), null));
    REVIEWS.token("root-token", new Identity("root", "uid-root", List.of(), Map.of()));
    REVIEWS.grant("root * *");
    WorkerPool pool = new WorkerPool();
    pool.setMetadata(new ObjectMetaBuilder().withName("general").withNamespace(NS).build());
    pool.setSpec(new WorkerPoolSpec());
    pool.getSpec().taskType = TaskType.GENERAL;
    pool.getSpec().replicas = 1;
    pool.getSpec().runtime = WorkerPoolSpec.Runtime.Embedded;
    harness.client().resource(pool).create();
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                harness
                    .send("GET", "/orchestrator/workers/pools", null, bearer("root-token"))
                    .text()
                    .contains("general"));
  }

  @AfterAll
  static void stop() {
    harness.close();
  }

  @BeforeEach
  void clear() {
    REVIEWS.down(false);
    REVIEWS.clear();
  }

  private static Map<String, String> bearer(String token) {
    return Map.of("Authorization", "Bearer " + token);
  }

  // ---- the table covers every route ----------------------------------------------------------

  @Test
  void everyServedAndDocumentedRouteHasAnAccessRule() throws Exception {
    Set<String> routes = new TreeSet<>(servedRoutes());
    routes.addAll(documentedRoutes());

    Set<String> missing = new TreeSet<>();
    for (String route : routes) {
      String[] parts = route.split(" ", 2);
      if (RouteAccess.rule(parts[0], parts[1]).isEmpty()) {
        missing.add(route);
      }
    }
    assertThat(missing).as("routes without a RouteAccess rule").isEmpty();
    assertThat(RouteAccess.table().keySet())
        .as("rules for routes that neither exist nor are documented")
        .isSubsetOf(routes);
  }

  @Test
  void openRoutesAreExactlyTheProbesMetricsAndDocs() {
    Set<String> open =
        RouteAccess.table().entrySet().stream()
            .filter(e -> e.getValue().open())
            .map(Map.Entry::getKey)
            .collect(Collectors.toCollection(TreeSet::new));
    assertThat(open)
        .containsExactlyInAnyOrder(
            "GET /orchestrator/health",
            "GET /orchestrator/external/health",
            "GET /orchestrator/infrastructure/health",
            "GET /healthz",
            "GET /readyz",
            "GET /metrics",
            "GET /openapi.json",
            "GET /docs",
            "GET /docs/assets/{file}",
            "GET /ui",
            "GET /ui/assets/{file}");
  }

  @Test
  void openRoutesNeedNoToken() {
    for (String path :
        List.of("/orchestrator/health", "/orchestrator/external/health", "/healthz", "/readyz")) {
      assertThat(harness.get(path).status()).as(path).isEqualTo(200);
    }
    assertThat(harness.get("/metrics").text()).contains("jvm_");
    assertThat(harness.get("/openapi.json").status()).isEqualTo(200);
    assertThat(harness.get("/docs").status()).isEqualTo(200);
    assertThat(REVIEWS.tokenReviews()).isEmpty();
  }

  @Test
  void unknownRoutesStay404() {
    Response response = harness.send("GET", "/orchestrator/nope", null, Map.of());
    assertThat(response.status()).isEqualTo(404);
    assertThat(REVIEWS.tokenReviews()).isEmpty();
  }

  // ---- table-driven over every protected HTTP route ------------------------------------------

  @Test
  void everyProtectedRouteRefusesAMissingOrBadTokenWith401() {
    for (String route : protectedHttpRoutes()) {
      String[] parts = route.split(" ", 2);
      Response none = harness.send(parts[0], concrete(parts[1]), body(parts[0]), Map.of());
      assertThat(none.status()).as("no token: " + route).isEqualTo(401);
      assertThat(message(none)).as(route).contains("bearer token");
      assertThat(none.header("WWW-Authenticate")).as(route).startsWith("Bearer");

      Response bad =
          harness.send(parts[0], concrete(parts[1]), body(parts[0]), bearer("wrong-token"));
      assertThat(bad.status()).as("bad token: " + route).isEqualTo(401);
      assertThat(bad.text()).doesNotContain("wrong-token");
    }
    Response basic =
        harness.send("GET", "/orchestrator/status", null, Map.of("Authorization", "Basic YTpi"));
    assertThat(basic.status()).isEqualTo(401);
  }

  @Test
  void everyProtectedRouteRefusesAUserWithoutItsPermissionWith403() {
    for (String route : protectedHttpRoutes()) {
      String[] parts = route.split(" ", 2);
      RouteAccess.Rule rule = RouteAccess.rule(parts[0], parts[1]).orElseThrow();
      Response response = send(route, "nobody-token");
      if (rule.checks().get(0).scope() == RouteAccess.Scope.LEASE_POOL) {
        // A lease the operator does not hold has no pool to authorize against: 410 after auth.
        assertThat(response.status()).as(route).isEqualTo(410);
        continue;
      }
      if (rule.checks().get(0).scope() == RouteAccess.Scope.EACH_PROVIDER) {
        // The model list asks per Provider and lists only what the caller may call.
        assertThat(response.status()).as(route).isEqualTo(200);
        assertThat(response.json().path("data")).as(route).isEmpty();
        continue;
      }
      assertThat(response.status()).as(route).isEqualTo(403);
      RouteAccess.Check first = rule.checks().get(0);
      String resource =
          first.resource() + (first.subresource() == null ? "" : "/" + first.subresource());
      assertThat(message(response))
          .as(route)
          .contains("nobody")
          .contains(first.verb() + " " + resource);
    }
  }

  @Test
  void everyProtectedRouteAsksExactlyItsMappedReviewsAndPassesWhenAllowed() {
    int n = 0;
    for (String route : protectedHttpRoutes()) {
      String[] parts = route.split(" ", 2);
      RouteAccess.Rule rule = RouteAccess.rule(parts[0], parts[1]).orElseThrow();
      // A fresh user per route, so no cached decision hides a review.
      String user = "admin-" + n++;
      REVIEWS.token(user + "-token", new Identity(user, "uid-" + user, List.of("ops"), Map.of()));
      REVIEWS.grant(user + " * *");
      REVIEWS.clear();

      Response response = send(route, user + "-token");

      assertThat(response.status()).as(route).isNotIn(401, 403, 500);
      if (response.status() >= 500) {
        // The route itself may refuse: provisioning when no Docker engine answers here (503/504
        // within seconds, naming the host). The guard's own 503s (review API down, standby) say
        // so differently.
        assertThat(response.status()).as(route).isIn(503, 504);
        assertThat(response.json().path("detail").asText())
            .as(route)
            .containsAnyOf("host of Provider", "provisioning failed");
      }
      assertThat(REVIEWS.tokenReviews()).as(route).hasSize(1);
      assertThat(REVIEWS.tokenReviews().get(0).path("spec").path("token").asText())
          .isEqualTo(user + "-token");
      List<String> asked = new ArrayList<>();
      for (JsonNode review : REVIEWS.accessReviews()) {
        JsonNode spec = review.path("spec");
        assertThat(spec.path("user").asText()).isEqualTo(user);
        assertThat(spec.path("uid").asText()).isEqualTo("uid-" + user);
        assertThat(spec.path("groups").toString()).isEqualTo("[\"ops\"]");
        JsonNode a = spec.path("resourceAttributes");
        assertThat(a.path("group").asText()).isEqualTo("vera.io");
        asked.add(
            a.path("verb").asText()
                + " "
                + a.path("resource").asText()
                + (a.hasNonNull("subresource") ? "/" + a.path("subresource").asText() : "")
                + " ns="
                + a.path("namespace").asText()
                + " name="
                + a.path("name").asText(""));
      }
      List<String> expected = new ArrayList<>();
      for (RouteAccess.Check check : rule.checks()) {
        if (check.scope() == RouteAccess.Scope.LEASE_POOL
            || check.scope() == RouteAccess.Scope.EACH_PROVIDER) {
          continue; // unknown lease: see the 403 test; no Provider to list here
        }
        expected.add(
            check.verb()
                + " "
                + check.resource()
                + (check.subresource() == null ? "" : "/" + check.subresource())
                + " ns="
                + NS
                + " name="
                + (check.nameParam() == null ? "" : sample(check.nameParam())));
        // A gateway call is asked for the Provider its model names: openai/... below.
      }
      if (route.equals("GET /ui/api/permissions")) {
        // The dashboard's question "what may I do?" then asks one review per answer it gives.
        assertThat(asked).as(route).startsWith(expected.toArray(String[]::new));
        assertThat(asked).as(route).contains("patch veratasks ns=" + NS + " name=");
      } else {
        assertThat(asked).as(route).containsExactlyElementsOf(expected);
      }
    }
    // POST /orchestrator/stop suspended the pools; resume them for the other tests.
    assertThat(harness.send("POST", "/orchestrator/start", "{}", bearer("admin-0-token")).status())
        .isEqualTo(200);
  }

  // ---- specific behaviour ---------------------------------------------------------------------

  @Test
  void anAllowedUserSubmitsAndReadsATaskWithTheirIdentityReviewed() {
    Response submitted =
        harness.send(
            "POST",
            "/orchestrator/tasks/submit",
            "{\"name\": \"compute.sum\", \"payload\": {\"a\": 1, \"b\": 2}}",
            bearer("alice-token"));
    assertThat(submitted.status()).isEqualTo(200);
    String id = submitted.json().path("task_id").asText();

    Response result =
        harness.send(
            "GET", "/orchestrator/tasks/result/" + id + "?timeout=10", null, bearer("alice-token"));
    assertThat(result.status()).isEqualTo(200);
    assertThat(result.json().path("result").asInt()).isEqualTo(3);

    JsonNode create = REVIEWS.accessReviews().get(0).path("spec");
    assertThat(create.path("user").asText()).isEqualTo("alice");
    assertThat(create.path("uid").asText()).isEqualTo("uid-alice");
    assertThat(create.path("groups").toString()).isEqualTo("[\"system:authenticated\",\"team-a\"]");
    assertThat(create.path("extra").path("scopes.example.io").toString()).isEqualTo("[\"tasks\"]");
    assertThat(create.path("resourceAttributes").toString())
        .isEqualTo(
            "{\"group\":\"vera.io\",\"namespace\":\"default\",\"resource\":\"veratasks\","
                + "\"verb\":\"create\"}");
    JsonNode get = REVIEWS.accessReviews().get(1).path("spec").path("resourceAttributes");
    assertThat(get.path("verb").asText()).isEqualTo("get");
    assertThat(get.path("name").asText()).isEqualTo(id);

    Response cancel =
        harness.send("POST", "/orchestrator/tasks/" + id + "/cancel", "{}", bearer("alice-token"));
    assertThat(cancel.status()).isEqualTo(403);
    assertThat(cancel.json().path("detail").asText())
        .isEqualTo(
            "forbidden: user \"alice\" cannot patch veratasks \""
                + id
                + "\" (group vera.io) in namespace \"default\": no RBAC policy matched");
  }

  @Test
  void decisionsAreCachedSoRepeatedRequestsSendNoReviews() {
    for (int i = 0; i < 20; i++) {
      assertThat(
              harness
                  .send("GET", "/orchestrator/tasks/active", null, bearer("alice-token"))
                  .status())
          .isEqualTo(200);
    }
    assertThat(REVIEWS.tokenReviews()).hasSizeLessThanOrEqualTo(1);
    assertThat(REVIEWS.accessReviews()).hasSizeLessThanOrEqualTo(1);

    for (int i = 0; i < 5; i++) {
      harness.send("GET", "/orchestrator/tasks/active", null, bearer("not-a-token"));
    }
    assertThat(
            REVIEWS.tokenReviews().stream()
                .filter(r -> r.path("spec").path("token").asText().equals("not-a-token")))
        .as("a rejected token is remembered too")
        .hasSize(1);
  }

  @Test
  void aReviewApiThatFailsAnswers503AndIsNotCached() {
    REVIEWS.token("fresh-token", new Identity("fresh", "uid-fresh", List.of(), Map.of()));
    REVIEWS.grant("fresh list veratasks");
    REVIEWS.down(true);

    Response down = harness.send("GET", "/orchestrator/tasks/history", null, bearer("fresh-token"));
    assertThat(down.status()).isEqualTo(503);
    assertThat(down.json().path("detail").asText()).contains("API server is unavailable");
    assertThat(down.text()).doesNotContain("fresh-token");

    REVIEWS.down(false);
    assertThat(
            harness
                .send("GET", "/orchestrator/tasks/history", null, bearer("fresh-token"))
                .status())
        .isEqualTo(200);

    // Authentication cached, authorization review failing: 503 as well, never allowed.
    REVIEWS.grant("fresh list workerpools");
    REVIEWS.down(true);
    assertThat(harness.send("GET", "/orchestrator/status", null, bearer("fresh-token")).status())
        .isEqualTo(503);
  }

  // ---- worker lease protocol ------------------------------------------------------------------

  @Test
  void aWorkerPodLeasesWithItsServiceAccountTokenAndOnlyForItsPool() throws Exception {
    String account = "system:serviceaccount:default:vera-worker";
    REVIEWS.token(
        "sa-token-1", new Identity(account, "uid-sa", List.of("system:serviceaccounts"), Map.of()));
    REVIEWS.grant(account + " lease workerpools pod-pool");
    WorkerPool pool = new WorkerPool();
    pool.setMetadata(new ObjectMetaBuilder().withName("pod-pool").withNamespace(NS).build());
    pool.setSpec(new WorkerPoolSpec());
    pool.getSpec().taskType = TaskType.BACKGROUND;
    pool.getSpec().replicas = 0;
    pool.getSpec().runtime = WorkerPoolSpec.Runtime.Pods;
    harness.client().resource(pool).create();
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                harness
                    .send("GET", "/orchestrator/workers/pools", null, bearer("root-token"))
                    .text()
                    .contains("pod-pool"));
    Path tokenFile = Files.createTempFile("sa-token", "");
    Files.writeString(tokenFile, "sa-token-1\n");
    RemoteWorker worker =
        new RemoteWorker(
            new RemoteWorker.Settings(
                HttpUrl.get(harness.baseUrl()), NS, "pod-pool", "pod-0", 1, Duration.ofSeconds(1)),
            HandlerRegistry.loadDefault(),
            new ServiceAccountToken(tokenFile));
    try {
      worker.start();
      Response submitted =
          harness.send(
              "POST",
              "/orchestrator/tasks/submit",
              "{\"name\": \"compute.sum\", \"payload\": {\"a\": 4, \"b\": 5},"
                  + " \"pool\": \"pod-pool\"}",
              bearer("root-token"));
      String id = submitted.json().path("task_id").asText();
      Response result =
          harness.send(
              "GET",
              "/orchestrator/tasks/result/" + id + "?timeout=20",
              null,
              bearer("root-token"));
      assertThat(result.json().path("result").asInt()).as(result.text()).isEqualTo(9);
      assertThat(result.json().path("worker_id").asText()).isEqualTo("pod-0");
    } finally {
      worker.close();
      Files.deleteIfExists(tokenFile);
    }
    assertThat(REVIEWS.tokenReviews())
        .anyMatch(r -> r.path("spec").path("token").asText().equals("sa-token-1"));
    List<JsonNode> leases =
        REVIEWS.accessReviews().stream()
            .filter(r -> r.path("spec").path("user").asText().equals(account))
            .map(r -> r.path("spec").path("resourceAttributes"))
            .toList();
    assertThat(leases).isNotEmpty();
    assertThat(leases)
        .allSatisfy(
            a -> {
              assertThat(a.path("verb").asText()).isEqualTo("lease");
              assertThat(a.path("resource").asText()).isEqualTo("workerpools");
              assertThat(a.path("name").asText()).isEqualTo("pod-pool");
              assertThat(a.path("namespace").asText()).isEqualTo(NS);
            });
    // The same token may not lease for another pool.
    Response other =
        harness.send(
            "POST",
            "/internal/v1/namespaces/" + NS + "/pools/general/lease",
            "{\"worker_id\": \"x\", \"wait_seconds\": 0}",
            bearer("sa-token-1"));
    assertThat(other.status()).isEqualTo(403);
    assertThat(other.json().path("detail").asText()).contains("lease workerpools \"general\"");
  }

  // ---- WebSocket ------------------------------------------------------------------------------

  @Test
  void webSocketAcceptsABearerHeader() throws Exception {
    Listener listener = new Listener();
    WebSocket ws =
        HttpClient.newHttpClient()
            .newWebSocketBuilder()
            .header("Authorization", "Bearer alice-token")
            .buildAsync(wsUri(), listener)
            .get(10, TimeUnit.SECONDS);
    assertThat(listener.first.get(10, TimeUnit.SECONDS)).contains("initial_status");
    ws.abort();
    JsonNode watch = REVIEWS.accessReviews().get(REVIEWS.accessReviews().size() - 1);
    assertThat(watch.path("spec").path("resourceAttributes").path("verb").asText())
        .isEqualTo("watch");
  }

  @Test
  void webSocketAcceptsTheTokenAsASubprotocolAndNeverSelectsIt() throws Exception {
    String encoded =
        Base64.getUrlEncoder()
            .withoutPadding()
            .encodeToString("alice-token".getBytes(StandardCharsets.UTF_8));
    Listener listener = new Listener();
    WebSocket ws =
        HttpClient.newHttpClient()
            .newWebSocketBuilder()
            .subprotocols(RestGuard.TOKEN_PROTOCOL_PREFIX + encoded, RestGuard.WS_PROTOCOL)
            .buildAsync(wsUri(), listener)
            .get(10, TimeUnit.SECONDS);
    assertThat(listener.first.get(10, TimeUnit.SECONDS)).contains("initial_status");
    assertThat(ws.getSubprotocol()).isEqualTo(RestGuard.WS_PROTOCOL);
    ws.abort();
  }

  @Test
  void webSocketWithoutAnAcceptedTokenIsRefusedBeforeTheUpgrade() {
    assertThatThrownBy(
            () ->
                HttpClient.newHttpClient()
                    .newWebSocketBuilder()
                    .buildAsync(wsUri(), new Listener())
                    .get(10, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(WebSocketHandshakeException.class)
        .satisfies(
            e ->
                assertThat(((WebSocketHandshakeException) e).getResponse().statusCode())
                    .isEqualTo(401));
    assertThatThrownBy(
            () ->
                HttpClient.newHttpClient()
                    .newWebSocketBuilder()
                    .header("Authorization", "Bearer nobody-token")
                    .buildAsync(wsUri(), new Listener())
                    .get(10, TimeUnit.SECONDS))
        .cause()
        .satisfies(
            e ->
                assertThat(((WebSocketHandshakeException) e).getResponse().statusCode())
                    .isEqualTo(403));
  }

  private static URI wsUri() {
    return URI.create(harness.baseUrl().replace("http://", "ws://") + "/orchestrator/ws/updates");
  }

  private static final class Listener implements WebSocket.Listener {
    final CompletableFuture<String> first = new CompletableFuture<>();

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      first.complete(data.toString());
      webSocket.request(1);
      return null;
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  private static List<String> servedRoutes() {
    return harness.operator().routes().stream()
        .map(r -> r.startsWith("WS ") ? "GET " + r.substring(3) : r)
        .toList();
  }

  /** Served HTTP routes that need a token (the WebSocket has its own tests). */
  private static List<String> protectedHttpRoutes() {
    List<String> routes = new ArrayList<>();
    for (String route : harness.operator().routes()) {
      if (route.startsWith("WS ")) {
        continue;
      }
      String[] parts = route.split(" ", 2);
      if (!RouteAccess.rule(parts[0], parts[1]).orElseThrow().open()) {
        routes.add(route);
      }
    }
    assertThat(routes).hasSizeGreaterThan(30);
    return routes;
  }

  private static Set<String> documentedRoutes() throws Exception {
    Set<String> documented = new TreeSet<>();
    try (InputStream in =
        RestAuthTest.class.getClassLoader().getResourceAsStream("openapi/vera-openapi.json")) {
      new ObjectMapper()
          .readTree(in)
          .path("paths")
          .fields()
          .forEachRemaining(
              path ->
                  path.getValue()
                      .fieldNames()
                      .forEachRemaining(
                          method -> {
                            if (Set.of("get", "post", "put", "delete", "patch").contains(method)) {
                              documented.add(method.toUpperCase() + " " + path.getKey());
                            }
                          }));
    }
    return documented;
  }

  private static String concrete(String route) {
    String path = route;
    for (String param :
        List.of("task_id", "resource_id", "provider", "namespace", "pool", "lease", "file")) {
      path = path.replace("{" + param + "}", sample(param));
    }
    return path.contains("/tasks/result/") ? path + "?timeout=0" : path;
  }

  private static String sample(String param) {
    return switch (param) {
      case "namespace" -> NS;
      case "pool" -> "no-such-pool";
      case "provider", "model" -> "openai";
      case "file" -> "swagger-ui.css";
      default -> "no-such-" + param.replace("_", "-");
    };
  }

  /** A refusal's message: {@code detail}, or OpenAI's {@code error.message} on {@code /v1}. */
  private static String message(Response response) {
    JsonNode json = response.json();
    return json.has("detail") ? json.path("detail").asText() : json.at("/error/message").asText();
  }

  private static String body(String method) {
    return method.equals("GET") || method.equals("DELETE") ? null : "{}";
  }

  private static final String BOUNDARY = "vera-test-boundary";

  /**
   * Sends a request to {@code route} with {@code token}: {@code {}} as the body, except for the
   * gateway's calls, whose permission names the Provider of a valid request's model.
   */
  private static Response send(String route, String token) {
    String[] parts = route.split(" ", 2);
    Map<String, String> headers = new java.util.HashMap<>(bearer(token));
    String body =
        switch (route) {
          case "POST /v1/chat/completions" ->
              "{\"model\": \"openai/gpt-4o-mini\", \"messages\": [{\"role\": \"user\","
                  + " \"content\": \"hi\"}]}";
          case "POST /v1/embeddings" ->
              "{\"model\": \"openai/text-embedding-3-small\", \"input\": \"hi\"}";
          case "POST /v1/audio/transcriptions" -> {
            headers.put("Content-Type", "multipart/form-data; boundary=" + BOUNDARY);
            yield "--"
                + BOUNDARY
                + "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nopenai/whisper-1\r\n--"
                + BOUNDARY
                + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
                + "Content-Type: audio/wav\r\n\r\nRIFF\r\n--"
                + BOUNDARY
                + "--\r\n";
          }
          default -> body(parts[0]);
        };
    return harness.send(parts[0], concrete(parts[1]), body, headers);
  }
}
