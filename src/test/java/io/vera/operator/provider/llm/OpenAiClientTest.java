package io.vera.operator.provider.llm;

import static io.vera.operator.provider.llm.Fixtures.CREDENTIALS;
import static io.vera.operator.provider.llm.Fixtures.KEY;
import static io.vera.operator.provider.llm.Fixtures.body;
import static io.vera.operator.provider.llm.Fixtures.dataEvents;
import static io.vera.operator.provider.llm.Fixtures.json;
import static io.vera.operator.provider.llm.Fixtures.jsonResponse;
import static io.vera.operator.provider.llm.Fixtures.request;
import static io.vera.operator.provider.llm.Fixtures.sse;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.offset;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.provider.Credentials;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderResult;
import io.vera.operator.provider.TokenUsage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.Test;

class OpenAiClientTest {
  @StartStop final MockWebServer server = new MockWebServer();
  private final FakeTime time = new FakeTime();

  private OpenAiClient client() {
    return new OpenAiClient(
        LlmConfig.defaults().withBaseUrl(server.url("/v1").toString()).withRetry(time.retry()),
        CREDENTIALS);
  }

  private static final String COMPLETION =
      """
      {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4o-2024-08-06",
        "choices": [
          {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help?", "refusal": null,
                        "annotations": []},
            "logprobs": null,
            "finish_reason": "stop"
          }
        ],
        "usage": {
          "prompt_tokens": 2006,
          "completion_tokens": 300,
          "total_tokens": 2306,
          "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
          "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fc9f1d7035"
      }
      """;

  @Test
  void callSendsTheChatRequestAndReadsUsageIncludingCachedTokens() throws Exception {
    server.enqueue(jsonResponse(200, COMPLETION));

    ProviderResult result =
        client()
            .call(
                request(
                    "gpt-4o",
                    "{\"temperature\": 0.2, \"max_tokens\": 300, \"stop\": \"END\","
                        + " \"system\": \"Be brief.\"}",
                    0));

    RecordedRequest sent = server.takeRequest();
    assertThat(sent.getMethod()).isEqualTo("POST");
    assertThat(sent.getUrl().encodedPath()).isEqualTo("/v1/chat/completions");
    assertThat(sent.getHeaders().get("Authorization")).isEqualTo("Bearer " + KEY);
    assertThat(body(sent))
        .isEqualTo(
            json(
                """
                {"model": "gpt-4o",
                 "messages": [{"role": "system", "content": "Be brief."},
                              {"role": "user", "content": "Say hello"}],
                 "temperature": 0.2, "max_tokens": 300, "stop": ["END"]}
                """));
    assertThat(result.output().asText()).isEqualTo("Hello! How can I help?");
    assertThat(result.model()).isEqualTo("gpt-4o-2024-08-06");
    assertThat(result.usage()).isEqualTo(new TokenUsage(2006, 300, 1920, 0, 0));
    // 86 uncached x 2.50 + 1920 cached x 1.25 + 300 out x 10.00, per million
    assertThat(result.costUsd())
        .isCloseTo((86 * 2.50 + 1920 * 1.25 + 300 * 10.0) / 1e6, offset(1e-12));
    assertThat(result.complete()).isTrue();
    assertThat(result.timeToFirstTokenMs()).isNull();
    assertThat(result.latencyMs()).isPositive();
  }

  @Test
  void readsReasoningTokensOfReasoningModels() throws Exception {
    server.enqueue(
        jsonResponse(
            200,
            """
            {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "o3-2025-04-16",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "42"},
                          "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 20, "completion_tokens": 1210, "total_tokens": 1230,
                       "prompt_tokens_details": {"cached_tokens": 0},
                       "completion_tokens_details": {"reasoning_tokens": 1200}}}
            """));

    ProviderResult result = client().call(request("o3", "{\"max_completion_tokens\": 2000}", 0));

    assertThat(body(server.takeRequest()).get("max_completion_tokens").asInt()).isEqualTo(2000);
    assertThat(result.usage()).isEqualTo(new TokenUsage(20, 1210, 0, 0, 1200));
    assertThat(result.costUsd()).isCloseTo((20 * 2.00 + 1210 * 8.00) / 1e6, offset(1e-12));
  }

  @Test
  void streamTakesUsageFromTheFinalChunkWithoutChoices() throws Exception {
    String chunk =
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
            + "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\","
            + "\"choices\":[{\"index\":0,\"delta\":%s,\"logprobs\":null,\"finish_reason\":%s}],"
            + "\"usage\":null}";
    server.enqueue(
        sse(dataEvents(
                chunk.formatted(
                    "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}", "null"),
                chunk.formatted("{\"content\":\"Hello\"}", "null"),
                chunk.formatted("{\"content\":\" there\"}", "null"),
                chunk.formatted("{}", "\"stop\""),
                "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
                    + "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],"
                    + "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11,"
                    + "\"prompt_tokens_details\":{\"cached_tokens\":0},"
                    + "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}",
                "[DONE]"))
            .build());
    List<String> chunks = new ArrayList<>();

    ProviderResult result = client().stream(request("gpt-4o-mini", "{}", 0), chunks::add);

    JsonNode sent = body(server.takeRequest());
    assertThat(sent.get("stream").asBoolean()).isTrue();
    assertThat(sent.path("stream_options").path("include_usage").asBoolean()).isTrue();
    assertThat(chunks).containsExactly("Hello", " there");
    assertThat(result.output().asText()).isEqualTo("Hello there");
    assertThat(result.usage()).isEqualTo(new TokenUsage(9, 2, 0, 0, 0));
    assertThat(result.costUsd()).isCloseTo((9 * 0.15 + 2 * 0.60) / 1e6, offset(1e-12));
    assertThat(result.model()).isEqualTo("gpt-4o-mini-2024-07-18");
    assertThat(result.complete()).isTrue();
    assertThat(result.timeToFirstTokenMs()).isNotNull().isLessThanOrEqualTo(result.latencyMs());
  }

  @Test
  void streamFromACompatibleServerTakesTheLastUsageOnContentChunks() throws Exception {
    String chunk =
        "{\"id\":\"cmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":1,"
            + "\"model\":\"llama-3.1-8b-instruct\",\"choices\":[{\"index\":0,\"delta\":"
            + "{\"content\":\"%s\"},\"finish_reason\":%s}],\"usage\":{\"prompt_tokens\":12,"
            + "\"completion_tokens\":%d,\"total_tokens\":%d}}";
    server.enqueue(
        sse(dataEvents(
                chunk.formatted("Hi", "null", 1, 13),
                chunk.formatted("!", "null", 2, 14),
                chunk.formatted("", "\"stop\"", 3, 15),
                "[DONE]"))
            .build());

    ProviderResult result =
        client().stream(request("llama-3.1-8b-instruct", "{}", 0), chunk1 -> {});

    assertThat(result.output().asText()).isEqualTo("Hi!");
    assertThat(result.usage()).isEqualTo(new TokenUsage(12, 3, 0, 0, 0));
    assertThat(result.costUsd()).as("unknown model is unpriced").isNull();
    assertThat(result.complete()).isTrue();
  }

  @Test
  void aStreamCutShortReturnsWhatArrivedAsIncompleteAndIsNotReplayed() throws Exception {
    String first =
        dataEvents(
            "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
                + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Once upon\"},"
                + "\"finish_reason\":null}]}");
    String rest =
        dataEvents(
            "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
                + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\""
                + " a time".repeat(40)
                + "\"},\"finish_reason\":null}]}");
    server.enqueue(sse(first + rest).onResponseBody(new SocketEffect.CloseSocket()).build());
    server.enqueue(jsonResponse(200, COMPLETION));
    List<String> chunks = new ArrayList<>();

    ProviderResult result = client().stream(request("gpt-4o", "{}", 3), chunks::add);

    assertThat(chunks).containsExactly("Once upon");
    assertThat(result.output().asText()).isEqualTo("Once upon");
    assertThat(result.complete()).isFalse();
    assertThat(result.usage()).isEqualTo(TokenUsage.NONE);
    assertThat(result.costUsd()).as("no usage arrived").isNull();
    assertThat(server.getRequestCount()).isEqualTo(1);
    assertThat(time.sleeps).isEmpty();
  }

  @Test
  void aConsumerThatGivesUpClosesTheStreamAndGetsWhatWasReceived() throws Exception {
    String chunk =
        "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
            + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"},\"finish_reason\":null}]}";
    server.enqueue(
        sse(dataEvents(chunk.formatted("one"), chunk.formatted("two"), "[DONE]")).build());
    List<String> chunks = new ArrayList<>();

    ProviderResult result =
        client().stream(
            request("gpt-4o", "{}", 3),
            text -> {
              chunks.add(text);
              throw new IllegalStateException("client went away");
            });

    assertThat(chunks).containsExactly("one");
    assertThat(result.output().asText()).isEqualTo("one");
    assertThat(result.complete()).isFalse();
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void anErrorInsideA200StreamAfterOutputEndsItIncomplete() throws Exception {
    server.enqueue(
        sse(dataEvents(
                "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
                    + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Partial\"},"
                    + "\"finish_reason\":null}]}",
                "{\"error\":{\"message\":\"The server had an error while processing your"
                    + " request.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"))
            .build());

    ProviderResult result = client().stream(request("gpt-4o", "{}", 3), c -> {});

    assertThat(result.output().asText()).isEqualTo("Partial");
    assertThat(result.complete()).isFalse();
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void anErrorInsideA200StreamBeforeOutputIsAFailureRetriedWhenRetryable() throws Exception {
    String error =
        "{\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\","
            + "\"param\":null,\"code\":null}}";
    server.enqueue(sse(dataEvents(error)).build());
    server.enqueue(sse(dataEvents(error)).build());

    assertThatThrownBy(() -> client().stream(request("gpt-4o", "{}", 1), c -> {}))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.retryable()).isTrue();
              assertThat(e.getMessage())
                  .contains("error event in the stream")
                  .contains("server_error: The server had an error");
            });
    assertThat(server.getRequestCount()).isEqualTo(2);
    assertThat(time.sleeps).containsExactly(Duration.ofMillis(500));
  }

  @Test
  void honoursRetryAfterSecondsOn429() throws Exception {
    server.enqueue(
        new MockResponse.Builder()
            .code(429)
            .addHeader("content-type", "application/json")
            .addHeader("retry-after", "2")
            .body(
                "{\"error\":{\"message\":\"Rate limit reached for gpt-4o on requests per min"
                    + " (RPM): Limit 500, Used 500, Requested 1.\",\"type\":\"requests\","
                    + "\"param\":null,\"code\":\"rate_limit_exceeded\"}}")
            .build());
    server.enqueue(jsonResponse(200, COMPLETION));

    ProviderResult result = client().call(request("gpt-4o", "{}", 2));

    assertThat(result.output().asText()).isEqualTo("Hello! How can I help?");
    assertThat(time.sleeps).containsExactly(Duration.ofSeconds(2));
    assertThat(server.getRequestCount()).isEqualTo(2);
  }

  @Test
  void honoursRetryAfterAsAnHttpDateAgainstTheServersDate() throws Exception {
    server.enqueue(
        new MockResponse.Builder()
            .code(429)
            .addHeader("Date", "Wed, 21 Oct 2015 07:28:00 GMT")
            .addHeader("Retry-After", "Wed, 21 Oct 2015 07:28:07 GMT")
            .build());
    server.enqueue(jsonResponse(200, COMPLETION));

    client().call(request("gpt-4o", "{}", 1));

    assertThat(time.sleeps).containsExactly(Duration.ofSeconds(7));
  }

  @Test
  void aRetryAfterBeyondTheDeadlineGivesUpAtOnceWith429() throws Exception {
    server.enqueue(new MockResponse.Builder().code(429).addHeader("Retry-After", "60").build());
    server.enqueue(jsonResponse(200, COMPLETION));

    assertThatThrownBy(() -> client().call(request("gpt-4o", "{}", 3, Duration.ofSeconds(30))))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(429);
              assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(60));
              assertThat(e.getMessage()).contains("beyond this call's deadline");
            });
    assertThat(time.sleeps).isEmpty();
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void serverErrorsBackOffExponentiallyUntilRetriesRunOut() throws Exception {
    for (int i = 0; i < 4; i++) {
      server.enqueue(
          jsonResponse(500, "{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}"));
    }

    assertThatThrownBy(() -> client().call(request("gpt-4o", "{}", 3)))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.retryable()).isTrue();
              assertThat(e.getMessage()).isEqualTo("openai failed (HTTP 500): boom");
            });
    assertThat(time.sleeps)
        .containsExactly(Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(2));
    assertThat(server.getRequestCount()).isEqualTo(4);
  }

  @Test
  void rejectedCredentialsAreNotRetriedAndTheKeyIsNeverQuoted() throws Exception {
    server.enqueue(
        jsonResponse(
            401,
            "{\"error\":{\"message\":\"Incorrect API key provided: "
                + KEY
                + ". You can find your API key at https://platform.openai.com/account/api-keys.\","
                + "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}"));
    OpenAiClient client = client();

    assertThatThrownBy(() -> client.call(request("gpt-4o", "{}", 3)))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.retryable()).isFalse();
              assertThat(e.getMessage()).isEqualTo("openai rejected the credentials (HTTP 401)");
            });
    assertThat(server.getRequestCount()).isEqualTo(1);
    assertThat(time.sleeps).isEmpty();
    assertThat(client.toString()).doesNotContain(KEY).contains(server.url("/v1").toString());
    assertThat(CREDENTIALS.toString()).doesNotContain(KEY);
  }

  @Test
  void upstreamMessagesHaveTheKeyRedacted() throws Exception {
    server.enqueue(jsonResponse(400, "{\"error\":{\"message\":\"bad value near '" + KEY + "'\"}}"));

    assertThatThrownBy(() -> client().call(request("gpt-4o", "{}", 0)))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(422);
              assertThat(e.getMessage())
                  .doesNotContain(KEY)
                  .isEqualTo("openai refused the request (HTTP 400): bad value near '[redacted]'");
            });
  }

  @Test
  void unknownParamsAreRefusedBeforeAnythingIsSent() {
    assertThatThrownBy(() -> client().call(request("gpt-4o", "{\"temprature\": 0.5}", 0)))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(422);
              assertThat(e.getMessage())
                  .startsWith("openai does not support param 'temprature' (supported: ")
                  .contains("temperature");
            });
    assertThatThrownBy(() -> client().call(request("gpt-4o", "{\"max_tokens\": \"many\"}", 0)))
        .hasMessage("param 'max_tokens' must be a positive integer");
    assertThat(server.getRequestCount()).isZero();
  }

  @Test
  void aSlowUpstreamTimesOutWith504() {
    server.enqueue(
        new MockResponse.Builder()
            .headersDelay(2, TimeUnit.SECONDS)
            .addHeader("content-type", "application/json")
            .body(COMPLETION)
            .build());
    OpenAiClient client =
        new OpenAiClient(
            LlmConfig.defaults().withBaseUrl(server.url("/v1").toString()), CREDENTIALS);

    assertThatThrownBy(() -> client.call(request("gpt-4o", "{}", 2, Duration.ofMillis(300))))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(504);
              assertThat(e.retryable()).isFalse();
            });
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void compatibleServersNeedNoKey() throws Exception {
    server.enqueue(jsonResponse(200, COMPLETION));

    new OpenAiClient(
            LlmConfig.defaults().withBaseUrl(server.url("/v1/").toString()),
            new Credentials(Map.of()))
        .call(request(null, "{}", 0));

    RecordedRequest sent = server.takeRequest();
    assertThat(sent.getUrl().encodedPath()).isEqualTo("/v1/chat/completions");
    assertThat(sent.getHeaders().get("Authorization")).isNull();
    assertThat(body(sent).get("model").asText()).isEqualTo(OpenAiClient.DEFAULT_MODEL);
  }

  @Test
  void probeListsModels() throws Exception {
    server.enqueue(jsonResponse(200, "{\"object\":\"list\",\"data\":[]}"));

    client().probe();

    RecordedRequest sent = server.takeRequest();
    assertThat(sent.getRequestLine()).isEqualTo("GET /v1/models HTTP/1.1");
    assertThat(sent.getHeaders().get("Authorization")).isEqualTo("Bearer " + KEY);
  }
}
