package io.vera.operator.handler;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/** Reads typed fields from a task payload, failing with messages that name the field and value. */
public final class Payloads {
  private Payloads() {}

  public static double requireNumber(JsonNode payload, String field) {
    JsonNode value = payload.get(field);
    if (value == null || value.isNull()) {
      throw new TaskInputException("payload field '" + field + "' is required");
    }
    if (!value.isNumber()) {
      throw new TaskInputException(
          "payload field '" + field + "' must be a number, got " + describe(value));
    }
    return value.doubleValue();
  }

  public static long requireInteger(JsonNode payload, String field, long min, long max) {
    JsonNode value = payload.get(field);
    if (value == null || value.isNull()) {
      throw new TaskInputException("payload field '" + field + "' is required");
    }
    if (!value.isIntegralNumber() || !value.canConvertToLong()) {
      throw new TaskInputException(
          "payload field '" + field + "' must be an integer, got " + describe(value));
    }
    long n = value.longValue();
    if (n < min || n > max) {
      throw new TaskInputException(
          "payload field '" + field + "' must be between " + min + " and " + max + ", got " + n);
    }
    return n;
  }

  public static List<Double> requireNumbers(JsonNode payload, String field, int maxCount) {
    JsonNode value = payload.get(field);
    if (value == null || !value.isArray()) {
      throw new TaskInputException("payload field '" + field + "' must be an array of numbers");
    }
    if (value.size() > maxCount) {
      throw new TaskInputException(
          "payload field '" + field + "' holds " + value.size() + " items; at most " + maxCount);
    }
    List<Double> numbers = new ArrayList<>(value.size());
    for (int i = 0; i < value.size(); i++) {
      JsonNode item = value.get(i);
      if (!item.isNumber()) {
        throw new TaskInputException(
            "payload field '" + field + "[" + i + "]' must be a number, got " + describe(item));
      }
      numbers.add(item.doubleValue());
    }
    return numbers;
  }

  private static String describe(JsonNode value) {
    String text = value.toString();
    return value.getNodeType().name().toLowerCase()
        + " "
        + (text.length() > 40 ? text.substring(0, 40) + "…" : text);
  }
}
