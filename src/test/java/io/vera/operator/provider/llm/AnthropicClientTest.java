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

import io.vera.operator.provider.Credentials;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderResult;
import io.vera.operator.provider.TokenUsage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

class AnthropicClientTest {
  @StartStop final MockWebServer server = new MockWebServer();
  private final FakeTime time = new FakeTime();

  private AnthropicClient client() {
    return new AnthropicClient(
        LlmConfig.defaults().withBaseUrl(server.url("/").toString()).withRetry(time.retry()),
        CREDENTIALS);
  }

  private static String event(String name, String data) {
    return "event: " + name + "\ndata: " + data + "\n\n";
  }

  private static final String MESSAGE_START =
      event(
          "message_start",
          "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\","
              + "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
              + "\"model\":\"claude-sonnet-4-20250514\",\"stop_reason\":null,"
              + "\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,"
              + "\"cache_creation_input_tokens\":1000,\"cache_read_input_tokens\":2000,"
              + "\"output_tokens\":1,\"service_tier\":\"standard\"}}}");

  private static final String BLOCK_START =
      event(
              "content_block_start",
              "{\"type\":\"content_block_start\",\"index\":0,"
                  + "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")
          + event("ping", "{\"type\": \"ping\"}");

  private static String delta(String text) {
    return event(
        "content_block_delta",
        "{\"type\":\"content_block_delta\",\"index\":0,"
            + "\"delta\":{\"type\":\"text_delta\",\"text\":\""
            + text
            + "\"}}");
  }

  private static String messageDelta(int outputTokens) {
    return event(
        "message_delta",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":null,\"stop_sequence\":null},"
            + "\"usage\":{\"output_tokens\":"
            + outputTokens
            + "}}");
  }

  @Test
  void callSendsAMessagesRequestAndCountsCacheTokensAsInput() throws Exception {
    server.enqueue(
        jsonResponse(
            200,
            """
            {"id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message", "role": "assistant",
             "model": "claude-sonnet-4-20250514",
             "content": [{"type": "thinking", "thinking": "hmm", "signature": "x"},
                         {"type": "text", "text": "Hi! My name is Claude."}],
             "stop_reason": "end_turn", "stop_sequence": null,
             "usage": {"input_tokens": 100, "cache_creation_input_tokens": 2000,
                       "cache_read_input_tokens": 1000, "output_tokens": 50,
                       "service_tier": "standard"}}
            """));

    ProviderResult result =
        client()
            .call(
                request(
                    "claude-sonnet-4-20250514",
                    "{\"system\": \"Be brief.\", \"stop\": [\"\\n\\nHuman:\"], \"top_k\": 5}",
                    0));

    RecordedRequest sent = server.takeRequest();
    assertThat(sent.getUrl().encodedPath()).isEqualTo("/v1/messages");
    assertThat(sent.getHeaders().get("x-api-key")).isEqualTo(KEY);
    assertThat(sent.getHeaders().get("anthropic-version")).isEqualTo("2023-06-01");
    assertThat(sent.getHeaders().get("Authorization")).isNull();
    assertThat(body(sent))
        .isEqualTo(
            json(
                """
                {"model": "claude-sonnet-4-20250514", "max_tokens": 4096, "system": "Be brief.",
                 "messages": [{"role": "user", "content": "Say hello"}],
                 "top_k": 5, "stop_sequences": ["\\n\\nHuman:"]}
                """));
    assertThat(result.output().asText()).isEqualTo("Hi! My name is Claude.");
    assertThat(result.usage()).isEqualTo(new TokenUsage(3100, 50, 1000, 2000, 0));
    // 100 x 3.00 + 1000 read x 0.30 + 2000 written x 3.75 + 50 out x 15.00, per million
    assertThat(result.costUsd()).isCloseTo(0.00885, offset(1e-12));
  }

  @Test
  void streamReplacesOutputTokensWithEachCumulativeMessageDelta() throws Exception {
    server.enqueue(
        sse(MESSAGE_START
                + BLOCK_START
                + delta("Hello")
                + delta("!")
                + event("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}")
                + messageDelta(10)
                + event(
                    "message_delta",
                    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
                        + "\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}")
                + event("message_stop", "{\"type\":\"message_stop\"}"))
            .build());
    List<String> chunks = new ArrayList<>();

    ProviderResult result =
        client().stream(request("claude-sonnet-4-0", "{\"max_tokens\": 64}", 0), chunks::add);

    assertThat(body(server.takeRequest()).get("stream").asBoolean()).isTrue();
    assertThat(chunks).containsExactly("Hello", "!");
    assertThat(result.usage().outputTokens()).as("cumulative, not 1 + 10 + 15").isEqualTo(15);
    assertThat(result.usage()).isEqualTo(new TokenUsage(3025, 15, 2000, 1000, 0));
    assertThat(result.model()).isEqualTo("claude-sonnet-4-20250514");
    assertThat(result.complete()).isTrue();
  }

  @Test
  void aStreamCutShortKeepsTheUsageThatArrived() throws Exception {
    String first = MESSAGE_START + BLOCK_START + delta("Once upon a time");
    String rest =
        delta(" there was".repeat(100)) + event("message_stop", "{\"type\":\"message_stop\"}");
    server.enqueue(sse(first + rest).onResponseBody(new SocketEffect.CloseSocket()).build());
    List<String> chunks = new ArrayList<>();

    ProviderResult result = client().stream(request("claude-sonnet-4", "{}", 3), chunks::add);

    assertThat(chunks).containsExactly("Once upon a time");
    assertThat(result.complete()).isFalse();
    assertThat(result.usage()).isEqualTo(new TokenUsage(3025, 1, 2000, 1000, 0));
    assertThat(result.costUsd()).isNotNull();
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void anErrorEventAfterOutputEndsTheStreamIncomplete() throws Exception {
    server.enqueue(
        sse(MESSAGE_START
                + BLOCK_START
                + delta("Partial")
                + event(
                    "error",
                    "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                        + "\"message\":\"Overloaded\"}}"))
            .build());

    ProviderResult result = client().stream(request("claude-sonnet-4", "{}", 3), c -> {});

    assertThat(result.output().asText()).isEqualTo("Partial");
    assertThat(result.complete()).isFalse();
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void anOverloadedErrorEventBeforeOutputIsRetried() throws Exception {
    server.enqueue(
        sse(MESSAGE_START
                + event(
                    "error",
                    "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                        + "\"message\":\"Overloaded\"}}"))
            .build());
    server.enqueue(
        sse(MESSAGE_START
                + BLOCK_START
                + delta("Fine")
                + messageDelta(3)
                + event("message_stop", "{\"type\":\"message_stop\"}"))
            .build());

    ProviderResult result = client().stream(request("claude-sonnet-4", "{}", 1), c -> {});

    assertThat(result.output().asText()).isEqualTo("Fine");
    assertThat(result.complete()).isTrue();
    assertThat(server.getRequestCount()).isEqualTo(2);
    assertThat(time.sleeps).containsExactly(Duration.ofMillis(500));
  }

  @Test
  void overloaded529BacksOffThenSucceeds() throws Exception {
    String overloaded =
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
    server.enqueue(jsonResponse(529, overloaded));
    server.enqueue(jsonResponse(529, overloaded));
    server.enqueue(
        jsonResponse(
            200,
            "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
                + "\"model\":\"claude-3-5-haiku-20241022\",\"content\":[{\"type\":\"text\","
                + "\"text\":\"ok\"}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":10,"
                + "\"output_tokens\":2}}"));

    ProviderResult result = client().call(request("claude-3-5-haiku-latest", "{}", 3));

    assertThat(result.output().asText()).isEqualTo("ok");
    assertThat(result.usage()).isEqualTo(new TokenUsage(10, 2, 0, 0, 0));
    assertThat(result.costUsd()).isCloseTo((10 * 0.80 + 2 * 4.00) / 1e6, offset(1e-12));
    assertThat(time.sleeps).containsExactly(Duration.ofMillis(500), Duration.ofSeconds(1));
  }

  @Test
  void anOverloadedUpstreamThatStaysSoIsReportedAsRetryable502() {
    for (int i = 0; i < 2; i++) {
      server.enqueue(
          jsonResponse(
              529,
              "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                  + "\"message\":\"Overloaded\"}}"));
    }

    assertThatThrownBy(() -> client().call(request("claude-sonnet-4", "{}", 1)))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.retryable()).isTrue();
              assertThat(e.getMessage())
                  .isEqualTo("anthropic is overloaded (HTTP 529): Overloaded");
            });
  }

  @Test
  void rejectedCredentialsAreNotRetried() {
    server.enqueue(
        jsonResponse(
            401,
            "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\","
                + "\"message\":\"invalid x-api-key\"}}"));

    assertThatThrownBy(() -> client().stream(request("claude-sonnet-4", "{}", 3), c -> {}))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.retryable()).isFalse();
              assertThat(e.getMessage()).isEqualTo("anthropic rejected the credentials (HTTP 401)");
            });
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void aMissingKeyIsRefusedWithoutCallingOut() {
    AnthropicClient client =
        new AnthropicClient(
            LlmConfig.defaults().withBaseUrl(server.url("/").toString()),
            new Credentials(Map.of()));

    assertThatThrownBy(() -> client.call(request("claude-sonnet-4", "{}", 0)))
        .isInstanceOfSatisfying(
            ProviderException.class, e -> assertThat(e.status()).isEqualTo(400));
    assertThatThrownBy(() -> client.call(request("claude-sonnet-4", "{\"seed\": 1}", 0)))
        .isInstanceOfSatisfying(
            ProviderException.class, e -> assertThat(e.status()).isEqualTo(422));
    assertThat(server.getRequestCount()).isZero();
  }
}
