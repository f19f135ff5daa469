package io.vera.operator.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.embedded.EmbeddedApiServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.awaitility.Awaitility;

/**
 * The whole operator in-process against the embedded API server (as {@code run --embedded} uses),
 * with a small HTTP client for its REST API. One per test class; close it after.
 */
public final class OperatorHarness implements AutoCloseable {
  public static final String NAMESPACE = "default";
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private final EmbeddedApiServer server;
  private final KubernetesClient client;
  private final OperatorSettings settings;
  private final ClusterSettings cluster;
  private VeraOperator operator;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** An HTTP answer: status and body (parsed when it is JSON). */
  public record Response(
      int status, String text, JsonNode json, Map<String, List<String>> headers) {
    public Response(int status, String text, JsonNode json) {
      this(status, text, json, Map.of());
    }

    public String header(String name) {
      return headers.entrySet().stream()
          .filter(e -> e.getKey().equalsIgnoreCase(name))
          .flatMap(e -> e.getValue().stream())
          .findFirst()
          .orElse(null);
    }

    /**
     * Whether the body is exactly this text, field order, null and number forms included; in {@code
     * template}, {@code <int>} stands for an integer, {@code <float>} for a number written with a
     * point or exponent, {@code <bool>} for true, false or null, {@code <text>} for the inside of a
     * string.
     */
    public boolean hasText(String template) {
      String regex =
          ("\\Q" + template + "\\E")
              .replace("<int>", "\\E-?[0-9]+\\Q")
              .replace("<float>", "\\E-?[0-9]+(\\.[0-9]+)?(E-?[0-9]+)?\\Q")
              .replace("<bool>", "\\E(true|false|null)\\Q")
              .replace("<text>", "\\E[^\"]*\\Q");
      return Pattern.compile(regex, Pattern.DOTALL).matcher(text).matches();
    }
  }

  public OperatorHarness() {
    this(request -> Optional.empty(), ClusterSettings.embedded());
  }

  /**
   * An operator started with {@code cluster} settings (REST auth, leader election) against an
   * embedded API server where {@code override} answers some requests first, e.g. TokenReviews.
   */
  public OperatorHarness(
      Function<RecordedRequest, Optional<MockResponse>> override, ClusterSettings cluster) {
    this(EmbeddedApiServer.start(0, override), cluster);
  }

  /** An operator against an API server already started (e.g. a durable one); closed with it. */
  public OperatorHarness(EmbeddedApiServer server, ClusterSettings cluster) {
    this.cluster = cluster;
    this.server = server;
    server.installCrds();
    client = server.client();
    settings =
        new OperatorSettings(
            "127.0.0.1",
            0,
            NAMESPACE,
            Set.of(),
            3600,
            64 * 1024,
            WorkerPoolSpec.Runtime.Embedded,
            "vera-operator:test",
            "http://127.0.0.1:1",
            4,
            null,
            null);
    operator = new VeraOperator(client, settings, cluster).start(settings);
  }

  /**
   * Stops the operator and starts a new one against the same API server, as a restart of the
   * operator process would; the REST port changes.
   */
  public void restartOperator() {
    restartOperator(() -> {});
  }

  /**
   * Like {@link #restartOperator()}, running {@code whileStopped} between the stop and the start,
   * e.g. to change what the next operator reads at start.
   */
  public void restartOperator(Runnable whileStopped) {
    operator.close();
    whileStopped.run();
    operator = new VeraOperator(client, settings, cluster).start(settings);
  }

  /** Creates an Embedded pool and waits until the REST API lists it. */
  public void createEmbeddedPool(String name, TaskType type, int replicas, boolean suspended) {
    WorkerPool pool = new WorkerPool();
    pool.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NAMESPACE).build());
    WorkerPoolSpec spec = new WorkerPoolSpec();
    spec.taskType = type;
    spec.replicas = replicas;
    spec.runtime = WorkerPoolSpec.Runtime.Embedded;
    spec.suspend = suspended;
    pool.setSpec(spec);
    client.resource(pool).create();
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> get("/orchestrator/workers/pools").text().contains(name));
  }

  /** The Kubernetes Events recorded in the test namespace so far. */
  public List<Event> events() {
    return client.v1().events().inNamespace(NAMESPACE).list().getItems();
  }

  public KubernetesClient client() {
    return client;
  }

  /** The in-process API server, for tests that take it down. */
  public EmbeddedApiServer apiServer() {
    return server;
  }

  public VeraOperator operator() {
    return operator;
  }

  public String baseUrl() {
    return "http://127.0.0.1:" + operator.port();
  }

  /** The VeraTask of this name in {@link #NAMESPACE}, or null. */
  public VeraTask task(String name) {
    return client.resources(VeraTask.class).inNamespace(NAMESPACE).withName(name).get();
  }

  /** Waits until the legacy external API reports the Provider probed and ready. */
  public void awaitProviderReady(String provider, Duration atMost) {
    Awaitility.await()
        .atMost(atMost)
        .until(
            () ->
                get("/orchestrator/external/providers/" + provider + "/status")
                    .json()
                    .path("ready")
                    .asBoolean());
  }

  public Response get(String path) {
    return send("GET", path, null);
  }

  public Response post(String path, String body) {
    return send("POST", path, body);
  }

  public Response send(String method, String path, String body) {
    return send(method, path, body, Map.of());
  }

  /** A request with extra headers, e.g. {@code Authorization}. */
  public Response send(String method, String path, String body, Map<String, String> headers) {
    HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(baseUrl() + path));
    headers.forEach(builder::header);
    if (!headers.containsKey("Content-Type")) {
      builder.header("Content-Type", "application/json");
    }
    HttpRequest request =
        builder
            .timeout(Duration.ofSeconds(60))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body))
            .build();
    try {
      HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
      JsonNode json = null;
      String contentType = response.headers().firstValue("Content-Type").orElse("");
      if (contentType.contains("json") && !response.body().isEmpty()) {
        json = MAPPER.readTree(response.body());
      }
      return new Response(response.statusCode(), response.body(), json, response.headers().map());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    operator.close();
    server.close();
  }
}
