package io.vera.operator.facade.legacy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.TextNode;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.app.OperatorHarness.Response;
import io.vera.operator.provider.ProviderResult;
import io.vera.operator.provider.TokenUsage;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * An OpenAI-compatible upstream that is slow, failing, or drops the connection mid-stream, called
 * through the REST API: each call ends within its timeout with a clear refusal, and its usage (what
 * arrived of it) is recorded. The clients' own tests cover the wire details; this covers the path
 * through the facade, the gateway and the usage ledger.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProviderFaultsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final MockWebServer upstream = new MockWebServer();
  private final List<String> prompts = new CopyOnWriteArrayList<>();
  private OperatorHarness harness;

  @BeforeAll
  void start() throws Exception {
    upstream.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            String body = request.getBody() == null ? "" : request.getBody().utf8();
            if (request.getUrl().encodedPath().endsWith("/models")) {
              return json(200, "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\"}]}");
            }
            prompts.add(body);
            if (body.contains("be slow")) {
              return new MockResponse.Builder()
                  .headersDelay(5, TimeUnit.SECONDS)
                  .addHeader("Content-Type", "application/json")
                  .body("{}")
                  .build();
            }
            if (body.contains("be broken")) {
              return json(
                  500,
                  "{\"error\":{\"message\":\"The server had an error while processing your"
                      + " request.\",\"type\":\"server_error\"}}");
            }
            if (body.contains("be cut")) {
              return new MockResponse.Builder()
                  .addHeader("Content-Type", "text/event-stream")
                  .body(
                      chunk("Once", "{\"prompt_tokens\":9,\"completion_tokens\":1}")
                          + chunk(" upon", "{\"prompt_tokens\":9,\"completion_tokens\":2}")
                          + chunk(" a time".repeat(200), null))
                  .onResponseBody(new SocketEffect.CloseSocket())
                  .build();
            }
            return json(404, "{\"error\":{\"message\":\"no such test\"}}");
          }
        });
    upstream.start();
    harness = new OperatorHarness();
    Response init =
        harness.post(
            "/orchestrator/external/initialize",
            "{\"openai\": {\"api_key\": \"sk-test\", \"base_url\": \""
                + upstream.url("/v1")
                + "\"}}");
    assertThat(init.status()).as(init.text()).isEqualTo(200);
    harness.awaitProviderReady("openai", Duration.ofSeconds(15));
  }

  @AfterAll
  void stop() throws Exception {
    harness.close();
    upstream.close();
  }

  private static String chunk(String content, String usage) {
    return "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
        + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\""
        + content
        + "\"},\"finish_reason\":null}]"
        + (usage == null ? "" : ",\"usage\":" + usage)
        + "}\n\n";
  }

  private static MockResponse json(int code, String body) {
    return new MockResponse.Builder()
        .code(code)
        .addHeader("Content-Type", "application/json")
        .body(body)
        .build();
  }

  private JsonNode stats() {
    return harness.get("/orchestrator/external/stats/openai").json();
  }

  @Test
  void aSlowUpstreamIsGivenUpAtTheCallsTimeoutWithAClearError() {
    long failedBefore = stats().path("failed_requests").asLong();
    long started = System.nanoTime();
    Response answer =
        harness.post(
            "/orchestrator/external/execute",
            "{\"provider\": \"openai\", \"prompt\": \"be slow\", \"model\": \"gpt-4o\","
                + " \"timeout\": 1, \"max_retries\": 3}");
    Duration took = Duration.ofNanos(System.nanoTime() - started);

    assertThat(answer.status()).as(answer.text()).isEqualTo(504);
    assertThat(answer.json().path("detail").asText()).containsIgnoringCase("time");
    // Bounded by the call's own timeout (1 s), not by the upstream's 5 s, nor retried past it.
    assertThat(took).isLessThan(Duration.ofSeconds(4));
    assertThat(stats().path("failed_requests").asLong()).isEqualTo(failedBefore + 1);
  }

  @Test
  void aFailingUpstreamIsRetriedThenRefusedAsABadGateway() {
    long failedBefore = stats().path("failed_requests").asLong();
    int callsBefore = (int) prompts.stream().filter(p -> p.contains("be broken")).count();
    Response answer =
        harness.post(
            "/orchestrator/external/execute",
            "{\"provider\": \"openai\", \"prompt\": \"be broken\", \"model\": \"gpt-4o\","
                + " \"timeout\": 30, \"max_retries\": 1}");

    assertThat(answer.status()).as(answer.text()).isEqualTo(502);
    assertThat(answer.json().path("detail").asText())
        .contains("500")
        .contains("The server had an error");
    assertThat(prompts.stream().filter(p -> p.contains("be broken")).count() - callsBefore)
        .as("the first call and one retry")
        .isEqualTo(2);
    assertThat(stats().path("failed_requests").asLong()).isEqualTo(failedBefore + 1);
  }

  @Test
  void aStreamCutMidWayEndsWithAnErrorEventAndKeepsTheUsageThatArrived() throws Exception {
    long tokensInBefore = stats().path("total_tokens_in").asLong();
    Response stream =
        harness.post(
            "/orchestrator/external/execute/stream",
            "{\"provider\": \"openai\", \"prompt\": \"be cut\", \"model\": \"gpt-4o\","
                + " \"stream\": true}");

    assertThat(stream.status()).isEqualTo(200);
    List<String> events =
        stream.text().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
    assertThat(events).contains("{\"chunk\":\"Once\"}", "{\"chunk\":\" upon\"}");
    JsonNode last = JSON.readTree(events.get(events.size() - 1));
    assertThat(last.path("status").asText())
        .as("legacy clients know only complete and error")
        .isEqualTo("error");
    assertThat(last.path("incomplete").asBoolean()).isTrue();
    assertThat(last.path("error").asText()).contains("ended before");
    assertThat(last.path("tokens_in").asLong()).isEqualTo(9);
    assertThat(last.path("tokens_out").asLong()).isEqualTo(2);
    assertThat(stats().path("total_tokens_in").asLong()).isEqualTo(tokensInBefore + 9);
    assertThat(harness.get("/metrics").text())
        .containsPattern(
            "vera_provider_requests_total\\{[^}]*outcome=\"incomplete\"[^}]*\\} 1\\.0");
  }

  @Test
  void aNonStreamExecuteWhoseUpstreamIsCutAnswersWithAStatusLegacyClientsKnow() throws Exception {
    Response answer =
        harness.post(
            "/orchestrator/external/execute",
            "{\"provider\": \"openai\", \"prompt\": \"be cut\", \"model\": \"gpt-4o\","
                + " \"max_retries\": 0}");

    // The cut body cannot be read as an answer: a clear gateway error, never a 200 "incomplete".
    assertThat(answer.status()).as(answer.text()).isEqualTo(502);
    assertThat(answer.json().path("detail").asText()).isNotBlank();
    assertThat(answer.text()).doesNotContain("\"incomplete\"");
  }

  @Test
  void anExecuteAnswerThatEndedEarlyIsAnErrorWithTheDetailBesideIt() throws Exception {
    ProviderResult cut =
        new ProviderResult(
            TextNode.valueOf("Once upon"),
            "gpt-4o",
            new TokenUsage(9, 2, 0, 0, 0),
            0.0001,
            12.5,
            null,
            false);

    JsonNode answer = JSON.readTree(ExternalRoutes.executeAnswer("openai", "llm.complete", cut));

    assertThat(answer.path("status").asText())
        .as("legacy clients know only success and error")
        .isEqualTo("error");
    assertThat(answer.path("incomplete").asBoolean()).isTrue();
    assertThat(answer.path("error").asText()).contains("ended before it finished");
    assertThat(answer.path("result").asText()).isEqualTo("Once upon");
    assertThat(answer.path("tokens_out").asLong()).isEqualTo(2);
    JsonNode whole =
        JSON.readTree(
            ExternalRoutes.executeAnswer(
                "openai",
                "llm.complete",
                new ProviderResult(
                    TextNode.valueOf("done"),
                    "gpt-4o",
                    new TokenUsage(9, 2, 0, 0, 0),
                    0.0,
                    1,
                    null,
                    true)));
    assertThat(whole.path("status").asText()).isEqualTo("success");
    assertThat(whole.has("incomplete")).isFalse();
  }
}
