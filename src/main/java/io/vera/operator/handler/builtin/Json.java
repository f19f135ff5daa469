package io.vera.operator.handler.builtin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;

/** Number results that stay integers when they are whole, as a Python client expects. */
final class Json {
  static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private Json() {}

  static JsonNode number(double value) {
    if (value == Math.rint(value) && Math.abs(value) < 9.0e15) {
      return NODES.numberNode((long) value);
    }
    return NODES.numberNode(value);
  }
}
