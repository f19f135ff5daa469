package io.vera.operator.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The JSONPath subset CRDs use in printer columns and scale paths: {@code .field}, {@code [n]},
 * {@code [*]} and {@code [?(@.field=="value")]}; enough to evaluate them without a JSONPath
 * library.
 */
final class SimpleJsonPath {

  private static final Pattern FILTER =
      Pattern.compile("\\?\\(@(?<path>(\\.[^=!<>\\s]+)+)\\s*==\\s*(['\"])(?<value>.*)\\3\\)");

  private SimpleJsonPath() {}

  /** The first value the path selects in a document, if any. */
  static Optional<JsonNode> first(JsonNode root, String path) {
    List<JsonNode> results = evaluate(root, path);
    return results.isEmpty() ? Optional.empty() : Optional.of(results.get(0));
  }

  /**
   * Sets the value at a path of plain field names (e.g. {@code .spec.replicas}), creating the
   * objects on the way.
   *
   * @throws IllegalArgumentException if the path has anything but field names
   */
  static void set(ObjectNode root, String path, JsonNode value) {
    if (!path.matches("(\\.[^.\\[\\]]+)+")) {
      throw new IllegalArgumentException("Cannot write through JSONPath " + path);
    }
    String[] fields = path.substring(1).split("\\.");
    ObjectNode node = root;
    for (int i = 0; i < fields.length - 1; i++) {
      node = node.get(fields[i]) instanceof ObjectNode child ? child : node.putObject(fields[i]);
    }
    node.set(fields[fields.length - 1], value);
  }

  /**
   * Every value the path selects in a document, in document order.
   *
   * @throws IllegalArgumentException if the path is outside the supported subset
   */
  static List<JsonNode> evaluate(JsonNode root, String path) {
    List<JsonNode> current = List.of(root);
    int i = 0;
    while (i < path.length()) {
      char c = path.charAt(i);
      if (c == '.') {
        int end = i + 1;
        while (end < path.length() && path.charAt(end) != '.' && path.charAt(end) != '[') {
          end++;
        }
        current = field(current, path.substring(i + 1, end));
        i = end;
      } else if (c == '[') {
        int end = path.indexOf(']', i);
        if (end < 0) {
          throw new IllegalArgumentException("Unclosed [ in JSONPath " + path);
        }
        current = subscript(current, path.substring(i + 1, end), path);
        i = end + 1;
      } else {
        throw new IllegalArgumentException("Unsupported JSONPath " + path);
      }
    }
    return current;
  }

  private static List<JsonNode> field(List<JsonNode> nodes, String name) {
    List<JsonNode> result = new ArrayList<>();
    for (JsonNode node : nodes) {
      JsonNode child = node.get(name);
      if (child != null && !child.isNull()) {
        result.add(child);
      }
    }
    return result;
  }

  private static List<JsonNode> subscript(List<JsonNode> nodes, String subscript, String path) {
    Matcher filter = FILTER.matcher(subscript);
    boolean all = subscript.equals("*");
    boolean index = subscript.matches("\\d+");
    if (!all && !index && !filter.matches()) {
      throw new IllegalArgumentException("Unsupported subscript [" + subscript + "] in " + path);
    }
    List<JsonNode> result = new ArrayList<>();
    for (JsonNode node : nodes) {
      if (!node.isArray()) {
        continue;
      }
      if (all) {
        node.forEach(result::add);
      } else if (index) {
        JsonNode element = node.get(Integer.parseInt(subscript));
        if (element != null) {
          result.add(element);
        }
      } else {
        for (JsonNode element : node) {
          if (first(element, filter.group("path"))
              .filter(v -> v.asText().equals(filter.group("value")))
              .isPresent()) {
            result.add(element);
          }
        }
      }
    }
    return result;
  }
}
