package io.vera.operator.provider.llm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.provider.ProviderException;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.BiConsumer;

/**
 * A request's {@code params} checked against what one provider accepts, so a misspelt or
 * unsupported option is refused (422) instead of silently dropped, and each client maps the same
 * names ({@code temperature}, {@code max_tokens}, {@code top_p}, {@code stop}, {@code system}, ...)
 * to its own wire fields. A param whose value is JSON null counts as absent; {@code stop} may be a
 * string or a list of strings and is always handed on as a list.
 */
final class Params {
  /** The JSON type a param's value must have. */
  enum Kind {
    NUMBER,
    POSITIVE_INTEGER,
    STRING,
    STRINGS
  }

  private final Map<String, JsonNode> values;

  private Params(Map<String, JsonNode> values) {
    this.values = values;
  }

  static Params check(String provider, JsonNode params, Map<String, Kind> accepted)
      throws ProviderException {
    Map<String, JsonNode> values = new LinkedHashMap<>();
    if (params == null || params.isNull() || params.isMissingNode()) {
      return new Params(values);
    }
    if (!params.isObject()) {
      throw refused("params must be a JSON object");
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = params.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> param = it.next();
      String name = param.getKey();
      JsonNode value = param.getValue();
      Kind kind = accepted.get(name);
      if (kind == null) {
        throw refused(
            provider
                + " does not support param '"
                + name
                + "' (supported: "
                + String.join(", ", new TreeSet<>(accepted.keySet()))
                + ")");
      }
      if (!value.isNull()) {
        values.put(name, checked(name, value, kind));
      }
    }
    return new Params(values);
  }

  /** The value of {@code name}, or null when absent. */
  JsonNode get(String name) {
    return values.get(name);
  }

  /** Every param given (JSON nulls left out), in the request's order. */
  void forEach(BiConsumer<String, JsonNode> action) {
    values.forEach(action);
  }

  /** Copies {@code name}, when present, to {@code target} as {@code wireName}. */
  void copy(String name, ObjectNode target, String wireName) {
    JsonNode value = values.get(name);
    if (value != null) {
      target.set(wireName, value);
    }
  }

  private static JsonNode checked(String name, JsonNode value, Kind kind) throws ProviderException {
    switch (kind) {
      case NUMBER -> {
        if (value.isNumber()) {
          return value;
        }
        throw refused("param '" + name + "' must be a number");
      }
      case POSITIVE_INTEGER -> {
        if (value.isIntegralNumber() && value.canConvertToLong() && value.asLong() > 0) {
          return value;
        }
        throw refused("param '" + name + "' must be a positive integer");
      }
      case STRING -> {
        if (value.isTextual()) {
          return value;
        }
        throw refused("param '" + name + "' must be a string");
      }
      case STRINGS -> {
        ArrayNode list = LlmClient.JSON.createArrayNode();
        if (value.isTextual()) {
          return list.add(value);
        }
        if (value.isArray()) {
          for (JsonNode item : value) {
            if (!item.isTextual()) {
              throw refused("param '" + name + "' must be a string or a list of strings");
            }
            list.add(item);
          }
          return list;
        }
        throw refused("param '" + name + "' must be a string or a list of strings");
      }
    }
    throw new IllegalStateException("unknown kind " + kind);
  }

  private static ProviderException refused(String message) {
    return new ProviderException(422, message, false);
  }
}
