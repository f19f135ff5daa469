package io.vera.operator.provider.endpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderRequest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.Optional;
import okhttp3.MediaType;

/**
 * Reading a {@link ProviderRequest} the same way in every endpoint client (defaults, refused input
 * as 422) and turning upstream bodies into output or short, credential-free excerpts.
 */
final class Calls {
  static final ObjectMapper JSON = new ObjectMapper();
  static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  static final MediaType JSON_TYPE = MediaType.get("application/json");

  /** Used when a request carries no timeout; matches the Provider's default. */
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

  /** Error excerpts in exception messages are cut to this many UTF-8 bytes. */
  static final int EXCERPT_BYTES = 1024;

  private static final int MAX_RETRIES = 10;

  private Calls() {}

  static Duration timeout(ProviderRequest request) throws ProviderException {
    Duration timeout = request.timeout() == null ? DEFAULT_TIMEOUT : request.timeout();
    if (timeout.isNegative() || timeout.isZero()) {
      throw refused("timeout must be positive");
    }
    return timeout;
  }

  static int maxRetries(ProviderRequest request) {
    return Math.max(0, Math.min(MAX_RETRIES, request.maxRetries()));
  }

  static ArrayNode args(ProviderRequest request) throws ProviderException {
    JsonNode args = request.args();
    if (args == null || args.isNull() || args.isMissingNode()) {
      return NODES.arrayNode();
    }
    if (!args.isArray()) {
      throw refused("args must be a JSON array");
    }
    return (ArrayNode) args;
  }

  static ObjectNode kwargs(ProviderRequest request) throws ProviderException {
    JsonNode kwargs = request.kwargs();
    if (kwargs == null || kwargs.isNull() || kwargs.isMissingNode()) {
      return NODES.objectNode();
    }
    if (!kwargs.isObject()) {
      throw refused("kwargs must be a JSON object");
    }
    return (ObjectNode) kwargs;
  }

  static JsonNode params(ProviderRequest request) throws ProviderException {
    JsonNode params = request.params();
    if (params == null || params.isNull() || params.isMissingNode()) {
      return NODES.objectNode();
    }
    if (!params.isObject()) {
      throw refused("params must be a JSON object");
    }
    return params;
  }

  static Optional<String> textParam(JsonNode params, String name) throws ProviderException {
    JsonNode value = params.get(name);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!value.isTextual()) {
      throw refused("params." + name + " must be a string");
    }
    return Optional.of(value.asText());
  }

  static boolean boolParam(JsonNode params, String name) throws ProviderException {
    JsonNode value = params.get(name);
    if (value == null || value.isNull()) {
      return false;
    }
    if (!value.isBoolean()) {
      throw refused("params." + name + " must be true or false");
    }
    return value.asBoolean();
  }

  static Optional<Double> rateParam(JsonNode params, String name) throws ProviderException {
    JsonNode value = params.get(name);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!value.isNumber() || value.asDouble() < 0) {
      throw refused("params." + name + " must be a non-negative number");
    }
    return Optional.of(value.asDouble());
  }

  /**
   * Refuses a credential okhttp would reject as a header value; okhttp's own error would quote the
   * value.
   */
  static void checkHeaderValue(String value, String key) throws ProviderException {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c != '\t' && (c < 0x20 || c > 0x7e)) {
        throw new ProviderException(
            400,
            "the credentials Secret's '" + key + "' has characters not allowed in an HTTP header",
            false);
      }
    }
  }

  static ProviderException refused(String message) {
    return new ProviderException(422, message, false);
  }

  /** The body as JSON, or as a JSON string when it is not JSON; empty is JSON null. */
  static JsonNode jsonOrText(byte[] body) {
    if (body.length == 0) {
      return NullNode.instance;
    }
    try {
      JsonNode node = JSON.readTree(body);
      return node == null ? NullNode.instance : node;
    } catch (IOException notJson) {
      return TextNode.valueOf(new String(body, StandardCharsets.UTF_8));
    }
  }

  static byte[] bytes(JsonNode node) throws ProviderException {
    try {
      return JSON.writeValueAsBytes(node);
    } catch (JsonProcessingException e) {
      throw new ProviderException(422, "the request could not be written as JSON", false, null, e);
    }
  }

  /** Output as text for the single chunk an endpoint "stream" hands on. */
  static String text(JsonNode output) {
    return output.isTextual() ? output.asText() : output.toString();
  }

  /** {@link #excerpt(String, Collection)} of the start of an upstream body. */
  static String excerpt(byte[] body, Collection<String> secrets) {
    int length = Math.min(body.length, 64 * 1024);
    return excerpt(new String(body, 0, length, StandardCharsets.UTF_8), secrets);
  }

  /**
   * At most {@link #EXCERPT_BYTES} UTF-8 bytes of {@code text}, with every secret replaced by
   * {@code ***} first, so a secret straddling the cut cannot leave a readable piece.
   */
  static String excerpt(String text, Collection<String> secrets) {
    String scrubbed = text;
    for (String secret : secrets) {
      if (!secret.isEmpty()) {
        scrubbed = scrubbed.replace(secret, "***");
      }
    }
    return truncate(scrubbed.strip(), EXCERPT_BYTES);
  }

  static String truncate(String text, int maxBytes) {
    if (text.length() * 3 <= maxBytes || text.getBytes(StandardCharsets.UTF_8).length <= maxBytes) {
      return text;
    }
    int bytes = 0;
    int end = 0;
    while (end < text.length()) {
      int cp = text.codePointAt(end);
      int size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (bytes + size > maxBytes - 3) {
        break;
      }
      bytes += size;
      end += Character.charCount(cp);
    }
    return text.substring(0, end) + "...";
  }
}
