package io.vera.operator.provider.llm;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.provider.TokenUsage;
import io.vera.operator.provider.UnsupportedParamException;
import java.util.Set;
import java.util.UUID;

/**
 * OpenAI's chat completion shapes as the translating clients (Anthropic, Gemini) read and write
 * them: the caller's parameters checked against what the upstream can express, and answers, chunks
 * and usage written the way the OpenAI SDKs parse them.
 */
final class ChatShapes {
  private ChatShapes() {}

  /** An image given as a {@code data:} URL: its media type and base64 payload. */
  record InlineImage(String mediaType, String base64) {}

  /**
   * Refuses every body field outside {@code translated} that is set (not null), naming it and the
   * upstream.
   */
  static void refuseUntranslatable(JsonNode body, Set<String> translated, String upstream)
      throws UnsupportedParamException {
    var names = body.fieldNames();
    while (names.hasNext()) {
      String name = names.next();
      if (!translated.contains(name) && !body.get(name).isNull()) {
        throw unsupported(name, upstream);
      }
    }
  }

  static UnsupportedParamException unsupported(String param, String upstream) {
    return new UnsupportedParamException(
        param,
        "param '"
            + param
            + "' has no equivalent in the "
            + upstream
            + " API; remove it or call an OpenAI-compatible Provider");
  }

  static UnsupportedParamException invalid(String param, String message) {
    return new UnsupportedParamException(param, "param '" + param + "' " + message);
  }

  /** A field that must be a string when set; null when absent or null. */
  static String text(JsonNode body, String field, String param) throws UnsupportedParamException {
    JsonNode value = body.path(field);
    if (value.isMissingNode() || value.isNull()) {
      return null;
    }
    if (!value.isTextual()) {
      throw invalid(param, "must be a string");
    }
    return value.asText();
  }

  /** {@code stop} as a list of sequences (OpenAI takes a string or a list); null when unset. */
  static ArrayNode stopSequences(JsonNode body) throws UnsupportedParamException {
    JsonNode stop = body.path("stop");
    if (stop.isMissingNode() || stop.isNull()) {
      return null;
    }
    ArrayNode sequences = LlmClient.JSON.createArrayNode();
    if (stop.isTextual()) {
      return sequences.add(stop.asText());
    }
    if (!stop.isArray()) {
      throw invalid("stop", "must be a string or a list of strings");
    }
    for (JsonNode sequence : stop) {
      if (!sequence.isTextual()) {
        throw invalid("stop", "must be a string or a list of strings");
      }
      sequences.add(sequence);
    }
    return sequences;
  }

  /** {@code max_completion_tokens}, else {@code max_tokens}; null when neither is set. */
  static JsonNode maxTokens(JsonNode body) throws UnsupportedParamException {
    for (String name : new String[] {"max_completion_tokens", "max_tokens"}) {
      JsonNode value = body.path(name);
      if (!value.isMissingNode() && !value.isNull()) {
        if (!value.canConvertToLong() || value.asLong() < 1) {
          throw invalid(name, "must be a positive integer");
        }
        return value;
      }
    }
    return null;
  }

  /** Refuses {@code n} other than 1: these upstreams' streams carry one answer. */
  static void singleChoice(JsonNode body, String upstream) throws UnsupportedParamException {
    JsonNode n = body.path("n");
    if (!n.isMissingNode() && !n.isNull() && n.asInt(0) != 1) {
      throw new UnsupportedParamException(
          "n", "param 'n' must be 1 for " + upstream + " (one answer per call)");
    }
  }

  /** The text of a message's content: a string, or a list of text parts. */
  static String plainText(JsonNode content, String param) throws UnsupportedParamException {
    if (content.isTextual()) {
      return content.asText();
    }
    if (content.isMissingNode() || content.isNull()) {
      return "";
    }
    if (!content.isArray()) {
      throw invalid(param, "must be a string or a list of content parts");
    }
    StringBuilder text = new StringBuilder();
    int i = 0;
    for (JsonNode part : content) {
      if (!"text".equals(part.path("type").asText())) {
        throw invalid(param + "[" + i + "]", "must be a text part here");
      }
      text.append(part.path("text").asText());
      i++;
    }
    return text.toString();
  }

  /** An image URL split into media type and payload when it is a base64 {@code data:} URL. */
  static InlineImage inlineImage(String url, String param) throws UnsupportedParamException {
    if (!url.startsWith("data:")) {
      return null;
    }
    int comma = url.indexOf(',');
    String header = comma < 0 ? "" : url.substring(5, comma);
    if (comma < 0 || !header.endsWith(";base64")) {
      throw invalid(param, "must be an http(s) URL or a base64 data: URL");
    }
    String data = url.substring(comma + 1);
    return new InlineImage(header.substring(0, header.length() - ";base64".length()), data);
  }

  /** A tool call's {@code arguments} (a JSON string) as the object it encodes. */
  static JsonNode arguments(JsonNode arguments, String param) throws UnsupportedParamException {
    if (arguments.isObject()) {
      return arguments;
    }
    String text = arguments.asText("");
    if (text.isBlank()) {
      return LlmClient.JSON.createObjectNode();
    }
    try {
      JsonNode parsed = LlmClient.JSON.readTree(text);
      if (!parsed.isObject()) {
        throw invalid(param, "must encode a JSON object");
      }
      return parsed;
    } catch (JsonProcessingException e) {
      throw invalid(param, "is not valid JSON");
    }
  }

  /** A JSON value as the string OpenAI puts in {@code function.arguments}. */
  static String json(JsonNode value) {
    try {
      return LlmClient.JSON.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree that cannot be written", e);
    }
  }

  /**
   * OpenAI's usage object: prompt tokens including cached and cache-write ones, completion tokens
   * including reasoning ones, with {@code cached_tokens}, Vera's {@code cache_write_tokens} and
   * {@code reasoning_tokens} in the details.
   */
  static ObjectNode usage(TokenUsage usage) {
    ObjectNode node = LlmClient.JSON.createObjectNode();
    node.put("prompt_tokens", usage.inputTokens());
    node.put("completion_tokens", usage.outputTokens());
    node.put("total_tokens", usage.totalTokens());
    node.putObject("prompt_tokens_details")
        .put("cached_tokens", usage.cachedInputTokens())
        .put("cache_write_tokens", usage.cacheWriteTokens());
    node.putObject("completion_tokens_details").put("reasoning_tokens", usage.reasoningTokens());
    return node;
  }

  /** A new completion id when the upstream gave none. */
  static String newId() {
    return "chatcmpl-" + UUID.randomUUID().toString().replace("-", "");
  }

  static long nowSeconds() {
    return System.currentTimeMillis() / 1000;
  }

  /** A whole {@code chat.completion} with one choice. */
  static ObjectNode completion(
      String id, String model, ObjectNode message, String finishReason, TokenUsage usage) {
    ObjectNode completion = LlmClient.JSON.createObjectNode();
    completion.put("id", id);
    completion.put("object", "chat.completion");
    completion.put("created", nowSeconds());
    completion.put("model", model);
    ObjectNode choice = completion.putArray("choices").addObject();
    choice.put("index", 0);
    choice.set("message", message);
    choice.putNull("logprobs");
    choice.put("finish_reason", finishReason);
    if (usage != null) {
      completion.set("usage", usage(usage));
    }
    return completion;
  }

  /** The chunks of one streamed answer, all with the same id, creation time and model. */
  static final class Chunks {
    String id = newId();
    String model;
    final long created = nowSeconds();

    Chunks(String model) {
      this.model = model;
    }

    /** A chunk with one choice carrying {@code delta}, and a finish reason or null. */
    String delta(ObjectNode delta, String finishReason) {
      ObjectNode chunk = base();
      ObjectNode choice = chunk.putArray("choices").addObject();
      choice.put("index", 0);
      choice.set("delta", delta);
      choice.putNull("logprobs");
      if (finishReason == null) {
        choice.putNull("finish_reason");
      } else {
        choice.put("finish_reason", finishReason);
      }
      return json(chunk);
    }

    /** The final usage-only chunk of {@code stream_options.include_usage}: no choices. */
    String usage(TokenUsage usage) {
      ObjectNode chunk = base();
      chunk.putArray("choices");
      chunk.set("usage", ChatShapes.usage(usage == null ? TokenUsage.NONE : usage));
      return json(chunk);
    }

    private ObjectNode base() {
      ObjectNode chunk = LlmClient.JSON.createObjectNode();
      chunk.put("id", id);
      chunk.put("object", "chat.completion.chunk");
      chunk.put("created", created);
      chunk.put("model", model);
      return chunk;
    }
  }

  static ObjectNode object() {
    return LlmClient.JSON.createObjectNode();
  }
}
