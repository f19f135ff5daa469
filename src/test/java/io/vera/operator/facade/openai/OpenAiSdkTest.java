package io.vera.operator.facade.openai;

import static io.vera.operator.facade.openai.FakeUpstream.json;
import static io.vera.operator.facade.openai.FakeUpstream.sse;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.app.OperatorHarness;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import mockwebserver3.SocketEffect;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The official OpenAI SDK (npm {@code openai}) driving {@code /v1} of a whole operator in-process,
 * in front of fake OpenAI, Anthropic and Gemini APIs that answer in each one's real wire format.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpenAiSdkTest {
  private static final String KEY = "sk-test-GATEWAY-0123456789";

  private FakeUpstream openai;
  private FakeUpstream anthropic;
  private FakeUpstream gemini;
  private OperatorHarness harness;
  private NodeSdk sdk;

  @BeforeAll
  void start() throws Exception {
    NodeSdk.assumeAvailable();
    openai = new FakeUpstream("{\"object\":\"list\",\"data\":[]}");
    anthropic = new FakeUpstream("{\"data\":[],\"has_more\":false}");
    gemini = new FakeUpstream("{\"models\":[]}");
    harness = new OperatorHarness();
    provider("openai", ProviderSpec.Type.OpenAI, openai.url("/v1"));
    provider("anthropic", ProviderSpec.Type.Anthropic, anthropic.url("/"));
    provider("gemini", ProviderSpec.Type.Gemini, gemini.url("/v1beta"));
    ProviderSpec.Limits limits = new ProviderSpec.Limits();
    limits.monthlyBudgetUsd = 0.01;
    ProviderSpec.ModelPrice price = new ProviderSpec.ModelPrice();
    price.model = "priced-model";
    price.inputPerMillion = 100.0;
    price.outputPerMillion = 400.0;
    provider("budgeted", ProviderSpec.Type.OpenAI, openai.url("/v1"), limits, List.of(price));
    provider(
        "router",
        ProviderSpec.Type.OpenAI,
        openai.url("/v1"),
        null,
        null,
        List.of(
            route("fallback-chat", "openai", "gpt-4o-mini", "anthropic", CLAUDE),
            route("cut-stream", "openai", "gpt-4o", "anthropic", CLAUDE),
            route("stream-fallback", "anthropic", CLAUDE, "openai", "gpt-4.1-mini"),
            route(
                "embed-default",
                "openai",
                "text-embedding-3-small",
                "gemini",
                "gemini-embedding-001"),
            route("transcribe-default", "openai", "whisper-1", "gemini", "gemini-2.5-flash")));
    for (String name : List.of("openai", "anthropic", "gemini", "budgeted", "router")) {
      harness.awaitProviderReady(name, Duration.ofSeconds(90));
    }
    sdk = new NodeSdk(harness.baseUrl());
  }

  @AfterAll
  void stop() {
    if (harness != null) {
      harness.close();
    }
    for (FakeUpstream upstream : new FakeUpstream[] {openai, anthropic, gemini}) {
      if (upstream != null) {
        upstream.close();
      }
    }
  }

  private void provider(String name, ProviderSpec.Type type, String endpoint) {
    provider(name, type, endpoint, null, null);
  }

  private static final String CLAUDE = "claude-sonnet-4-20250514";

  /** A route to {@code provider}/{@code model}, falling back to the second target. */
  private static ProviderSpec.Route route(
      String name, String provider, String model, String fallbackProvider, String fallbackModel) {
    ProviderSpec.RouteTarget first = new ProviderSpec.RouteTarget();
    first.provider = provider;
    first.model = model;
    ProviderSpec.RouteTarget fallback = new ProviderSpec.RouteTarget();
    fallback.provider = fallbackProvider;
    fallback.model = fallbackModel;
    fallback.weight = 0;
    ProviderSpec.Route route = new ProviderSpec.Route();
    route.name = name;
    route.targets = List.of(first, fallback);
    return route;
  }

  private void provider(
      String name,
      ProviderSpec.Type type,
      String endpoint,
      ProviderSpec.Limits limits,
      List<ProviderSpec.ModelPrice> pricing) {
    provider(name, type, endpoint, limits, pricing, null);
  }

  private void provider(
      String name,
      ProviderSpec.Type type,
      String endpoint,
      ProviderSpec.Limits limits,
      List<ProviderSpec.ModelPrice> pricing,
      List<ProviderSpec.Route> routes) {
    harness
        .client()
        .secrets()
        .inNamespace(OperatorHarness.NAMESPACE)
        .resource(
            new SecretBuilder()
                .withMetadata(new ObjectMetaBuilder().withName(name + "-key").build())
                .withStringData(Map.of("apiKey", KEY))
                .build())
        .create();
    ProviderSpec spec = new ProviderSpec();
    spec.type = type;
    spec.endpoint = endpoint;
    spec.credentialsSecretRef = new ProviderSpec.SecretRef();
    spec.credentialsSecretRef.name = name + "-key";
    spec.retries = 0;
    spec.timeoutSeconds = 20;
    spec.limits = limits;
    spec.pricing = pricing;
    spec.routes = routes;
    Provider provider = new Provider();
    provider.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(OperatorHarness.NAMESPACE).build());
    provider.setSpec(spec);
    harness.client().resources(Provider.class).resource(provider).create();
  }

  private static String openAiChunk(String delta, String finish, String usage) {
    return "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,"
        + "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":"
        + delta
        + ",\"logprobs\":null,\"finish_reason\":"
        + (finish == null ? "null" : "\"" + finish + "\"")
        + "}]"
        + (usage == null ? "" : ",\"usage\":" + usage)
        + "}\n\n";
  }

  private static final String OPENAI_USAGE_CHUNK =
      "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,"
          + "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,"
          + "\"completion_tokens\":3,\"total_tokens\":15,\"prompt_tokens_details\":"
          + "{\"cached_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n";

  private static List<String> contents(JsonNode chunks) {
    List<String> contents = new ArrayList<>();
    for (JsonNode chunk : chunks) {
      JsonNode content = chunk.path("choices").path(0).path("delta").path("content");
      if (content.isTextual() && !content.asText().isEmpty()) {
        contents.add(content.asText());
      }
    }
    return contents;
  }

  // ---- OpenAI and compatible upstreams: the body passed on -----------------------------------

  @Test
  void anOpenAiBodyIsPassedOnWithParamsVeraDoesNotKnowAndTheAnswerComesBack() throws Exception {
    openai.answer(
        json(
            200,
            "{\"id\":\"chatcmpl-B9MBs8\",\"object\":\"chat.completion\",\"created\":1741569952,"
                + "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":"
                + "{\"role\":\"assistant\",\"content\":\"Bonjour!\",\"refusal\":null,"
                + "\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":"
                + "{\"prompt_tokens\":19,\"completion_tokens\":10,\"total_tokens\":29,"
                + "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
                + "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0}},"
                + "\"service_tier\":\"default\",\"system_fingerprint\":\"fp_fc9f1d7035\"}"));

    JsonNode completion =
        sdk.ok(
            "chat",
            "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"Say hello in French\"}],\"service_tier\":\"flex\",\"logit_bias\":"
                + "{\"50256\":-100},\"a_param_of_next_year\":{\"x\":1}}");

    assertThat(completion.at("/choices/0/message/content").asText()).isEqualTo("Bonjour!");
    assertThat(completion.at("/usage/total_tokens").asInt()).isEqualTo(29);
    JsonNode sent = openai.lastBody();
    assertThat(sent.path("model").asText()).isEqualTo("gpt-4o-mini");
    assertThat(sent.path("service_tier").asText()).isEqualTo("flex");
    assertThat(sent.at("/logit_bias/50256").asInt()).isEqualTo(-100);
    assertThat(sent.at("/a_param_of_next_year/x").asInt()).isEqualTo(1);
    assertThat(openai.lastCall().getHeaders().get("Authorization")).isEqualTo("Bearer " + KEY);
  }

  @Test
  void aStreamWithIncludeUsageEndsWithTheUsageChunkEvenWhenUsageAlsoCameOnAContentChunk()
      throws Exception {
    openai.answer(
        sse(openAiChunk("{\"role\":\"assistant\",\"content\":\"\"}", null, null)
                + openAiChunk(
                    "{\"content\":\"Once\"}",
                    null,
                    "{\"prompt_tokens\":12,\"completion_tokens\":1,\"total_tokens\":13}")
                + openAiChunk("{\"content\":\" upon\"}", "stop", null)
                + OPENAI_USAGE_CHUNK
                + "data: [DONE]\n\n")
            .build());

    JsonNode result =
        sdk.ok(
            "stream",
            "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"Tell a story\"}],\"stream_options\":{\"include_usage\":true}}");

    assertThat(result.has("error")).as(result.toString()).isFalse();
    JsonNode chunks = result.path("chunks");
    assertThat(contents(chunks)).containsExactly("Once", " upon");
    JsonNode last = chunks.get(chunks.size() - 1);
    assertThat(last.path("choices").isEmpty()).isTrue();
    assertThat(last.at("/usage/completion_tokens").asInt()).isEqualTo(3);
  }

  @Test
  void aStreamWithoutIncludeUsageGetsNoUsageChunkWhileVeraStillReadsTheUsage() throws Exception {
    openai.answer(
        sse(openAiChunk("{\"role\":\"assistant\",\"content\":\"Hi\"}", null, null)
                + openAiChunk("{}", "stop", null)
                + OPENAI_USAGE_CHUNK
                + "data: [DONE]\n\n")
            .build());
    long tokensBefore = tokensIn("openai");

    JsonNode result =
        sdk.ok(
            "stream",
            "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"Hi\"}]}");

    assertThat(contents(result.path("chunks"))).containsExactly("Hi");
    for (JsonNode chunk : result.path("chunks")) {
      assertThat(chunk.path("choices").isEmpty()).as(chunk.toString()).isFalse();
    }
    assertThat(openai.lastBody().at("/stream_options/include_usage").asBoolean())
        .as("asked of the upstream anyway, for the ledger")
        .isTrue();
    assertThat(tokensIn("openai") - tokensBefore).isEqualTo(12);
    assertThat(harness.get("/metrics").text())
        .containsPattern(
            "gen_ai_client_token_usage_bucket\\{[^}]*gen_ai_provider_name=\"openai\","
                + "gen_ai_request_model=\"gpt-4o-mini\",gen_ai_token_type=\"input\",le=\"16\\.0\"\\} [1-9]")
        .contains("gen_ai_client_operation_time_to_first_chunk_seconds_bucket")
        .contains("gen_ai_client_operation_duration_seconds_bucket");
  }

  @Test
  void aStreamCutAfterItsFirstChunkEndsWithAnErrorTheSdkRaisesAndNoDone() throws Exception {
    String first =
        openAiChunk("{\"role\":\"assistant\",\"content\":\"Once upon a time\"}", null, null);
    String rest = openAiChunk("{\"content\":\" there was\"}", null, null).repeat(200);
    openai.answer(sse(first + rest).onResponseBody(new SocketEffect.CloseSocket()).build());

    JsonNode result =
        sdk.ok(
            "stream",
            "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"Tell a story\"}]}");

    assertThat(contents(result.path("chunks"))).startsWith("Once upon a time");
    assertThat(result.path("error").path("message").asText()).contains("ended before it finished");
  }

  @Test
  void anUpstreamRateLimitBeforeTheFirstByteIsA429TheSdkRecognises() throws Exception {
    openai.answer(
        json(
            429,
            "{\"error\":{\"message\":\"Rate limit reached for gpt-4o-mini\",\"type\":\"requests\","
                + "\"param\":null,\"code\":\"rate_limit_exceeded\"}}"));

    JsonNode error =
        sdk.error(
            "stream",
            "{\"model\":\"openai/gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"Hi\"}]}");

    assertThat(error.path("name").asText()).isEqualTo("RateLimitError");
    assertThat(error.path("status").asInt()).isEqualTo(429);
    assertThat(error.path("message").asText()).contains("Rate limit reached");
  }

  @Test
  void aModelOfNoProviderIsA404NamingIt() throws Exception {
    JsonNode error =
        sdk.error(
            "chat",
            "{\"model\":\"nowhere/gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");

    assertThat(error.path("name").asText()).isEqualTo("NotFoundError");
    assertThat(error.path("code").asText()).isEqualTo("model_not_found");
    assertThat(error.path("message").asText()).contains("nowhere");
  }

  @Test
  void badBodiesAreRefusedInOpenAisShapeNamingTheField() {
    OperatorHarness.Response noModel = harness.post("/v1/chat/completions", "{}");
    assertThat(noModel.status()).isEqualTo(400);
    assertThat(noModel.json().at("/error/param").asText()).isEqualTo("model");
    assertThat(noModel.json().at("/error/type").asText()).isEqualTo("invalid_request_error");

    OperatorHarness.Response notJson = harness.post("/v1/chat/completions", "{\"model\":");
    assertThat(notJson.status()).isEqualTo(400);
    assertThat(notJson.json().at("/error/message").asText()).contains("not valid JSON");

    OperatorHarness.Response unknownPath = harness.get("/v1/nope");
    assertThat(unknownPath.status()).isEqualTo(404);
    assertThat(unknownPath.json().at("/error/message").asText()).containsIgnoringCase("not found");
  }

  @Test
  void theModelListNamesEachLlmProvidersModels() throws Exception {
    JsonNode ids = sdk.ok("models", null).path("ids");

    assertThat(ids.toString())
        .contains("\"openai/gpt-4o-mini\"")
        .contains("\"anthropic/claude-sonnet-4-20250514\"")
        .contains("\"gemini/gemini-2.5-flash\"")
        .contains("\"fallback-chat\"");
  }

  // ---- budgets and prices --------------------------------------------------------------------

  private static String answerWithUsage(int promptTokens, int completionTokens) {
    return "{\"id\":\"chatcmpl-b\",\"object\":\"chat.completion\",\"created\":1741569952,"
        + "\"model\":\"priced-model\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
        + "\"assistant\",\"content\":\"ok\"},\"finish_reason\":\"stop\"}],\"usage\":"
        + "{\"prompt_tokens\":"
        + promptTokens
        + ",\"completion_tokens\":"
        + completionTokens
        + ",\"total_tokens\":"
        + (promptTokens + completionTokens)
        + "}}";
  }

  @Test
  void aBudgetReachedMidMonthRefusesTheNextCallWith429NamingTheBudget() throws Exception {
    // The call reserves its worst case first: a few prompt tokens and max_tokens 20, under $0.01.
    String call =
        "{\"model\":\"budgeted/priced-model\",\"max_tokens\":20,\"messages\":[{\"role\":"
            + "\"user\",\"content\":\"Hi\"}]}";
    // 20 + 20 tokens at $100/$400 per million: $0.01 exactly, the whole budget.
    openai.answer(json(200, answerWithUsage(20, 20)));
    sdk.ok("chat", call);
    int callsBefore = openai.callCount();

    JsonNode error = sdk.error("chat", call);

    assertThat(error.path("name").asText()).isEqualTo("RateLimitError");
    assertThat(error.path("code").asText()).isEqualTo("budget_exceeded");
    assertThat(error.path("message").asText()).contains("monthly budget of $0.01");
    assertThat(openai.callCount()).as("refused before the upstream").isEqualTo(callsBefore);
  }

  @Test
  void anUnpricedModelUnderABudgetIsRefusedNamingItAndCounted() throws Exception {
    int callsBefore = openai.callCount();

    JsonNode error =
        sdk.error(
            "chat",
            "{\"model\":\"budgeted/mystery-model\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"Hi\"}]}");

    assertThat(error.path("name").asText()).isEqualTo("BadRequestError");
    assertThat(error.path("code").asText()).isEqualTo("model_not_priced");
    assertThat(error.path("param").asText()).isEqualTo("model");
    assertThat(error.path("message").asText()).contains("mystery-model").contains("spec.pricing");
    assertThat(openai.callCount()).isEqualTo(callsBefore);
    assertThat(harness.get("/metrics").text())
        .containsPattern(
            "vera_provider_unpriced_calls_total\\{[^}]*model=\"mystery-model\",outcome=\"refused\"");
  }

  // ---- Anthropic: translated both ways -------------------------------------------------------

  @Test
  void toolCallsRoundTripThroughAnthropic() throws Exception {
    anthropic.answer(
        json(
            200,
            "{\"id\":\"msg_01Aq9w938a90dw8q\",\"type\":\"message\",\"role\":\"assistant\","
                + "\"model\":\"claude-sonnet-4-20250514\",\"content\":[{\"type\":\"text\","
                + "\"text\":\"I'll check the weather.\"},{\"type\":\"tool_use\","
                + "\"id\":\"toolu_01A09q90qw90lq917835lq9\",\"name\":\"get_weather\","
                + "\"input\":{\"location\":\"San Francisco, CA\"}}],\"stop_reason\":\"tool_use\","
                + "\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":91,"
                + "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":100}}"));
    String tools =
        "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":"
            + "\"Weather at a place\",\"parameters\":{\"type\":\"object\",\"properties\":"
            + "{\"location\":{\"type\":\"string\"}},\"required\":[\"location\"]}}}]";

    JsonNode first =
        sdk.ok(
            "chat",
            "{\"model\":\"anthropic/claude-sonnet-4-20250514\",\"max_tokens\":256,\"messages\":["
                + "{\"role\":\"system\",\"content\":\"Be brief.\"},"
                + "{\"role\":\"user\",\"content\":\"Weather in SF?\"}],\"tools\":"
                + tools
                + ",\"stop\":\"END\"}");

    JsonNode call = first.at("/choices/0/message/tool_calls/0");
    assertThat(first.at("/choices/0/finish_reason").asText()).isEqualTo("tool_calls");
    assertThat(call.path("id").asText()).isEqualTo("toolu_01A09q90qw90lq917835lq9");
    assertThat(call.at("/function/name").asText()).isEqualTo("get_weather");
    assertThat(call.at("/function/arguments").asText())
        .isEqualTo("{\"location\":\"San Francisco, CA\"}");
    assertThat(first.at("/usage/prompt_tokens").asInt()).isEqualTo(572);
    assertThat(first.at("/usage/prompt_tokens_details/cached_tokens").asInt()).isEqualTo(100);
    JsonNode sent = anthropic.lastBody();
    assertThat(sent.at("/system/0/text").asText()).isEqualTo("Be brief.");
    assertThat(sent.at("/tools/0/input_schema/required/0").asText()).isEqualTo("location");
    assertThat(sent.at("/stop_sequences/0").asText()).isEqualTo("END");
    assertThat(sent.path("max_tokens").asInt()).isEqualTo(256);
    assertThat(anthropic.lastCall().getHeaders().get("x-api-key")).isEqualTo(KEY);

    anthropic.answer(
        json(
            200,
            "{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
                + "\"claude-sonnet-4-20250514\",\"content\":[{\"type\":\"text\",\"text\":"
                + "\"It is 15 degrees.\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
                + "\"usage\":{\"input_tokens\":600,\"output_tokens\":8}}"));
    JsonNode second =
        sdk.ok(
            "chat",
            "{\"model\":\"anthropic/claude-sonnet-4-20250514\",\"messages\":["
                + "{\"role\":\"user\",\"content\":\"Weather in SF?\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
                + call
                + "]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\"toolu_01A09q90qw90lq917835lq9\","
                + "\"content\":\"15 degrees, sunny\"}],\"tools\":"
                + tools
                + "}");

    assertThat(second.at("/choices/0/message/content").asText()).isEqualTo("It is 15 degrees.");
    assertThat(second.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
    JsonNode turns = anthropic.lastBody().path("messages");
    assertThat(turns.at("/1/role").asText()).isEqualTo("assistant");
    assertThat(turns.at("/1/content/0/type").asText()).isEqualTo("tool_use");
    assertThat(turns.at("/1/content/0/input/location").asText()).isEqualTo("San Francisco, CA");
    assertThat(turns.at("/2/role").asText()).isEqualTo("user");
    assertThat(turns.at("/2/content/0/type").asText()).isEqualTo("tool_result");
    assertThat(turns.at("/2/content/0/tool_use_id").asText())
        .isEqualTo("toolu_01A09q90qw90lq917835lq9");
  }

  private static String event(String name, String data) {
    return "event: " + name + "\ndata: " + data + "\n\n";
  }

  @Test
  void anAnthropicStreamBecomesChunksWithTextToolCallsAndUsage() throws Exception {
    anthropic.answer(
        sse(event(
                    "message_start",
                    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\","
                        + "\"type\":\"message\",\"role\":\"assistant\",\"model\":"
                        + "\"claude-sonnet-4-20250514\",\"stop_sequence\":null,\"usage\":"
                        + "{\"input_tokens\":472,\"output_tokens\":2},\"content\":[],"
                        + "\"stop_reason\":null}}")
                + event(
                    "content_block_start",
                    "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
                        + "{\"type\":\"text\",\"text\":\"\"}}")
                + event("ping", "{\"type\": \"ping\"}")
                + event(
                    "content_block_delta",
                    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
                        + "\"text_delta\",\"text\":\"Checking.\"}}")
                + event("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}")
                + event(
                    "content_block_start",
                    "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":"
                        + "{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\","
                        + "\"name\":\"get_weather\",\"input\":{}}}")
                + event(
                    "content_block_delta",
                    "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
                        + "\"input_json_delta\",\"partial_json\":\"{\\\"location\\\":\"}}")
                + event(
                    "content_block_delta",
                    "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
                        + "\"input_json_delta\",\"partial_json\":\" \\\"Paris\\\"}\"}}")
                + event("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":1}")
                + event(
                    "message_delta",
                    "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
                        + "\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}")
                + event("message_stop", "{\"type\":\"message_stop\"}"))
            .build());

    JsonNode result =
        sdk.ok(
            "stream",
            "{\"model\":\"anthropic/claude-sonnet-4-20250514\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"Weather in Paris?\"}],\"stream_options\":{\"include_usage\":true},"
                + "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                + "\"parameters\":{\"type\":\"object\"}}}]}");

    assertThat(result.has("error")).as(result.toString()).isFalse();
    JsonNode chunks = result.path("chunks");
    assertThat(contents(chunks)).containsExactly("Checking.");
    StringBuilder arguments = new StringBuilder();
    String finish = null;
    for (JsonNode chunk : chunks) {
      for (JsonNode call : chunk.at("/choices/0/delta/tool_calls")) {
        assertThat(call.path("index").asInt()).isZero();
        arguments.append(call.at("/function/arguments").asText());
      }
      if (chunk.at("/choices/0/finish_reason").isTextual()) {
        finish = chunk.at("/choices/0/finish_reason").asText();
      }
    }
    assertThat(arguments.toString()).isEqualTo("{\"location\": \"Paris\"}");
    assertThat(finish).isEqualTo("tool_calls");
    assertThat(chunks.get(chunks.size() - 1).at("/usage/completion_tokens").asInt()).isEqualTo(89);
    assertThat(anthropic.lastBody().path("stream").asBoolean()).isTrue();
  }

  @Test
  void aParamAnthropicCannotExpressIsRefusedWith400NamingIt() throws Exception {
    int callsBefore = anthropic.callCount();

    JsonNode error =
        sdk.error(
            "chat",
            "{\"model\":\"anthropic/claude-sonnet-4-20250514\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"Hi\"}],\"logprobs\":true}");

    assertThat(error.path("name").asText()).isEqualTo("BadRequestError");
    assertThat(error.path("param").asText()).isEqualTo("logprobs");
    assertThat(anthropic.callCount()).as("never sent upstream").isEqualTo(callsBefore);
  }

  // ---- Gemini: translated both ways ----------------------------------------------------------

  @Test
  void toolCallsRoundTripThroughAGeminiStream() throws Exception {
    gemini.answer(
        sse("data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":"
                + "\"get_weather\",\"args\":{\"location\":\"Paris\"}}}],\"role\":\"model\"},"
                + "\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":54,\"totalTokenCount\":54},"
                + "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r-1\"}\n\n"
                + "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}],\"role\":"
                + "\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":"
                + "{\"promptTokenCount\":54,\"candidatesTokenCount\":7,\"thoughtsTokenCount\":12,"
                + "\"totalTokenCount\":73},\"modelVersion\":\"gemini-2.5-flash\","
                + "\"responseId\":\"r-1\"}\n\n")
            .build());
    String tools =
        "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":"
            + "{\"type\":\"object\",\"properties\":{\"location\":{\"type\":\"string\"}}}}}]";

    JsonNode result =
        sdk.ok(
            "stream",
            "{\"model\":\"gemini/gemini-2.5-flash\",\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"Weather in Paris?\"}],\"tools\":"
                + tools
                + ",\"tool_choice\":\"required\",\"stream_options\":{\"include_usage\":true}}");

    assertThat(result.has("error")).as(result.toString()).isFalse();
    JsonNode chunks = result.path("chunks");
    JsonNode call = null;
    for (JsonNode chunk : chunks) {
      if (chunk.at("/choices/0/delta/tool_calls/0").isObject()) {
        call = chunk.at("/choices/0/delta/tool_calls/0");
      }
    }
    assertThat(call).isNotNull();
    assertThat(call.at("/function/name").asText()).isEqualTo("get_weather");
    assertThat(call.at("/function/arguments").asText()).isEqualTo("{\"location\":\"Paris\"}");
    JsonNode usage = chunks.get(chunks.size() - 1).path("usage");
    assertThat(usage.path("completion_tokens").asInt()).isEqualTo(19);
    assertThat(usage.at("/completion_tokens_details/reasoning_tokens").asInt()).isEqualTo(12);
    JsonNode sent = gemini.lastBody();
    assertThat(gemini.lastCall().getUrl().encodedPath())
        .isEqualTo("/v1beta/models/gemini-2.5-flash:streamGenerateContent");
    assertThat(sent.at("/tools/0/functionDeclarations/0/name").asText()).isEqualTo("get_weather");
    assertThat(sent.at("/toolConfig/functionCallingConfig/mode").asText()).isEqualTo("ANY");

    gemini.answer(
        json(
            200,
            "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"15 degrees in Paris.\"}],"
                + "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":"
                + "{\"promptTokenCount\":80,\"candidatesTokenCount\":6,\"totalTokenCount\":86},"
                + "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r-2\"}"));
    String id = call.path("id").asText();
    JsonNode answer =
        sdk.ok(
            "chat",
            "{\"model\":\"gemini/gemini-2.5-flash\",\"messages\":["
                + "{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\""
                + id
                + "\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
                + "\"{\\\"location\\\":\\\"Paris\\\"}\"}}]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\""
                + id
                + "\",\"content\":\"{\\\"celsius\\\":15}\"}],\"tools\":"
                + tools
                + "}");

    assertThat(answer.at("/choices/0/message/content").asText()).isEqualTo("15 degrees in Paris.");
    JsonNode contents = gemini.lastBody().path("contents");
    assertThat(contents.at("/1/role").asText()).isEqualTo("model");
    assertThat(contents.at("/1/parts/0/functionCall/args/location").asText()).isEqualTo("Paris");
    assertThat(contents.at("/2/parts/0/functionResponse/name").asText()).isEqualTo("get_weather");
    assertThat(contents.at("/2/parts/0/functionResponse/response/celsius").asInt()).isEqualTo(15);
  }

  private long tokensIn(String provider) {
    return harness
        .get("/orchestrator/external/stats/" + provider)
        .json()
        .path("total_tokens_in")
        .asLong();
  }

  // ---- routes: fallback before the first byte, never after ----------------------------------

  private static final String ANTHROPIC_MESSAGE =
      "{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\","
          + "\"model\":\"claude-sonnet-4-20250514\",\"content\":[{\"type\":\"text\",\"text\":"
          + "\"Hello from the fallback\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
          + "\"usage\":{\"input_tokens\":12,\"output_tokens\":6}}";

  @Test
  void aRouteFallsBackToItsNextTargetWhenTheFirstAnswers5xx() throws Exception {
    int openaiCalls = openai.callCount();
    int anthropicCalls = anthropic.callCount();
    openai.answer(
        json(
            503,
            "{\"error\":{\"message\":\"The engine is currently overloaded, please try again"
                + " later\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"));
    anthropic.answer(json(200, ANTHROPIC_MESSAGE));

    JsonNode completion =
        sdk.ok(
            "chat",
            "{\"model\":\"fallback-chat\",\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"Hi\"}]}");

    assertThat(completion.at("/choices/0/message/content").asText())
        .isEqualTo("Hello from the fallback");
    assertThat(openai.callCount()).isEqualTo(openaiCalls + 1);
    assertThat(anthropic.callCount()).isEqualTo(anthropicCalls + 1);
    assertThat(anthropic.lastBody().path("model").asText()).isEqualTo(CLAUDE);
  }

  @Test
  void aStreamWhoseFirstTargetIsOverloadedBeforeItsFirstByteIsServedByTheNext() throws Exception {
    anthropic.answer(
        json(
            529,
            "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                + "\"Overloaded\"}}"));
    openai.answer(
        sse(openAiChunk("{\"role\":\"assistant\",\"content\":\"Still\"}", null, null)
                + openAiChunk("{\"content\":\" here\"}", "stop", null)
                + OPENAI_USAGE_CHUNK
                + "data: [DONE]\n\n")
            .build());

    JsonNode result =
        sdk.ok(
            "stream",
            "{\"model\":\"stream-fallback\",\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"Hi\"}]}");

    assertThat(result.has("error")).as(result.toString()).isFalse();
    assertThat(contents(result.path("chunks"))).containsExactly("Still", " here");
    assertThat(openai.lastBody().path("model").asText()).isEqualTo("gpt-4.1-mini");
  }

  @Test
  void aStreamCutAfterItsFirstByteIsNeverReplayedOnTheNextTarget() throws Exception {
    int anthropicCalls = anthropic.callCount();
    String first =
        openAiChunk("{\"role\":\"assistant\",\"content\":\"Once upon a time\"}", null, null);
    String rest = openAiChunk("{\"content\":\" there was\"}", null, null).repeat(200);
    openai.answer(sse(first + rest).onResponseBody(new SocketEffect.CloseSocket()).build());

    JsonNode result =
        sdk.ok(
            "stream",
            "{\"model\":\"cut-stream\",\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"Tell a story\"}]}");

    assertThat(contents(result.path("chunks"))).startsWith("Once upon a time");
    assertThat(result.path("error").path("message").asText()).contains("ended before it finished");
    assertThat(anthropic.callCount())
        .as("no second target after the first byte")
        .isEqualTo(anthropicCalls);
  }

  @Test
  void anUnknownRouteIsA404() throws Exception {
    JsonNode error =
        sdk.error(
            "chat",
            "{\"model\":\"no-such-route\",\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"Hi\"}]}");
    assertThat(error.path("status").asInt()).isEqualTo(404);
    assertThat(error.path("message").asText()).contains("neither a route");
  }

  // ---- embeddings and audio transcriptions ----------------------------------------------------

  @Test
  void embeddingsGoToAnOpenAiProviderAndAreRecordedWithTheirCost() throws Exception {
    double before = anonymousSpendOnOpenai();
    openai.answer(
        json(
            200,
            "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                + "\"embedding\":[0.0023064255,-0.009327292,-0.0028842222]}],\"model\":"
                + "\"text-embedding-3-small\",\"usage\":{\"prompt_tokens\":500000,"
                + "\"total_tokens\":500000}}"));

    JsonNode answer =
        sdk.ok(
            "embeddings",
            "{\"model\":\"openai/text-embedding-3-small\",\"input\":\"The food was delicious\","
                + "\"encoding_format\":\"float\"}");

    assertThat(answer.at("/data/0/embedding/1").asDouble()).isEqualTo(-0.009327292);
    assertThat(answer.at("/usage/prompt_tokens").asInt()).isEqualTo(500000);
    JsonNode sent = openai.lastBody();
    assertThat(openai.lastCall().getUrl().encodedPath()).isEqualTo("/v1/embeddings");
    assertThat(sent.path("model").asText()).isEqualTo("text-embedding-3-small");
    assertThat(sent.path("encoding_format").asText()).isEqualTo("float");
    // 500,000 tokens at $0.02 per million.
    assertThat(anonymousSpendOnOpenai())
        .isCloseTo(before + 0.01, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(harness.get("/metrics").text())
        .contains("vera_gateway_caller_cost_usd_total{caller=\"anonymous\",caller_namespace=\"\"");
  }

  /** What GET /v1/spend says the anonymous caller spent on Provider openai in all. */
  private double anonymousSpendOnOpenai() {
    JsonNode spend = harness.get("/v1/spend?provider=openai&caller=anonymous").json();
    JsonNode callers = spend.at("/providers/0/callers");
    return callers.isEmpty() ? 0 : callers.get(0).path("costUsd").asDouble();
  }

  /** What GET /v1/spend says the anonymous caller spent on Provider gemini in all. */
  private double anonymousSpendOnGemini() {
    JsonNode callers =
        harness.get("/v1/spend?provider=gemini&caller=anonymous").json().at("/providers/0/callers");
    return callers.isEmpty() ? 0 : callers.get(0).path("costUsd").asDouble();
  }

  @Test
  void embeddingsGoToGeminisBatchEmbedContentsAndComeBackAsTheSdkDecodesThem() throws Exception {
    double before = anonymousSpendOnGemini();
    gemini.answer(
        json(
            200,
            "{\"embeddings\":[{\"values\":[0.25,-0.5,0.125]},{\"values\":[1.5,0.0,-2.0]}],"
                + "\"usageMetadata\":{\"promptTokenCount\":400000,\"totalTokenCount\":400000}}"));

    // No encoding_format: the SDK asks for base64 and decodes it.
    JsonNode answer =
        sdk.ok(
            "embeddings",
            "{\"model\":\"gemini/gemini-embedding-001\",\"input\":[\"The food was"
                + " delicious\",\"The waiter was rude\"],\"dimensions\":3}");

    assertThat(answer.at("/data/0/embedding").toString()).isEqualTo("[0.25,-0.5,0.125]");
    assertThat(answer.at("/data/1/embedding").toString()).isEqualTo("[1.5,0,-2]");
    assertThat(answer.at("/data/1/index").asInt()).isEqualTo(1);
    assertThat(answer.at("/usage/prompt_tokens").asInt()).isEqualTo(400000);
    var call = gemini.lastCall();
    assertThat(call.getUrl().encodedPath())
        .isEqualTo("/v1beta/models/gemini-embedding-001:batchEmbedContents");
    assertThat(call.getHeaders().get("x-goog-api-key")).isEqualTo(KEY);
    JsonNode sent = gemini.lastBody();
    assertThat(sent.at("/requests/0/model").asText()).isEqualTo("models/gemini-embedding-001");
    assertThat(sent.at("/requests/0/content/parts/0/text").asText())
        .isEqualTo("The food was delicious");
    assertThat(sent.at("/requests/1/content/parts/0/text").asText())
        .isEqualTo("The waiter was rude");
    assertThat(sent.at("/requests/1/outputDimensionality").asInt()).isEqualTo(3);
    // 400,000 tokens at $0.15 per million.
    assertThat(anonymousSpendOnGemini())
        .isCloseTo(before + 0.06, org.assertj.core.data.Offset.offset(1e-9));
  }

  @Test
  void geminiEmbeddingsWithoutUsageAreCountedAtVerasEstimate() throws Exception {
    gemini.answer(json(200, "{\"embeddings\":[{\"values\":[0.5,0.5]}]}"));

    JsonNode answer =
        sdk.ok(
            "embeddings",
            "{\"model\":\"gemini/gemini-embedding-001\",\"input\":\"twelve chars\","
                + "\"encoding_format\":\"float\"}");

    assertThat(answer.at("/data/0/embedding").toString()).isEqualTo("[0.5,0.5]");
    // 12 characters at 3 a token, plus one.
    assertThat(answer.at("/usage/prompt_tokens").asInt()).isEqualTo(5);
  }

  @Test
  void tokenIdsCannotBeEmbeddedByGeminiAndAreRefusedNamingTheInput() throws Exception {
    int calls = gemini.callCount();
    JsonNode error =
        sdk.error("embeddings", "{\"model\":\"gemini/gemini-embedding-001\",\"input\":[[1,2,3]]}");

    assertThat(error.path("status").asInt()).isEqualTo(400);
    assertThat(error.path("param").asText()).isEqualTo("input");
    assertThat(error.path("code").asText()).isEqualTo("unsupported_parameter");
    assertThat(gemini.callCount()).isEqualTo(calls);
  }

  @Test
  void anEmbeddingsRouteFallsBackFromOpenAiToGemini() throws Exception {
    openai.answer(json(500, "{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}"));
    gemini.answer(json(200, "{\"embeddings\":[{\"values\":[0.75]}]}"));

    JsonNode answer =
        sdk.ok(
            "embeddings",
            "{\"model\":\"embed-default\",\"input\":\"Hi\",\"encoding_format\":\"float\"}");

    assertThat(answer.at("/data/0/embedding/0").asDouble()).isEqualTo(0.75);
    assertThat(gemini.lastCall().getUrl().encodedPath())
        .isEqualTo("/v1beta/models/gemini-embedding-001:batchEmbedContents");
    assertThat(openai.lastBody().path("model").asText()).isEqualTo("text-embedding-3-small");
  }

  @Test
  void aTranscriptionRouteSkipsATargetThatHasNoTranscriptions() throws Exception {
    openai.answer(json(503, "{\"error\":{\"message\":\"busy\",\"type\":\"server_error\"}}"));
    int geminiCalls = gemini.callCount();

    JsonNode error =
        sdk.error(
            "transcription",
            "{\"model\":\"transcribe-default\",\"file_name\":\"a.wav\",\"audio_base64\":"
                + "\"UklGRg==\"}");

    assertThat(openai.lastCall().getUrl().encodedPath()).isEqualTo("/v1/audio/transcriptions");
    // The upstream's 503 is answered as the gateway's 502 upstream_error, not the Gemini
    // target's lack of transcriptions (404).
    assertThat(error.path("status").asInt()).isEqualTo(502);
    assertThat(gemini.callCount())
        .as("never sent to a Provider without them")
        .isEqualTo(geminiCalls);
  }

  @Test
  void aTranscriptionIsServedByARoute() throws Exception {
    openai.answer(
        json(200, "{\"text\":\"Routed.\",\"usage\":{\"type\":\"duration\",\"seconds\":2}}"));

    JsonNode answer =
        sdk.ok(
            "transcription",
            "{\"model\":\"transcribe-default\",\"file_name\":\"a.wav\",\"audio_base64\":"
                + "\"UklGRg==\"}");

    assertThat(answer.path("text").asText()).isEqualTo("Routed.");
    assertThat(openai.lastCall().getBody().utf8()).contains("name=\"model\"\r\n\r\nwhisper-1\r\n");
  }

  @Test
  void embeddingsOfAProviderWithoutThemAreA400NamingTheModel() throws Exception {
    JsonNode error =
        sdk.error(
            "embeddings", "{\"model\":\"anthropic/claude-sonnet-4-20250514\",\"input\":\"Hi\"}");
    assertThat(error.path("status").asInt()).isEqualTo(400);
    assertThat(error.path("param").asText()).isEqualTo("model");
    assertThat(error.path("code").asText()).isEqualTo("unsupported_model");
    assertThat(error.path("message").asText()).contains("Anthropic", "no embeddings");
  }

  @Test
  void anAudioFileIsTranscribedThroughTheSdkAsMultipartAndPricedByItsDuration() throws Exception {
    double before = anonymousSpendOnOpenai();
    openai.answer(
        json(
            200,
            "{\"task\":\"transcribe\",\"language\":\"english\",\"duration\":30.0,\"text\":"
                + "\"The quick brown fox.\",\"segments\":[],\"usage\":{\"type\":\"duration\","
                + "\"seconds\":30}}"));
    byte[] wav =
        "RIFF....WAVEfmt fake audio bytes".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    JsonNode answer =
        sdk.ok(
            "transcription",
            "{\"model\":\"openai/whisper-1\",\"response_format\":\"verbose_json\",\"language\":"
                + "\"en\",\"file_name\":\"speech.wav\",\"audio_base64\":\""
                + java.util.Base64.getEncoder().encodeToString(wav)
                + "\"}");

    assertThat(answer.path("text").asText()).isEqualTo("The quick brown fox.");
    assertThat(answer.path("duration").asDouble()).isEqualTo(30.0);
    var call = openai.lastCall();
    assertThat(call.getUrl().encodedPath()).isEqualTo("/v1/audio/transcriptions");
    String form = call.getBody().utf8();
    assertThat(call.getHeaders().get("Content-Type")).startsWith("multipart/form-data");
    assertThat(form)
        .contains("filename=\"speech.wav\"")
        .contains("RIFF....WAVEfmt fake audio bytes")
        .contains("name=\"model\"\r\n\r\nwhisper-1\r\n")
        .contains("name=\"language\"\r\n\r\nen\r\n");
    // 30 billed seconds of whisper-1 at $0.006 a minute.
    assertThat(anonymousSpendOnOpenai())
        .isCloseTo(before + 0.003, org.assertj.core.data.Offset.offset(1e-9));
  }

  @Test
  void aTranscriptionWithAProviderWithoutItIsA400() throws Exception {
    JsonNode error =
        sdk.error(
            "transcription",
            "{\"model\":\"gemini/gemini-2.5-flash\",\"file_name\":\"a.wav\",\"audio_base64\":"
                + "\"UklGRg==\"}");
    assertThat(error.path("status").asInt()).isEqualTo(400);
    assertThat(error.path("code").asText()).isEqualTo("unsupported_model");
  }
}
