package io.vera.operator.provider.llm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.TokenUsage;
import io.vera.operator.provider.UnsupportedParamException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.Iterator;
import java.util.Set;

/**
 * OpenAI's embeddings request translated to Gemini's {@code batchEmbedContents} and its answer back
 * to OpenAI's {@code list} of {@code embedding}s.
 *
 * <p>Request: each text of {@code input} (a string or a list of strings) becomes one {@code
 * EmbedContentRequest} with a single text part; {@code dimensions} becomes {@code
 * outputDimensionality}. Token-id input, {@code user} and anything else Gemini has no equivalent
 * for are refused with 400 naming the parameter, as for chat.
 *
 * <p>Answer: {@code embeddings[i].values} in request order; {@code encoding_format: "base64"} (what
 * the OpenAI SDKs ask for by default) gives each vector as little-endian float32 bytes in base64,
 * as OpenAI sends it. Usage is Gemini's {@code usageMetadata.promptTokenCount} when the answer has
 * it; an answer without it is counted at Vera's estimate of the input (3 characters a token, an
 * overcount for most text), so that budgets still hold.
 */
final class GeminiEmbeddings {
  private static final Set<String> KNOWN =
      Set.of("model", "input", "dimensions", "encoding_format");

  private GeminiEmbeddings() {}

  /** The {@code batchEmbedContents} body for {@code body}, every request naming {@code model}. */
  static ObjectNode request(ObjectNode body, String model) throws ProviderException {
    for (Iterator<String> names = body.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!KNOWN.contains(name)) {
        throw new UnsupportedParamException(
            name, "'" + name + "' has no equivalent in Gemini's embeddings");
      }
    }
    JsonNode format = body.path("encoding_format");
    if (!format.isMissingNode()
        && !format.isNull()
        && !format.asText().equals("float")
        && !format.asText().equals("base64")) {
      throw new UnsupportedParamException(
          "encoding_format", "'encoding_format' must be 'float' or 'base64'");
    }
    JsonNode dimensions = body.path("dimensions");
    if (!dimensions.isMissingNode() && !dimensions.isNull() && !dimensions.canConvertToInt()) {
      throw new UnsupportedParamException("dimensions", "'dimensions' must be an integer");
    }
    String resource = "models/" + (model.startsWith("models/") ? model.substring(7) : model);
    ObjectNode batch = LlmClient.JSON.createObjectNode();
    ArrayNode requests = batch.putArray("requests");
    for (String text : texts(body.path("input"))) {
      ObjectNode one = requests.addObject().put("model", resource);
      one.putObject("content").putArray("parts").addObject().put("text", text);
      if (dimensions.canConvertToInt()) {
        one.put("outputDimensionality", dimensions.asInt());
      }
    }
    return batch;
  }

  private static Iterable<String> texts(JsonNode input) throws ProviderException {
    if (input.isTextual()) {
      return java.util.List.of(input.asText());
    }
    java.util.List<String> texts = new java.util.ArrayList<>();
    if (input.isArray() && !input.isEmpty()) {
      for (JsonNode item : input) {
        if (!item.isTextual()) {
          throw new UnsupportedParamException(
              "input",
              "Gemini embeds text only: 'input' must be a string or a list of strings, not"
                  + " token ids");
        }
        texts.add(item.asText());
      }
      return texts;
    }
    throw new UnsupportedParamException(
        "input", "'input' must be a string or a non-empty list of strings");
  }

  /** The input's tokens as Gemini reported them, else Vera's estimate of them. */
  static TokenUsage usage(JsonNode answer, JsonNode input) {
    JsonNode reported = answer.path("usageMetadata");
    long tokens =
        reported.path("promptTokenCount").canConvertToLong()
            ? reported.path("promptTokenCount").asLong()
            : reported.path("totalTokenCount").canConvertToLong()
                ? reported.path("totalTokenCount").asLong()
                : io.vera.operator.provider.ChatRequest.textTokens(input);
    return new TokenUsage(tokens, 0, 0, 0, 0);
  }

  /** OpenAI's embeddings {@code list} for Gemini's {@code answer} to {@code body}. */
  static ObjectNode answer(JsonNode answer, ObjectNode body, String model, TokenUsage usage)
      throws ProviderException {
    boolean base64 = body.path("encoding_format").asText("float").equals("base64");
    JsonNode embeddings = answer.path("embeddings");
    int expected = body.path("input").isTextual() ? 1 : body.path("input").size();
    if (!embeddings.isArray() || embeddings.size() != expected) {
      throw new ProviderException(
          502,
          "gemini answered "
              + (embeddings.isArray() ? embeddings.size() : 0)
              + " embeddings for "
              + expected
              + " inputs",
          false);
    }
    ObjectNode list = LlmClient.JSON.createObjectNode().put("object", "list");
    ArrayNode data = list.putArray("data");
    for (int i = 0; i < embeddings.size(); i++) {
      JsonNode values = embeddings.get(i).path("values");
      ObjectNode item = data.addObject().put("object", "embedding").put("index", i);
      if (base64) {
        item.put("embedding", toBase64(values));
      } else {
        item.set("embedding", values);
      }
    }
    list.put("model", model);
    list.putObject("usage")
        .put("prompt_tokens", usage.inputTokens())
        .put("total_tokens", usage.inputTokens());
    return list;
  }

  /** A vector as OpenAI's base64 encoding sends it: float32 values, little-endian. */
  private static String toBase64(JsonNode values) {
    ByteBuffer bytes = ByteBuffer.allocate(values.size() * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (JsonNode value : values) {
      bytes.putFloat((float) value.asDouble());
    }
    return Base64.getEncoder().encodeToString(bytes.array());
  }
}
