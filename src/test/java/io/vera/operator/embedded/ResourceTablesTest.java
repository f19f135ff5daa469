package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersionBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Table rendering and Kubernetes' human-readable ages. */
class ResourceTablesTest {

  @Test
  void formatsAgesLikeKubectl() {
    assertThat(ResourceTables.humanDuration(Duration.ofMillis(-1500))).isEqualTo("0s");
    assertThat(ResourceTables.humanDuration(Duration.ofSeconds(-5))).isEqualTo("<invalid>");
    assertThat(ResourceTables.humanDuration(Duration.ofSeconds(119))).isEqualTo("119s");
    assertThat(ResourceTables.humanDuration(Duration.ofSeconds(200))).isEqualTo("3m20s");
    assertThat(ResourceTables.humanDuration(Duration.ofMinutes(45))).isEqualTo("45m");
    assertThat(ResourceTables.humanDuration(Duration.ofMinutes(5 * 60 + 7))).isEqualTo("5h7m");
    assertThat(ResourceTables.humanDuration(Duration.ofHours(30))).isEqualTo("30h");
    assertThat(ResourceTables.humanDuration(Duration.ofHours(24 * 3 + 2))).isEqualTo("3d2h");
    assertThat(ResourceTables.humanDuration(Duration.ofDays(100))).isEqualTo("100d");
    assertThat(ResourceTables.humanDuration(Duration.ofDays(365 * 3 + 10))).isEqualTo("3y10d");
    assertThat(ResourceTables.humanDuration(Duration.ofDays(365 * 9))).isEqualTo("9y");
  }

  @Test
  void typesCellsByColumnAndDefaultsToAnAgeColumn() {
    JsonNode object =
        Serialization.unmarshal(
            "{\"metadata\":{\"name\":\"a\",\"creationTimestamp\":\"2025-01-01T00:00:00Z\"},"
                + "\"spec\":{\"n\":\"7\",\"f\":1.5,\"b\":true,\"o\":{\"k\":1}}}",
            JsonNode.class);
    var typed =
        new CustomResourceDefinitionVersionBuilder()
            .addNewAdditionalPrinterColumn()
            .withName("N")
            .withType("integer")
            .withJsonPath(".spec.n")
            .endAdditionalPrinterColumn()
            .addNewAdditionalPrinterColumn()
            .withName("F")
            .withType("number")
            .withJsonPath(".spec.f")
            .endAdditionalPrinterColumn()
            .addNewAdditionalPrinterColumn()
            .withName("B")
            .withType("boolean")
            .withJsonPath(".spec.b")
            .endAdditionalPrinterColumn()
            .addNewAdditionalPrinterColumn()
            .withName("O")
            .withType("string")
            .withJsonPath(".spec.o")
            .endAdditionalPrinterColumn()
            .build();

    JsonNode cells =
        ResourceTables.render(object, typed, Instant.parse("2025-01-01T00:01:00Z"))
            .path("rows")
            .get(0)
            .path("cells");
    assertThat(cells.toString()).isEqualTo("[\"a\",null,1.5,true,\"{\\\"k\\\":1}\"]");

    JsonNode table =
        ResourceTables.render(
            object,
            new CustomResourceDefinitionVersionBuilder().build(),
            Instant.parse("2025-01-01T00:01:00Z"));
    assertThat(table.path("columnDefinitions").findValuesAsText("name"))
        .containsExactly("Name", "Age");
    assertThat(table.path("rows").get(0).path("cells").get(1).asText()).isEqualTo("60s");
  }
}
