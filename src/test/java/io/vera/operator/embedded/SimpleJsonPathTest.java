package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.client.utils.Serialization;
import org.junit.jupiter.api.Test;

/** The JSONPath subset of printer columns and scale paths. */
class SimpleJsonPathTest {

  private final JsonNode doc =
      Serialization.unmarshal(
          "{\"spec\":{\"replicas\":2},\"status\":{\"conditions\":["
              + "{\"type\":\"Ready\",\"status\":\"True\"},{\"type\":\"Degraded\",\"status\":\"False\"}]}}",
          JsonNode.class);

  @Test
  void selectsFieldsIndexesAndFilters() {
    assertThat(SimpleJsonPath.first(doc, ".spec.replicas")).contains(IntNode.valueOf(2));
    assertThat(SimpleJsonPath.first(doc, ".status.conditions[1].type").map(JsonNode::asText))
        .contains("Degraded");
    assertThat(
            SimpleJsonPath.first(doc, ".status.conditions[?(@.type==\"Ready\")].status")
                .map(JsonNode::asText))
        .contains("True");
    assertThat(SimpleJsonPath.evaluate(doc, ".status.conditions[*].type")).hasSize(2);
    assertThat(SimpleJsonPath.first(doc, ".status.missing")).isEmpty();
  }

  @Test
  void rejectsWhatItDoesNotSupport() {
    assertThatThrownBy(() -> SimpleJsonPath.evaluate(doc, ".a[1:2]"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("[1:2]");
    assertThatThrownBy(() -> SimpleJsonPath.evaluate(doc, "spec"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void setsNestedFields() {
    ObjectNode target = JsonNodeFactory.instance.objectNode();

    SimpleJsonPath.set(target, ".spec.scale.replicas", IntNode.valueOf(3));

    assertThat(target.toString()).isEqualTo("{\"spec\":{\"scale\":{\"replicas\":3}}}");
    assertThatThrownBy(() -> SimpleJsonPath.set(target, ".items[0]", IntNode.valueOf(1)))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
