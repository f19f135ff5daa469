package io.vera.operator.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;

/**
 * One chat completion as a caller of the OpenAI-compatible gateway sent it, for a Provider's client
 * to pass on (OpenAI and compatible upstreams) or translate (Anthropic, Gemini).
 *
 * @param body the caller's body in OpenAI's chat completions format; clients never modify it
 * @param model the model at the upstream: what followed {@code <provider>/} or a route's target
 * @param includeUsage whether a streaming caller asked for the final usage chunk ({@code
 *     stream_options.include_usage}); usage is read from the upstream either way
 * @param timeout the whole call's deadline, retries included
 * @param maxRetries attempts after the first for retryable failures before any output
 */
public record ChatRequest(
    ObjectNode body, String model, boolean includeUsage, Duration timeout, int maxRetries) {

  /** Output tokens assumed when a call sets no limit and its Provider has no default. */
  static final int DEFAULT_OUTPUT_TOKENS = 4096;

  /** Tokens assumed per image part: a 1024×1024 image costs about 1,100 to 1,600 tokens. */
  static final int IMAGE_TOKENS = 1600;

  /** The same request for another model, as a route's next target. */
  ChatRequest withModel(String otherModel) {
    return new ChatRequest(body, otherModel, includeUsage, timeout, maxRetries);
  }

  /**
   * A generous guess of the call's usage, made before it, that budgets reserve: the text of the
   * messages and tools at 3 characters a token (tokenizers average about 4 for English), {@value
   * #IMAGE_TOKENS} tokens per image, and the call's output limit ({@code max_completion_tokens},
   * {@code max_tokens}, else {@code defaultMaxTokens}, else {@value #DEFAULT_OUTPUT_TOKENS}).
   */
  TokenUsage ceiling(Integer defaultMaxTokens) {
    long input = textTokens(body.path("messages")) + textTokens(body.path("tools"));
    JsonNode limit = body.path("max_completion_tokens");
    if (!limit.canConvertToLong()) {
      limit = body.path("max_tokens");
    }
    long output =
        limit.canConvertToLong() && limit.asLong() > 0
            ? limit.asLong()
            : defaultMaxTokens != null ? defaultMaxTokens : DEFAULT_OUTPUT_TOKENS;
    return new TokenUsage(input, output, 0, 0, 0);
  }

  /**
   * Tokens of the text in {@code node} at 3 characters a token, {@value #IMAGE_TOKENS} per image;
   * an array of numbers (token ids, as embeddings accept) counts a token each.
   */
  public static long textTokens(JsonNode node) {
    if (node.isNumber()) {
      return 1;
    }
    if (node.isTextual()) {
      String text = node.asText();
      return text.startsWith("data:") ? IMAGE_TOKENS : text.length() / 3 + 1;
    }
    long tokens = 0;
    if (node.isObject()) {
      if ("image_url".equals(node.path("type").asText())) {
        return IMAGE_TOKENS;
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        tokens += textTokens(it.next().getValue());
      }
    } else if (node.isArray()) {
      for (JsonNode item : node) {
        tokens += textTokens(item);
      }
    }
    return tokens;
  }
}
