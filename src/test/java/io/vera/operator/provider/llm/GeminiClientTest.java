package io.vera.operator.provider.llm;

import static io.vera.operator.provider.llm.Fixtures.CREDENTIALS;
import static io.vera.operator.provider.llm.Fixtures.KEY;
import static io.vera.operator.provider.llm.Fixtures.body;
import static io.vera.operator.provider.llm.Fixtures.json;
import static io.vera.operator.provider.llm.Fixtures.jsonResponse;
import static io.vera.operator.provider.llm.Fixtures.request;
import static io.vera.operator.provider.llm.Fixtures.sse;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.offset;

import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderResult;
import io.vera.operator.provider.TokenUsage;
import java.util.ArrayList;
import java.util.List;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

class GeminiClientTest {
  @StartStop final MockWebServer server = new MockWebServer();
  private final FakeTime time = new FakeTime();

  private GeminiClient client() {
    return new GeminiClient(
        LlmConfig.defaults().withBaseUrl(server.url("/v1beta").toString()).withRetry(time.retry()),
        CREDENTIALS);
  }

  /** Gemini ends its SSE lines with CRLF. */
  private static String data(String json) {
    return "data: " + json + "\r\n\r\n";
  }

  private static String chunk(String text, String finishReason, String usage) {
    return data(
        "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \""
            + text
            + "\"}],\"role\": \"model\"}"
            + (finishReason == null ? "" : ",\"finishReason\": \"" + finishReason + "\"")
            + ",\"index\": 0}],\"usageMetadata\": "
            + usage
            + ",\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"abc123\"}");
  }

  @Test
  void callPutsTheKeyInAHeaderNeverTheUrlAndCountsThoughtsAsOutput() throws Exception {
    server.enqueue(
        jsonResponse(
            200,
            """
            {"candidates": [{"content": {"parts": [{"text": "Hello there."}], "role": "model"},
                             "finishReason": "STOP", "index": 0}],
             "usageMetadata": {"promptTokenCount": 1200, "candidatesTokenCount": 4,
                               "totalTokenCount": 1240, "cachedContentTokenCount": 1000,
                               "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1200}],
                               "thoughtsTokenCount": 36},
             "modelVersion": "gemini-2.5-pro", "responseId": "mIJfaK3xCbO3nvgPs-ORsAk"}
            """));

    ProviderResult result =
        client()
            .call(
                request(
                    "gemini-2.5-pro",
                    "{\"temperature\": 0.1, \"max_tokens\": 256, \"top_p\": 0.9,"
                        + " \"stop\": \"END\", \"system\": \"Be brief.\"}",
                    0));

    RecordedRequest sent = server.takeRequest();
    assertThat(sent.getUrl().encodedPath())
        .isEqualTo("/v1beta/models/gemini-2.5-pro:generateContent");
    assertThat(sent.getUrl().query()).isNull();
    assertThat(sent.getRequestLine()).doesNotContain(KEY);
    assertThat(sent.getHeaders().get("x-goog-api-key")).isEqualTo(KEY);
    assertThat(body(sent))
        .isEqualTo(
            json(
                """
                {"contents": [{"role": "user", "parts": [{"text": "Say hello"}]}],
                 "systemInstruction": {"parts": [{"text": "Be brief."}]},
                 "generationConfig": {"temperature": 0.1, "topP": 0.9, "maxOutputTokens": 256,
                                      "stopSequences": ["END"]}}
                """));
    assertThat(result.output().asText()).isEqualTo("Hello there.");
    assertThat(result.usage()).isEqualTo(new TokenUsage(1200, 40, 1000, 0, 36));
    // 200 x 1.25 + 1000 cached x 0.125 + 40 out x 10.00, per million
    assertThat(result.costUsd())
        .isCloseTo((200 * 1.25 + 1000 * 0.125 + 40 * 10.0) / 1e6, offset(1e-12));
  }

  @Test
  void streamTakesTheLastUsageMetadata() throws Exception {
    server.enqueue(
        sse(chunk("Hel", null, "{\"promptTokenCount\": 8, \"totalTokenCount\": 8}")
                + chunk(
                    "lo",
                    null,
                    "{\"promptTokenCount\": 8, \"candidatesTokenCount\": 2, \"totalTokenCount\": 10}")
                + chunk(
                    "!",
                    "STOP",
                    "{\"promptTokenCount\": 8, \"candidatesTokenCount\": 3,"
                        + " \"totalTokenCount\": 31, \"thoughtsTokenCount\": 20}"))
            .build());
    List<String> chunks = new ArrayList<>();

    ProviderResult result = client().stream(request("gemini-2.5-flash", "{}", 0), chunks::add);

    RecordedRequest sent = server.takeRequest();
    assertThat(sent.getUrl().encodedPath())
        .isEqualTo("/v1beta/models/gemini-2.5-flash:streamGenerateContent");
    assertThat(sent.getUrl().query()).isEqualTo("alt=sse");
    assertThat(sent.getHeaders().get("x-goog-api-key")).isEqualTo(KEY);
    assertThat(chunks).containsExactly("Hel", "lo", "!");
    assertThat(result.usage()).isEqualTo(new TokenUsage(8, 23, 0, 0, 20));
    assertThat(result.costUsd()).isCloseTo((8 * 0.30 + 23 * 2.50) / 1e6, offset(1e-12));
    assertThat(result.model()).isEqualTo("gemini-2.5-flash");
    assertThat(result.complete()).isTrue();
  }

  @Test
  void aStreamEndingWithoutAFinishReasonIsIncomplete() throws Exception {
    String first = chunk("Once", null, "{\"promptTokenCount\": 8, \"candidatesTokenCount\": 1}");
    String rest =
        chunk(
            " upon a time".repeat(30),
            "STOP",
            "{\"promptTokenCount\": 8, \"candidatesTokenCount\": 90}");
    server.enqueue(sse(first + rest).onResponseBody(new SocketEffect.CloseSocket()).build());

    ProviderResult result = client().stream(request("gemini-2.5-flash", "{}", 2), c -> {});

    assertThat(result.output().asText()).isEqualTo("Once");
    assertThat(result.complete()).isFalse();
    assertThat(result.usage()).isEqualTo(new TokenUsage(8, 1, 0, 0, 0));
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void aBlockedPromptIsRefused() {
    server.enqueue(
        jsonResponse(
            200,
            "{\"promptFeedback\": {\"blockReason\": \"SAFETY\"},"
                + " \"usageMetadata\": {\"promptTokenCount\": 7, \"totalTokenCount\": 7},"
                + " \"modelVersion\": \"gemini-2.0-flash\"}"));

    assertThatThrownBy(() -> client().call(request("gemini-2.0-flash", "{}", 2)))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(422);
              assertThat(e.getMessage()).isEqualTo("gemini blocked the prompt (SAFETY)");
            });
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void aBadKeyIsReportedWithoutTheKey() {
    server.enqueue(
        jsonResponse(
            400,
            "{\"error\": {\"code\": 400, \"message\": \"API key not valid. Please pass a valid API"
                + " key.\", \"status\": \"INVALID_ARGUMENT\"}}"));

    assertThatThrownBy(() -> client().call(request("gemini-2.0-flash", "{}", 2)))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(422);
              assertThat(e.getMessage()).doesNotContain(KEY).contains("API key not valid");
            });
  }

  @Test
  void probeListsModelsWithTheKeyInAHeader() throws Exception {
    server.enqueue(jsonResponse(200, "{\"models\": []}"));

    client().probe();

    RecordedRequest sent = server.takeRequest();
    assertThat(sent.getRequestLine()).isEqualTo("GET /v1beta/models HTTP/1.1");
    assertThat(sent.getHeaders().get("x-goog-api-key")).isEqualTo(KEY);
  }
}
