package io.vera.operator.provider.endpoint;

import static io.vera.operator.provider.endpoint.TestCalls.json;
import static io.vera.operator.provider.endpoint.TestCalls.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vera.operator.api.ProviderSpec;
import io.vera.operator.provider.Credentials;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderRequest;
import io.vera.operator.provider.ProviderResult;
import io.vera.operator.provider.endpoint.HttpEndpointClient.Endpoint;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Only configured endpoints are reachable, and their credentials never leave in messages. */
class HttpEndpointClientTest {
  private static final String KEY = "sk-live-SECRET-0123456789";
  private static final Credentials CREDENTIALS =
      new Credentials(Map.of("apiKey", KEY, "tenant", "acme"));

  private final FakeTime time = new FakeTime(Instant.parse("2026-01-01T00:00:00Z"));
  private MockWebServer server;
  private HttpEndpointClient client;

  @BeforeEach
  void start() throws Exception {
    server = TestCalls.loopbackServer();
    client = client(null);
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private HttpEndpointClient client(String probe) {
    String base = TestCalls.base(server);
    return new HttpEndpointClient(
        List.of(
            Endpoint.of(
                "summarize",
                "POST",
                base + "/api/run",
                Map.of("Authorization", "Bearer ${apiKey}", "X-Tenant", "t-${tenant}")),
            Endpoint.of("search", "GET", base + "/api/search?v=1", Map.of()),
            Endpoint.of("health", "GET", base + "/healthz", Map.of())),
        probe,
        CREDENTIALS,
        TestCalls.transport(time));
  }

  private static MockResponse json200(String body) {
    return new MockResponse.Builder()
        .code(200)
        .addHeader("Content-Type", "application/json")
        .body(body)
        .build();
  }

  @Test
  void anApiKeyNoHeaderTemplateNamesIsSentAsABearerTokenAndOnlyOnce() throws Exception {
    HttpEndpointClient plain =
        new HttpEndpointClient(
            List.of(
                Endpoint.of("search", "GET", TestCalls.base(server) + "/api/search", Map.of()),
                Endpoint.of(
                    "custom",
                    "GET",
                    TestCalls.base(server) + "/api/custom",
                    Map.of("X-Api-Key", "${apiKey}"))),
            null,
            CREDENTIALS,
            TestCalls.transport(time));
    server.enqueue(json200("{}"));
    server.enqueue(json200("{}"));

    plain.call(request("search", "{}"));
    plain.call(request("custom", "{}"));

    RecordedRequest search = server.takeRequest();
    assertThat(search.getHeaders().values("Authorization")).containsExactly("Bearer " + KEY);
    RecordedRequest custom = server.takeRequest();
    assertThat(custom.getHeaders().get("X-Api-Key")).isEqualTo(KEY);
    assertThat(custom.getHeaders().get("Authorization")).as("the template places it").isNull();
  }

  @Test
  void callsTheNamedEndpointWithCredentialsInItsHeadersAndTheArgumentsAsJson() throws Exception {
    server.enqueue(json200("{\"summary\": \"short\"}"));
    ProviderRequest request =
        new ProviderRequest(
            "summarize",
            "Summarize this",
            null,
            json("{}"),
            json("[\"doc\"]"),
            json("{\"words\": 10}"),
            Duration.ofSeconds(5),
            0);

    ProviderResult result = client.call(request);

    assertThat(result.output()).isEqualTo(json("{\"summary\": \"short\"}"));
    assertThat(result.costUsd()).isNull();
    RecordedRequest recorded = server.takeRequest();
    assertThat(recorded.getRequestLine()).isEqualTo("POST /api/run HTTP/1.1");
    assertThat(recorded.getHeaders().get("Authorization")).isEqualTo("Bearer " + KEY);
    assertThat(recorded.getHeaders().get("X-Tenant")).isEqualTo("t-acme");
    assertThat(recorded.getHeaders().get("Content-Type")).startsWith("application/json");
    assertThat(json(recorded.getBody().utf8()))
        .isEqualTo(
            json(
                "{\"args\": [\"doc\"], \"kwargs\": {\"words\": 10}, \"prompt\": \"Summarize this\"}"));
  }

  @Test
  void anUnknownEndpointIsRefusedWithoutAnyRequest() {
    assertThatThrownBy(() -> client.call(request("delete-everything", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(404);
              assertThat(e.retryable()).isFalse();
              assertThat(e.getMessage())
                  .isEqualTo(
                      "no HTTP endpoint named 'delete-everything'; configured: [summarize, search,"
                          + " health]");
            });
    assertThat(server.getRequestCount()).isZero();
  }

  @Test
  void theTaskNameCannotReachAnotherPath() throws Exception {
    for (String name :
        List.of("../admin", "summarize/../../admin", "summarize?x=1", "/admin", "http://evil/")) {
      assertThatThrownBy(() -> client.call(request(name, "{}")))
          .as(name)
          .isInstanceOfSatisfying(
              ProviderException.class, e -> assertThat(e.status()).isEqualTo(404));
    }
    assertThat(server.getRequestCount()).isZero();

    server.enqueue(json200("{}"));
    client.call(request("summarize", "{\"query\": {\"../admin\": \"../admin\"}}"));

    RecordedRequest recorded = server.takeRequest();
    assertThat(recorded.getUrl().encodedPath()).isEqualTo("/api/run");
    assertThat(recorded.getTarget()).isEqualTo("/api/run?..%2Fadmin=..%2Fadmin");
  }

  @Test
  void queryParametersAreEncodedAndAppended() throws Exception {
    server.enqueue(json200("[]"));

    client.call(
        request(
            "search",
            "{\"query\": {\"q\": \"a b&c=d#e\", \"tag\": [\"x\", \"y\"], \"n\": 5, \"exact\": true}}"));

    RecordedRequest recorded = server.takeRequest();
    assertThat(recorded.getRequestLine())
        .isEqualTo("GET /api/search?v=1&q=a%20b%26c%3Dd%23e&tag=x&tag=y&n=5&exact=true HTTP/1.1");
    assertThat(recorded.getBodySize()).isZero();
  }

  @Test
  void configuredQueryParametersCannotBeOverridden() {
    for (String params :
        List.of(
            "{\"query\": {\"v\": \"2\"}}",
            "{\"query\": \"v=2\"}",
            "{\"query\": {\"q\": {\"nested\": 1}}}",
            "{\"query\": {\"q\": null}}")) {
      assertThatThrownBy(() -> client.call(request("search", params)))
          .as(params)
          .isInstanceOfSatisfying(
              ProviderException.class, e -> assertThat(e.status()).isEqualTo(422));
    }
    assertThat(server.getRequestCount()).isZero();
  }

  @Test
  void redirectsAreNotFollowed() {
    server.enqueue(
        new MockResponse.Builder()
            .code(302)
            .addHeader("Location", "http://169.254.169.254/latest/meta-data/")
            .build());

    assertThatThrownBy(() -> client.call(request("summarize", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.getMessage())
                  .isEqualTo(
                      "HTTP endpoint 'summarize' answered with a redirect (302); redirects are not"
                          + " followed");
            });
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void upstreamErrorsAreSummarisedWithACappedScrubbedExcerpt() {
    String echoed =
        "{\"error\": \"bad token Bearer " + KEY + "\", \"pad\": \"" + "x".repeat(5000) + "\"}";
    server.enqueue(new MockResponse.Builder().code(400).body(echoed).build());

    assertThatThrownBy(() -> client.call(request("summarize", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.retryable()).isFalse();
              assertThat(e.getMessage())
                  .startsWith(
                      "HTTP endpoint 'summarize' answered 400: {\"error\": \"bad token Bearer ***\"")
                  .doesNotContain(KEY)
                  .endsWith("...");
              String excerpt = e.getMessage().substring(e.getMessage().indexOf(": ") + 2);
              assertThat(excerpt.getBytes(StandardCharsets.UTF_8)).hasSizeLessThanOrEqualTo(1024);
              assertThat(e.toString()).doesNotContain(KEY);
            });
    assertThat(client.toString()).doesNotContain(KEY).doesNotContain("apiKey");
    assertThat(CREDENTIALS.toString()).doesNotContain(KEY);
  }

  @Test
  void aSecretStraddlingTheExcerptCutIsStillScrubbed() {
    String body = "y".repeat(1015) + KEY + "tail";
    server.enqueue(new MockResponse.Builder().code(500).body(body).build());

    assertThatThrownBy(() -> client.call(request("summarize", "{}", Duration.ofSeconds(5), 0)))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.getMessage()).doesNotContain(KEY.substring(0, 6));
              assertThat(e.retryable()).isTrue();
            });
  }

  @Test
  void postIsRetriedOnlyWhenTheUpstreamSaysItDidNotProcessTheRequest() throws Exception {
    server.enqueue(new MockResponse.Builder().code(503).addHeader("Retry-After", "1").build());
    server.enqueue(new MockResponse.Builder().code(500).body("boom").build());

    assertThatThrownBy(() -> client.call(request("summarize", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e ->
                assertThat(e.getMessage())
                    .isEqualTo("HTTP endpoint 'summarize' answered 500: boom"));
    assertThat(server.getRequestCount()).isEqualTo(2);
    assertThat(time.sleeps()).containsExactly(Duration.ofSeconds(1));
  }

  @Test
  void getIsRetriedAfterServerErrors() throws Exception {
    server.enqueue(new MockResponse.Builder().code(502).build());
    server.enqueue(new MockResponse.Builder().code(504).build());
    server.enqueue(
        new MockResponse.Builder()
            .code(200)
            .addHeader("Content-Type", "text/plain")
            .body("42")
            .build());

    ProviderResult result = client.call(request("search", "{}"));

    assertThat(result.output().isTextual()).isTrue();
    assertThat(result.output().asText()).isEqualTo("42");
    assertThat(time.sleeps()).containsExactly(Duration.ofMillis(500), Duration.ofSeconds(1));
  }

  @Test
  void throttlingOutlastingTheRetriesFailsWith429() {
    for (int i = 0; i < 2; i++) {
      server.enqueue(new MockResponse.Builder().code(429).addHeader("Retry-After", "2").build());
    }

    assertThatThrownBy(() -> client.call(request("summarize", "{}", Duration.ofSeconds(30), 1)))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(429);
              assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(2));
            });
    assertThat(server.getRequestCount()).isEqualTo(2);
  }

  @Test
  void aMissingCredentialFailsBeforeAnyRequest() {
    HttpEndpointClient keyless =
        new HttpEndpointClient(
            List.of(
                Endpoint.of(
                    "summarize",
                    null,
                    TestCalls.base(server) + "/api/run",
                    Map.of("Authorization", "Bearer ${apiKey}"))),
            null,
            new Credentials(Map.of()),
            TestCalls.transport(time));

    assertThatThrownBy(() -> keyless.call(request("summarize", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(400);
              assertThat(e.getMessage()).contains("'apiKey'");
            });
    assertThat(server.getRequestCount()).isZero();
  }

  @Test
  void oversizedResponsesAreDropped() {
    HttpEndpointClient capped =
        new HttpEndpointClient(
            List.of(Endpoint.of("search", "GET", TestCalls.base(server) + "/s", Map.of())),
            null,
            CREDENTIALS,
            new Transport(TestCalls.HTTP, time, time, Transport.DEFAULT_RETRY_BACKOFF, 1024));
    server.enqueue(json200("\"" + "z".repeat(4096) + "\""));

    assertThatThrownBy(() -> capped.call(request("search", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> assertThat(e.getMessage()).contains("more than 1024 bytes"));
  }

  @Test
  void probeWithoutAProbeEndpointSendsAHeadToTheFirstEndpoint() throws Exception {
    server.enqueue(new MockResponse.Builder().code(405).build());

    client.probe();

    RecordedRequest recorded = server.takeRequest();
    assertThat(recorded.getRequestLine()).isEqualTo("HEAD /api/run HTTP/1.1");
    assertThat(recorded.getHeaders().get("Authorization")).isEqualTo("Bearer " + KEY);

    server.enqueue(new MockResponse.Builder().code(401).build());
    assertThatThrownBy(client::probe)
        .isInstanceOfSatisfying(
            ProviderException.class,
            e ->
                assertThat(e.getMessage())
                    .isEqualTo("HTTP endpoint 'summarize' answered 401 to a HEAD request"));
  }

  @Test
  void probeCallsTheConfiguredProbeEndpoint() throws Exception {
    client = client("health");
    server.enqueue(json200("{\"ok\": true}"));

    client.probe();

    assertThat(server.takeRequest().getRequestLine()).isEqualTo("GET /healthz HTTP/1.1");

    server.enqueue(new MockResponse.Builder().code(503).build());
    server.enqueue(new MockResponse.Builder().code(503).build());
    assertThatThrownBy(client::probe)
        .isInstanceOfSatisfying(
            ProviderException.class, e -> assertThat(e.status()).isEqualTo(502));
  }

  @Test
  void invalidConfigurationIsRejected() {
    String url = "https://api.example.com/run";
    assertThatThrownBy(() -> Endpoint.of("a", "TRACE", url, Map.of()))
        .hasMessageContaining("method");
    assertThatThrownBy(() -> Endpoint.of("a", "POST", "ftp://example.com/", Map.of()))
        .hasMessageContaining("not an http(s) URL");
    assertThatThrownBy(() -> Endpoint.of("a", "POST", "https://user:pw@example.com/", Map.of()))
        .hasMessageContaining("Secret")
        .hasMessageNotContaining("pw");
    assertThatThrownBy(() -> Endpoint.of("a", "POST", url, Map.of("Host", "internal")))
        .hasMessageContaining("cannot be configured");
    assertThatThrownBy(() -> Endpoint.of("a", "POST", url, Map.of("X-Key", "${api key}")))
        .hasMessageContaining("placeholders");
    assertThatThrownBy(() -> Endpoint.of("a", "POST", url, Map.of("X-Key", "a\r\nb")))
        .hasMessageContaining("not allowed");
    Endpoint a = Endpoint.of("a", null, url, Map.of());
    assertThat(a.method()).isEqualTo("POST");
    assertThatThrownBy(() -> new HttpEndpointClient(List.of(a, a), null, CREDENTIALS, null))
        .hasMessageContaining("two HTTP endpoints");
    assertThatThrownBy(() -> new HttpEndpointClient(List.of(), null, CREDENTIALS, null))
        .hasMessageContaining("at least one");
    assertThatThrownBy(() -> new HttpEndpointClient(List.of(a), "b", CREDENTIALS, null))
        .hasMessageContaining("to probe");
  }

  @Test
  void endpointsComeFromTheProviderSpecAndPrintWithoutSecrets() {
    ProviderSpec.HttpEndpoint spec = new ProviderSpec.HttpEndpoint();
    spec.name = "ocr";
    spec.url = "https://ocr.example.com/v1/read?token=literal-secret";
    spec.headers = Map.of("Authorization", "Bearer ${apiKey}");

    List<Endpoint> endpoints = Endpoint.fromSpec(List.of(spec));

    assertThat(endpoints).hasSize(1);
    assertThat(endpoints.get(0).method()).isEqualTo("POST");
    assertThat(endpoints.get(0).toString())
        .isEqualTo(
            "Endpoint[name=ocr, method=POST, url=https://ocr.example.com/v1/read,"
                + " headers=[Authorization]]");
  }
}
