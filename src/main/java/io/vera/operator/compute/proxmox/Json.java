package io.vera.operator.compute.proxmox;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Reading Proxmox answers, where a number may arrive as a JSON number or as a string ({@code
 * "maxmem": "4294967296"}, {@code "vmid": "101"}) and a boolean as 0/1, "1" or true.
 */
final class Json {
  private Json() {}

  static String text(JsonNode node, String field) {
    if (node == null) {
      return null;
    }
    JsonNode v = node.get(field);
    return v == null || v.isNull() ? null : v.asText();
  }

  static long asLong(JsonNode node, String field, long fallback) {
    if (node == null) {
      return fallback;
    }
    return asLong(node.get(field), fallback);
  }

  static long asLong(JsonNode v, long fallback) {
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (v.isNumber()) {
      return v.asLong();
    }
    String s = v.asText().strip();
    if (s.isEmpty()) {
      return fallback;
    }
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      try {
        return (long) Double.parseDouble(s);
      } catch (NumberFormatException e2) {
        return fallback;
      }
    }
  }

  static double asDouble(JsonNode node, String field, double fallback) {
    JsonNode v = node == null ? null : node.get(field);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (v.isNumber()) {
      return v.asDouble();
    }
    try {
      return Double.parseDouble(v.asText().strip());
    } catch (NumberFormatException e) {
      return fallback;
    }
  }

  static boolean asBool(JsonNode node, String field) {
    JsonNode v = node == null ? null : node.get(field);
    if (v == null || v.isNull()) {
      return false;
    }
    if (v.isBoolean()) {
      return v.asBoolean();
    }
    if (v.isNumber()) {
      return v.asLong() != 0;
    }
    String s = v.asText().strip().toLowerCase(java.util.Locale.ROOT);
    return s.equals("1") || s.equals("true") || s.equals("yes") || s.equals("on");
  }
}
