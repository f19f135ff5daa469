package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vera.operator.app.OperatorHarness;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Sends 10,000 malformed or hostile requests, spread over every route of the OpenAPI document, with
 * the infrastructure layer pointed at a Docker engine that is not there, and requires that each is
 * answered within 15 s, that none is answered with a 5xx except 503/504 from the routes that wait
 * on that host, that every refusal is {@code {"detail": ...}}, and that the operator still works
 * afterwards. The seed is fixed so a failure can be replayed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RestFuzzTest {
  private static final int REQUESTS = 10_000;
  private static final long SEED = 20261127L;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The routes to fuzz: every operation of the OpenAPI document, path parameters as {id}. */
  private static final List<String[]> ROUTES = documentedRoutes();

  /**
   * Routes that depend on a compute host: the only ones that may answer 503 or 504 (health: 503
   * when every configured host is down, as here).
   */
  private static final List<String> HOST_ROUTES =
      List.of(
          "/orchestrator/infrastructure/health",
          "/orchestrator/infrastructure/resources/docker/provision",
          "/orchestrator/infrastructure/resources/proxmox/provision",
          "/orchestrator/infrastructure/resources/scale");

  /**
   * A request not answered in this time is a failure: the bound each REST call keeps, not a
   * benchmark (docs/fault-handling.md).
   */
  private static final Duration ANSWER_BOUND = Duration.ofSeconds(15);

  /** Where the fuzzed infrastructure layer finds its Docker engine: a socket nobody serves. */
  private static final String NO_ENGINE =
      "unix://" + System.getProperty("java.io.tmpdir") + "/vera-fuzz-no-engine-" + SEED + ".sock";

  private static final List<String> HOSTILE_IDS =
      List.of(
          "..%2F..%2Fetc%2Fpasswd",
          "%00",
          "a%20b",
          "A".repeat(300),
          "-1",
          "%E2%80%AE",
          "%FF%FE",
          "null",
          "%7B%7D",
          "task;rm%20-rf",
          "UPPER",
          "9999999999999999999999");

  private static final List<String> FIELDS =
      List.of(
          "spec",
          "cpu_cores",
          "memory_mb",
          "image",
          "count",
          "resource_type",
          "command",
          "node",
          "template",
          "environment",
          "volumes",
          "max_idle_seconds",
          "enable_docker",
          "enable_proxmox",
          "max_resources",
          "auto_scale",
          "name",
          "payload",
          "priority",
          "context",
          "description",
          "task_type",
          "timeout",
          "max_retries",
          "pool",
          "num_workers",
          "llm_workers",
          "tool_workers",
          "cpu_threshold",
          "status",
          "task_name",
          "start_time",
          "end_time",
          "limit",
          "provider",
          "prompt",
          "model",
          "stream",
          "args",
          "kwargs",
          "extra_params",
          "openai",
          "aws_lambda",
          "http_endpoint",
          "worker_id",
          "handlers",
          "wait_seconds",
          "cpu_percent",
          "result",
          "type",
          "message",
          "retryable");

  private OperatorHarness harness;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  void start() {
    harness = new OperatorHarness();
    harness.post("/orchestrator/initialize", "{\"cpu_threshold\": 100}");
    assertThat(
            harness.post(INFRASTRUCTURE_INIT, "{\"docker_url\": \"" + NO_ENGINE + "\"}").status())
        .isEqualTo(200);
  }

  private static final String INFRASTRUCTURE_INIT = "/orchestrator/infrastructure/initialize";

  private static List<String[]> documentedRoutes() {
    List<String[]> routes = new ArrayList<>();
    try (var in =
        RestFuzzTest.class.getClassLoader().getResourceAsStream("openapi/vera-openapi.json")) {
      JSON.readTree(in)
          .path("paths")
          .fields()
          .forEachRemaining(
              path ->
                  path.getValue()
                      .fieldNames()
                      .forEachRemaining(
                          method -> {
                            if (List.of("get", "post", "put", "delete", "patch").contains(method)) {
                              routes.add(
                                  new String[] {
                                    method.toUpperCase(Locale.ROOT),
                                    path.getKey().replaceAll("\\{[a-z_]+}", "{id}")
                                  });
                            }
                          }));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return routes;
  }

  @AfterAll
  void stop() {
    harness.close();
  }

  @Test
  void tenThousandHostileRequestsGetNoServerErrorAndEveryRefusalSaysWhy() throws Exception {
    Random random = new Random(SEED);
    Map<String, Integer> statuses = new LinkedHashMap<>();
    List<String> failures = new ArrayList<>();
    for (int i = 0; i < REQUESTS; i++) {
      String[] route = ROUTES.get(random.nextInt(ROUTES.size()));
      String path = route[1];
      while (path.contains("{id}")) {
        path = path.replaceFirst("\\{id}", HOSTILE_IDS.get(random.nextInt(HOSTILE_IDS.size())));
      }
      path += query(random);
      byte[] body =
          route[1].equals(INFRASTRUCTURE_INIT)
              // Always the engine nobody serves: a fuzzed default would reach a real one in CI.
              ? ("{\"docker_url\": \"" + NO_ENGINE + "\", " + randomObject(random).substring(1))
                  .getBytes(StandardCharsets.UTF_8)
              : body(random);
      HttpRequest request =
          HttpRequest.newBuilder(URI.create(harness.baseUrl() + path))
              .timeout(ANSWER_BOUND)
              .header("Content-Type", random.nextInt(10) == 0 ? "text/plain" : "application/json")
              .method(
                  route[0],
                  route[0].equals("GET")
                      ? HttpRequest.BodyPublishers.noBody()
                      : HttpRequest.BodyPublishers.ofByteArray(body))
              .build();
      HttpResponse<String> response;
      try {
        response = http.send(request, HttpResponse.BodyHandlers.ofString());
      } catch (java.io.IOException e) {
        // Jetty may refuse a bad request line at once and close while a body over the 1 MiB limit
        // is still being sent; the client then never reads the refusal. Anything else must answer.
        if (body.length <= FacadeServer.MAX_REQUEST_BYTES) {
          failures.add(
              "no answer ("
                  + e.getMessage()
                  + "): "
                  + route[0]
                  + " "
                  + path
                  + " <- "
                  + preview(body));
        }
        continue;
      }
      int status = response.statusCode();
      statuses.merge(route[0] + " " + route[1] + " " + status, 1, Integer::sum);
      boolean hostDown = (status == 503 || status == 504) && HOST_ROUTES.contains(route[1]);
      if (status >= 500 && !hostDown) {
        failures.add(
            status
                + " "
                + route[0]
                + " "
                + path
                + " <- "
                + preview(body)
                + " -> "
                + response.body());
      } else if (status >= 400 && !saysWhy(path, response.body())) {
        failures.add(
            "no detail: " + status + " " + route[0] + " " + path + " -> " + response.body());
      }
    }
    assertThat(failures).as("answers that break the rules (of %d)", REQUESTS).isEmpty();
    assertThat(statuses)
        .as("provisioning met the host that is down")
        .containsKey("POST /orchestrator/infrastructure/resources/docker/provision 503");
    assertThat(statuses.keySet().stream().filter(k -> k.matches(".* 4\\d\\d$")).count())
        .as("the fuzzer reached refusals on many routes")
        .isGreaterThan(20);

    HttpResponse<String> health =
        http.send(
            HttpRequest.newBuilder(URI.create(harness.baseUrl() + "/orchestrator/health")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(health.statusCode()).isEqualTo(200);
    // The fuzzer may legitimately have stopped or shrunk the pools; set them up again first.
    assertThat(harness.post("/orchestrator/initialize", "{\"cpu_threshold\": 100}").status())
        .isEqualTo(200);
    assertThat(harness.post("/orchestrator/start", null).status()).isEqualTo(200);
    String id =
        harness
            .post(
                "/orchestrator/tasks/submit",
                "{\"name\": \"compute.sum\", \"payload\": {\"a\": 1, \"b\": 2}}")
            .json()
            .get("task_id")
            .asText();
    assertThat(
            harness
                .get("/orchestrator/tasks/result/" + id + "?timeout=10")
                .json()
                .get("result")
                .asInt())
        .isEqualTo(3);
  }

  /** A refusal says why: {@code {"detail"}} on REST, OpenAI's {@code error.message} on /v1. */
  private static boolean saysWhy(String path, String body) {
    try {
      JsonNode json = JSON.readTree(body);
      JsonNode why =
          path.startsWith("/v1/") ? json.path("error").path("message") : json.path("detail");
      return why.isTextual() && !why.asText().isBlank();
    } catch (Exception e) {
      return false;
    }
  }

  private static String query(Random random) {
    return switch (random.nextInt(8)) {
      case 0 ->
          "?timeout="
              + List.of("-5", "abc", "1e309", "NaN", "999999", "0.01").get(random.nextInt(6));
      case 1 ->
          "?limit="
              + List.of("0", "-1", "x", "1001", "99999999999").get(random.nextInt(5))
              + "&offset=-3";
      case 2 ->
          "?provider=nope&prompt="
              + "p".repeat(random.nextInt(50))
              + "&temperature="
              + List.of("3", "-1", "x").get(random.nextInt(3));
      case 3 -> "?stream=maybe&max_tokens=0";
      default -> "";
    };
  }

  private byte[] body(Random random) {
    return switch (random.nextInt(12)) {
      case 0 -> new byte[0];
      case 1 -> "{".getBytes(StandardCharsets.UTF_8);
      case 2 -> "[1,2,3]".getBytes(StandardCharsets.UTF_8);
      case 3 -> ("[".repeat(2000) + "]".repeat(2000)).getBytes(StandardCharsets.UTF_8);
      case 4 -> new byte[] {'{', '"', 'n', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}'};
      case 5 -> ("{\"name\": \"" + "x".repeat(1_100_000) + "\"}").getBytes(StandardCharsets.UTF_8);
      case 6 -> "null".getBytes(StandardCharsets.UTF_8);
      case 7 -> "\"just a string\"".getBytes(StandardCharsets.UTF_8);
      default -> randomObject(random).getBytes(StandardCharsets.UTF_8);
    };
  }

  private String randomObject(Random random) {
    StringBuilder json = new StringBuilder("{");
    int fields = 1 + random.nextInt(5);
    for (int i = 0; i < fields; i++) {
      if (i > 0) {
        json.append(',');
      }
      json.append('"')
          .append(FIELDS.get(random.nextInt(FIELDS.size())))
          .append("\":")
          .append(randomValue(random, 0));
    }
    return json.append('}').toString();
  }

  private String randomValue(Random random, int depth) {
    return switch (random.nextInt(depth > 2 ? 9 : 12)) {
      case 0 -> "null";
      case 1 -> "true";
      case 2 -> Long.toString(random.nextLong());
      case 3 -> "-1";
      case 4 -> "1e308";
      case 5 -> "0.5";
      case 6 ->
          "\""
              + List.of(
                      "",
                      "LLM",
                      "llm",
                      "critical",
                      "urgent",
                      "compute.sum",
                      "../../x",
                      "\\u0000",
                      "sleep",
                      "echo",
                      "completed",
                      "QUANTUM")
                  .get(random.nextInt(12))
              + "\"";
      case 7 -> "\"" + "y".repeat(random.nextInt(3000)) + "\"";
      case 8 -> "99999999999999999999999999";
      case 9 -> "[" + randomValue(random, depth + 1) + "," + randomValue(random, depth + 1) + "]";
      default ->
          "{\""
              + FIELDS.get(random.nextInt(FIELDS.size()))
              + "\":"
              + randomValue(random, depth + 1)
              + "}";
    };
  }

  private static String preview(byte[] body) {
    String text = new String(body, StandardCharsets.UTF_8);
    return text.length() > 120 ? text.substring(0, 120) + "…" : text;
  }
}
