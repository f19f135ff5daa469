package io.vera.operator.provider.llm;

import static io.vera.operator.provider.llm.Fixtures.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.provider.ChatRequest;
import io.vera.operator.provider.TokenUsage;
import io.vera.operator.provider.UnsupportedParamException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * OpenAI chat completion bodies as the Anthropic and Gemini translations send them, and their
 * answers as OpenAI callers read them: the parts the SDK test does not reach (images, JSON mode,
 * merged turns, refusals).
 */
class ChatTranslationTest {
  private static final String IMAGE =
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},"
          + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}},"
          + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/cat.jpg\"}}]}";

  @Test
  void imagesBecomeAnthropicBase64AndUrlSources() throws Exception {
    JsonNode body =
        AnthropicChat.request(json("{\"messages\":[" + IMAGE + "]}"), "claude-sonnet-4", false);

    JsonNode blocks = body.at("/messages/0/content");
    assertThat(blocks.at("/0/text").asText()).isEqualTo("What is this?");
    assertThat(blocks.at("/1/source/type").asText()).isEqualTo("base64");
    assertThat(blocks.at("/1/source/media_type").asText()).isEqualTo("image/png");
    assertThat(blocks.at("/1/source/data").asText()).isEqualTo("iVBORw0KGgo=");
    assertThat(blocks.at("/2/source/type").asText()).isEqualTo("url");
    assertThat(blocks.at("/2/source/url").asText()).isEqualTo("https://example.com/cat.jpg");
    assertThat(body.path("max_tokens").asInt()).isEqualTo(AnthropicClient.DEFAULT_MAX_TOKENS);
  }

  @Test
  void imagesBecomeGeminiInlineDataAndFileData() throws Exception {
    JsonNode body = GeminiChat.request(json("{\"messages\":[" + IMAGE + "]}"));

    JsonNode parts = body.at("/contents/0/parts");
    assertThat(parts.at("/1/inlineData/mimeType").asText()).isEqualTo("image/png");
    assertThat(parts.at("/1/inlineData/data").asText()).isEqualTo("iVBORw0KGgo=");
    assertThat(parts.at("/2/fileData/fileUri").asText()).isEqualTo("https://example.com/cat.jpg");
  }

  @Test
  void aJsonSchemaResponseFormatIsAForcedAnthropicToolWhoseInputComesBackAsTheContent()
      throws Exception {
    JsonNode body =
        AnthropicChat.request(
            json(
                "{\"messages\":[{\"role\":\"user\",\"content\":\"A city\"}],\"response_format\":"
                    + "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"city\",\"schema\":"
                    + "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}}}}"),
            "claude-sonnet-4",
            false);

    assertThat(body.at("/tool_choice/name").asText()).isEqualTo(AnthropicChat.JSON_TOOL);
    assertThat(body.at("/tools/0/input_schema/properties/name/type").asText()).isEqualTo("string");

    JsonNode answer =
        AnthropicChat.answer(
            json(
                "{\"id\":\"msg_1\",\"model\":\"claude-sonnet-4\",\"content\":[{\"type\":\"tool_use\","
                    + "\"id\":\"toolu_1\",\"name\":\"json_response\",\"input\":{\"name\":\"Paris\"}}],"
                    + "\"stop_reason\":\"tool_use\"}"),
            "claude-sonnet-4",
            new TokenUsage(10, 5, 0, 0, 0));
    assertThat(answer.at("/choices/0/message/content").asText()).isEqualTo("{\"name\":\"Paris\"}");
    assertThat(answer.at("/choices/0/message/tool_calls").isMissingNode()).isTrue();
    assertThat(answer.at("/choices/0/finish_reason").asText()).isEqualTo("stop");
  }

  @Test
  void aJsonSchemaResponseFormatIsGeminisResponseJsonSchema() throws Exception {
    JsonNode body =
        GeminiChat.request(
            json(
                "{\"messages\":[{\"role\":\"user\",\"content\":\"A city\"}],\"response_format\":"
                    + "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"city\",\"schema\":"
                    + "{\"type\":\"object\"}}},\"max_completion_tokens\":50,\"stop\":[\"X\"]}"));

    JsonNode generation = body.path("generationConfig");
    assertThat(generation.path("responseMimeType").asText()).isEqualTo("application/json");
    assertThat(generation.at("/responseJsonSchema/type").asText()).isEqualTo("object");
    assertThat(generation.path("maxOutputTokens").asInt()).isEqualTo(50);
    assertThat(generation.at("/stopSequences/0").asText()).isEqualTo("X");
  }

  @Test
  void systemMessagesGoToTheTopAndTurnsOfOneRoleAreMerged() throws Exception {
    String messages =
        "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
            + "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"No lists.\"}]},"
            + "{\"role\":\"user\",\"content\":\"One\"},{\"role\":\"user\",\"content\":\"Two\"}]}";

    JsonNode anthropic = AnthropicChat.request(json(messages), "claude-sonnet-4", false);
    JsonNode gemini = GeminiChat.request(json(messages));

    assertThat(anthropic.at("/system/1/text").asText()).isEqualTo("No lists.");
    assertThat(anthropic.path("messages").size()).isEqualTo(1);
    assertThat(anthropic.at("/messages/0/content").size()).isEqualTo(2);
    assertThat(gemini.at("/systemInstruction/parts/0/text").asText()).isEqualTo("Be brief.");
    assertThat(gemini.path("contents").size()).isEqualTo(1);
    assertThat(gemini.at("/contents/0/parts/1/text").asText()).isEqualTo("Two");
  }

  @Test
  void whatCannotBeTranslatedIsRefusedNamingWhereItIs() {
    assertThatThrownBy(
            () ->
                GeminiChat.request(
                    json(
                        "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"user\":\"u1\"}")))
        .isInstanceOf(UnsupportedParamException.class)
        .satisfies(e -> assertThat(((UnsupportedParamException) e).param()).isEqualTo("user"));
    assertThatThrownBy(
            () ->
                AnthropicChat.request(
                    json(
                        "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\",\"name\":\"bob\"}]}"),
                    "m",
                    false))
        .satisfies(
            e -> assertThat(((UnsupportedParamException) e).param()).isEqualTo("messages[0].name"));
    assertThatThrownBy(
            () ->
                AnthropicChat.request(
                    json(
                        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\","
                            + "\"input_audio\":{\"data\":\"AAA\",\"format\":\"wav\"}}]}]}"),
                    "m",
                    false))
        .satisfies(
            e ->
                assertThat(((UnsupportedParamException) e).param())
                    .isEqualTo("messages[0].content[0].type=input_audio"));
    assertThatThrownBy(
            () ->
                AnthropicChat.request(
                    json("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"n\":2}"),
                    "m",
                    false))
        .satisfies(e -> assertThat(((UnsupportedParamException) e).param()).isEqualTo("n"));
  }

  @Test
  void nullFieldsAsSomeSdksSendThemAreNotRefused() throws Exception {
    JsonNode body =
        AnthropicChat.request(
            json(
                "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"logprobs\":null,"
                    + "\"seed\":null,\"max_tokens\":null}"),
            "m",
            false);

    assertThat(body.has("logprobs")).isFalse();
    assertThat(body.path("max_tokens").asInt()).isEqualTo(AnthropicClient.DEFAULT_MAX_TOKENS);
  }

  @Test
  void aGeminiStreamWithoutIncludeUsageSendsNoUsageChunkAndMapsMaxTokensToLength() {
    GeminiChat.Stream stream =
        new GeminiChat.Stream(
            new ChatRequest(null, "gemini-2.5-flash", false, Duration.ofSeconds(1), 0),
            "gemini-2.5-flash");
    List<String> chunks = new ArrayList<>();

    stream.onChunk(
        json(
            "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}]}}],\"responseId\":\"r\"}"),
        chunks::add);
    stream.onChunk(
        json(
            "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"lo\"}]},"
                + "\"finishReason\":\"MAX_TOKENS\"}]}"),
        chunks::add);
    stream.onEnd(new TokenUsage(3, 2, 0, 0, 0), chunks::add);

    assertThat(chunks).hasSize(3);
    assertThat(json(chunks.get(0)).at("/choices/0/delta/role").asText()).isEqualTo("assistant");
    assertThat(json(chunks.get(0)).at("/choices/0/delta/content").asText()).isEqualTo("Hel");
    assertThat(json(chunks.get(1)).at("/choices/0/delta/content").asText()).isEqualTo("lo");
    assertThat(json(chunks.get(2)).at("/choices/0/finish_reason").asText()).isEqualTo("length");
    assertThat(json(chunks.get(2)).path("id").asText()).isEqualTo("r");
  }
}
