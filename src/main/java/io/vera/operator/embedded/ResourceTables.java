package io.vera.operator.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinitionBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/**
 * Renders custom resources as the {@code meta.k8s.io/v1} Table that {@code kubectl get} asks for,
 * from the CRD's printer columns, because kubectl prints only NAME and AGE otherwise.
 */
final class ResourceTables {

  static final String CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io";

  private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
  private static final CustomResourceColumnDefinition AGE =
      new CustomResourceColumnDefinitionBuilder()
          .withName("Age")
          .withType("date")
          .withJsonPath(".metadata.creationTimestamp")
          .withDescription("Time since the object was created.")
          .build();

  private ResourceTables() {}

  /** Whether an Accept header asks for a Table, as {@code kubectl get} does for human output. */
  static boolean isRequested(String accept) {
    return accept != null && accept.contains("as=Table");
  }

  /**
   * The Table of a list or single object of a custom resource version.
   *
   * @param now the time Age-like (date) columns count from
   */
  static ObjectNode render(
      JsonNode listOrObject, CustomResourceDefinitionVersion version, Instant now) {
    List<CustomResourceColumnDefinition> columns = new ArrayList<>();
    if (version.getAdditionalPrinterColumns() == null
        || version.getAdditionalPrinterColumns().isEmpty()) {
      columns.add(AGE);
    } else {
      columns.addAll(version.getAdditionalPrinterColumns());
    }
    ObjectNode table = JSON.objectNode();
    table.put("apiVersion", "meta.k8s.io/v1");
    table.put("kind", "Table");
    ObjectNode metadata = table.putObject("metadata");
    JsonNode resourceVersion = listOrObject.path("metadata").path("resourceVersion");
    if (listOrObject.has("items") && resourceVersion.isTextual()) {
      metadata.set("resourceVersion", resourceVersion);
    }
    // kubectl asks for lists in chunks of 500 and follows the Table's continue token, so a page
    // without it ends the listing there.
    JsonNode next = listOrObject.path("metadata").path("continue");
    if (listOrObject.has("items") && next.isTextual() && !next.asText().isEmpty()) {
      metadata.set("continue", next);
    }
    ArrayNode definitions = table.putArray("columnDefinitions");
    definitions.add(
        column("Name", "string", "name", "Name of the object, unique within its namespace.", 0));
    for (CustomResourceColumnDefinition c : columns) {
      definitions.add(
          column(
              c.getName(),
              c.getType(),
              c.getFormat() == null ? "" : c.getFormat(),
              c.getDescription() == null ? "" : c.getDescription(),
              c.getPriority() == null ? 0 : c.getPriority()));
    }
    ArrayNode rows = table.putArray("rows");
    Iterable<JsonNode> items =
        listOrObject.has("items") ? listOrObject.get("items") : List.of(listOrObject);
    for (JsonNode item : items) {
      ObjectNode row = rows.addObject();
      ArrayNode cells = row.putArray("cells");
      cells.add(item.path("metadata").path("name").asText());
      for (CustomResourceColumnDefinition c : columns) {
        cells.add(cell(item, c, now));
      }
      ObjectNode object = row.putObject("object");
      object.put("apiVersion", "meta.k8s.io/v1");
      object.put("kind", "PartialObjectMetadata");
      object.set("metadata", item.path("metadata"));
    }
    return table;
  }

  private static ObjectNode column(
      String name, String type, String format, String description, int priority) {
    ObjectNode column = JSON.objectNode();
    column.put("name", name);
    column.put("type", type);
    column.put("format", format);
    column.put("description", description);
    column.put("priority", priority);
    return column;
  }

  /** A cell as the API server computes it: typed by the column, empty where nothing matches. */
  private static JsonNode cell(JsonNode item, CustomResourceColumnDefinition column, Instant now) {
    JsonNode value;
    try {
      value = SimpleJsonPath.first(item, column.getJsonPath()).orElse(null);
    } catch (IllegalArgumentException e) {
      return JSON.nullNode();
    }
    if (value == null) {
      return JSON.nullNode();
    }
    return switch (column.getType()) {
      case "string" -> JSON.textNode(value.isValueNode() ? value.asText() : value.toString());
      case "integer" -> value.isNumber() ? JSON.numberNode(value.asLong()) : JSON.nullNode();
      case "number" -> value.isNumber() ? JSON.numberNode(value.asDouble()) : JSON.nullNode();
      case "boolean" -> value.isBoolean() ? value : JSON.nullNode();
      case "date" -> value.isTextual() ? JSON.textNode(age(value.asText(), now)) : JSON.nullNode();
      default -> JSON.nullNode();
    };
  }

  private static String age(String timestamp, Instant now) {
    try {
      return humanDuration(Duration.between(OffsetDateTime.parse(timestamp).toInstant(), now));
    } catch (DateTimeParseException e) {
      return "<invalid>";
    }
  }

  /** Kubernetes' duration.HumanDuration: "45s", "3m20s", "5h", "12d", "2y30d". */
  static String humanDuration(Duration d) {
    long seconds = d.toMillis() / 1000;
    if (seconds < -1) {
      return "<invalid>";
    } else if (seconds < 0) {
      return "0s";
    } else if (seconds < 60 * 2) {
      return seconds + "s";
    }
    long minutes = d.toMinutes();
    if (minutes < 10) {
      long s = seconds % 60;
      return s == 0 ? minutes + "m" : minutes + "m" + s + "s";
    } else if (minutes < 60 * 3) {
      return minutes + "m";
    }
    long hours = d.toHours();
    if (hours < 8) {
      long m = minutes % 60;
      return m == 0 ? hours + "h" : hours + "h" + m + "m";
    } else if (hours < 48) {
      return hours + "h";
    } else if (hours < 24 * 8) {
      long h = hours % 24;
      return h == 0 ? hours / 24 + "d" : hours / 24 + "d" + h + "h";
    } else if (hours < 24 * 365 * 2) {
      return hours / 24 + "d";
    } else if (hours < 24 * 365 * 8) {
      long days = (hours / 24) % 365;
      return days == 0 ? hours / 24 / 365 + "y" : hours / 24 / 365 + "y" + days + "d";
    }
    return hours / 24 / 365 + "y";
  }
}
