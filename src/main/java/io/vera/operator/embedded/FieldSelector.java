package io.vera.operator.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@code fieldSelector} as the API server reads it: requirements {@code field=value}, {@code
 * field==value} or {@code field!=value}, comma-separated, all of which must hold; a field is a
 * dotted path into the object ({@code involvedObject.name}, {@code spec.nodeName}), and an absent
 * field reads as the empty string.
 *
 * <p>The CRUD mock understands only {@code metadata.name} and {@code metadata.namespace} and
 * matches nothing for any other field, so the dispatcher filters with this instead ({@code kubectl
 * describe} lists an object's Events by {@code involvedObject.*}).
 */
record FieldSelector(List<Requirement> requirements) {

  /** One requirement: the value at {@code path} equals, or with {@code negated} differs from. */
  record Requirement(String path, String value, boolean negated) {}

  /**
   * @throws IllegalArgumentException for a requirement with no operator, as the API server refuses
   */
  static FieldSelector parse(String selector) {
    List<Requirement> requirements = new ArrayList<>();
    for (String part : selector.split(",")) {
      if (part.isBlank()) {
        continue;
      }
      int not = part.indexOf("!=");
      int eq = part.indexOf('=');
      if (not >= 0) {
        requirements.add(
            new Requirement(part.substring(0, not).trim(), part.substring(not + 2).trim(), true));
      } else if (eq >= 0) {
        String value = part.substring(eq + 1);
        if (value.startsWith("=")) {
          value = value.substring(1);
        }
        requirements.add(new Requirement(part.substring(0, eq).trim(), value.trim(), false));
      } else {
        throw new IllegalArgumentException("invalid field selector requirement: " + part);
      }
    }
    return new FieldSelector(List.copyOf(requirements));
  }

  /** Whether the mock answers it right: only equality on metadata.name and metadata.namespace. */
  boolean isForMock() {
    return requirements.stream()
        .allMatch(
            r ->
                !r.negated()
                    && (r.path().equals("metadata.name") || r.path().equals("metadata.namespace")));
  }

  boolean matches(JsonNode object) {
    for (Requirement requirement : requirements) {
      JsonNode value = object;
      for (String step : requirement.path().split("\\.")) {
        value = value.path(step);
      }
      String actual = value.isValueNode() ? value.asText() : "";
      if (actual.equals(requirement.value()) == requirement.negated()) {
        return false;
      }
    }
    return true;
  }
}
