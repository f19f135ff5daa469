package io.vera.operator.facade;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A request body read as a JSON object, with typed accessors that refuse wrong types and values
 * outside the legacy API's ranges with a 422 naming the field. Nesting depth and string size are
 * capped while parsing, so a hostile body cannot exhaust the stack or memory.
 */
public final class JsonBody {
  /** The facade's one mapper: REST answers and parsed bodies share its limits. */
  public static final ObjectMapper MAPPER = new ObjectMapper();

  static {
    MAPPER
        .getFactory()
        .setStreamReadConstraints(
            StreamReadConstraints.builder()
                .maxNestingDepth(64)
                .maxStringLength(1_000_000)
                .maxNumberLength(100)
                .build());
  }

  private final ObjectNode node;

  private JsonBody(ObjectNode node) {
    this.node = node;
  }

  /**
   * Parses the body; an empty body is an empty object, as the legacy API's optional bodies were.
   */
  public static JsonBody of(Context ctx) {
    return parse(ctx.body());
  }

  /** Parses a body's text; blank is an empty object. */
  public static JsonBody parse(String text) {
    if (text == null || text.isBlank()) {
      return new JsonBody(MAPPER.createObjectNode());
    }
    JsonNode parsed;
    try {
      parsed = MAPPER.readTree(text);
    } catch (JsonProcessingException e) {
      throw ApiException.badRequest("request body is not valid JSON: " + e.getOriginalMessage());
    }
    if (parsed == null || parsed.isNull() || parsed.isMissingNode()) {
      return new JsonBody(MAPPER.createObjectNode());
    }
    if (!parsed.isObject()) {
      throw ApiException.invalid("request body must be a JSON object, got " + kind(parsed));
    }
    return new JsonBody((ObjectNode) parsed);
  }

  public boolean has(String field) {
    JsonNode value = node.get(field);
    return value != null && !value.isNull();
  }

  public String requireString(String field, int maxLength) {
    if (!has(field)) {
      throw ApiException.invalid("field '" + field + "' is required");
    }
    return string(field, null, maxLength);
  }

  public String string(String field, String fallback, int maxLength) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return fallback;
    }
    if (!value.isTextual()) {
      throw ApiException.invalid("field '" + field + "' must be a string, got " + kind(value));
    }
    String text = value.textValue();
    if (text.length() > maxLength) {
      throw ApiException.invalid(
          "field '" + field + "' is " + text.length() + " characters; at most " + maxLength);
    }
    return text;
  }

  public int integer(String field, int fallback, int min, int max) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return fallback;
    }
    if (!value.isIntegralNumber()
        && !(value.isNumber() && value.doubleValue() == Math.rint(value.doubleValue()))) {
      throw ApiException.invalid("field '" + field + "' must be an integer, got " + kind(value));
    }
    if (!value.canConvertToLong() || value.longValue() < min || value.longValue() > max) {
      throw ApiException.invalid(
          "field '" + field + "' must be between " + min + " and " + max + ", got " + value);
    }
    return (int) value.longValue();
  }

  public double number(String field, double fallback, double min, double max) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return fallback;
    }
    if (!value.isNumber()) {
      throw ApiException.invalid("field '" + field + "' must be a number, got " + kind(value));
    }
    double d = value.doubleValue();
    if (!(d >= min && d <= max)) {
      throw ApiException.invalid(
          "field '" + field + "' must be between " + min + " and " + max + ", got " + value);
    }
    return d;
  }

  public Boolean bool(String field, Boolean fallback) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return fallback;
    }
    if (!value.isBoolean()) {
      throw ApiException.invalid("field '" + field + "' must be true or false, got " + kind(value));
    }
    return value.booleanValue();
  }

  /** An object field, or null when absent. */
  public ObjectNode object(String field) {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isObject()) {
      throw ApiException.invalid("field '" + field + "' must be an object, got " + kind(value));
    }
    return (ObjectNode) value;
  }

  /** A nested object as a body of its own, for nested validation; empty when absent. */
  public JsonBody nested(String field) {
    ObjectNode value = object(field);
    return new JsonBody(value == null ? MAPPER.createObjectNode() : value);
  }

  public JsonNode raw(String field) {
    return node.get(field);
  }

  /** A list of strings (a single string is taken as a list of one). */
  public List<String> strings(String field, int maxItems, int maxLength) {
    JsonNode value = node.get(field);
    List<String> out = new ArrayList<>();
    if (value == null || value.isNull()) {
      return out;
    }
    if (value.isTextual()) {
      out.add(value.textValue());
      return out;
    }
    if (!value.isArray()) {
      throw ApiException.invalid(
          "field '" + field + "' must be a list of strings, got " + kind(value));
    }
    if (value.size() > maxItems) {
      throw ApiException.invalid(
          "field '" + field + "' has " + value.size() + " items; at most " + maxItems);
    }
    for (JsonNode item : value) {
      if (!item.isTextual() || item.textValue().length() > maxLength) {
        throw ApiException.invalid(
            "field '" + field + "' must hold strings of at most " + maxLength + " characters");
      }
      out.add(item.textValue());
    }
    return out;
  }

  /** A string-to-string map such as labels or environment variables. */
  public Map<String, String> stringMap(String field, int maxEntries) {
    ObjectNode value = object(field);
    Map<String, String> out = new LinkedHashMap<>();
    if (value == null) {
      return out;
    }
    if (value.size() > maxEntries) {
      throw ApiException.invalid(
          "field '" + field + "' has " + value.size() + " entries; at most " + maxEntries);
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!e.getValue().isValueNode() || e.getValue().isNull()) {
        throw ApiException.invalid("field '" + field + "." + e.getKey() + "' must be a string");
      }
      out.put(e.getKey(), e.getValue().asText());
    }
    return out;
  }

  static String kind(JsonNode value) {
    JsonNodeType type = value.getNodeType();
    return switch (type) {
      case STRING -> "a string";
      case NUMBER -> "a number";
      case BOOLEAN -> "a boolean";
      case ARRAY -> "an array";
      case OBJECT -> "an object";
      default -> type.name().toLowerCase();
    };
  }
}
