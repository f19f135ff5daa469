package io.vera.operator.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import java.util.stream.Collectors;

/**
 * A CRD version's {@code openAPIV3Schema} applied to an object as kube-apiserver applies it on
 * create, update and patch: unknown fields found (and pruned), nulls of non-nullable fields
 * dropped, defaults filled in, then types, enums, bounds, lengths, patterns and required fields
 * checked, with kube-apiserver's field paths and messages.
 *
 * <p>Hand-written rather than a JSON-schema library: a structural schema is a small subset of
 * OpenAPI, but pruning, defaulting and the {@code x-kubernetes-*} extensions are the API server's
 * own semantics that no JSON-schema validator has, and kubectl users read its exact messages.
 *
 * <p>Not checked: {@code x-kubernetes-validations} (CEL), list-type uniqueness ({@code
 * x-kubernetes-list-type: set|map}) and {@code format}; none of Vera's CRDs use them.
 */
final class StructuralSchema {

  private static final Map<String, Pattern> PATTERNS = new ConcurrentHashMap<>();

  private final JsonNode root;

  /**
   * @param openApiV3Schema the CRD version's {@code schema.openAPIV3Schema}
   */
  StructuralSchema(JsonNode openApiV3Schema) {
    this.root = openApiV3Schema;
  }

  /** A field the schema refuses: its path, the API server's cause type and the whole message. */
  record FieldError(String field, String causeType, String message) {}

  /** What admitting an object found: the fields it pruned and the errors, in document order. */
  record Outcome(List<String> unknownFields, List<FieldError> errors) {}

  /**
   * Prunes, defaults and validates {@code object} in place; {@code apiVersion}, {@code kind} and
   * {@code metadata} at the root are the API server's, not the schema's, and are left alone.
   */
  Outcome admit(ObjectNode object) {
    List<String> unknown = new ArrayList<>();
    List<FieldError> errors = new ArrayList<>();
    Iterator<Map.Entry<String, JsonNode>> fields = object.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      String name = field.getKey();
      if (name.equals("apiVersion") || name.equals("kind") || name.equals("metadata")) {
        continue;
      }
      JsonNode property = root.path("properties").get(name);
      if (property == null && !preservesUnknown(root)) {
        unknown.add(name);
        fields.remove();
      } else if (property != null) {
        if (field.getValue().isNull() && !property.path("nullable").asBoolean(false)) {
          fields.remove();
        } else {
          prune(field.getValue(), property, name, unknown);
        }
      }
    }
    applyDefaults(object, root);
    ObjectNode schemaChecked = object.deepCopy();
    schemaChecked.remove(List.of("apiVersion", "kind", "metadata"));
    validateObject(schemaChecked, root, "", errors);
    return new Outcome(unknown, errors);
  }

  // ---- pruning --------------------------------------------------------------------------------

  private void prune(JsonNode value, JsonNode schema, String path, List<String> unknown) {
    if (value.isObject()) {
      ObjectNode object = (ObjectNode) value;
      JsonNode properties = schema.get("properties");
      JsonNode additional = schema.get("additionalProperties");
      boolean embedded = schema.path("x-kubernetes-embedded-resource").asBoolean(false);
      Iterator<Map.Entry<String, JsonNode>> fields = object.fields();
      while (fields.hasNext()) {
        Map.Entry<String, JsonNode> field = fields.next();
        String name = field.getKey();
        String child = path + "." + name;
        JsonNode property = properties == null ? null : properties.get(name);
        if (property == null && additional != null && additional.isObject()) {
          property = additional;
        }
        if (property == null) {
          boolean kept =
              preservesUnknown(schema)
                  || (additional != null && additional.asBoolean(false))
                  || (embedded && List.of("apiVersion", "kind", "metadata").contains(name));
          if (!kept) {
            unknown.add(child);
            fields.remove();
          }
          continue;
        }
        if (field.getValue().isNull() && !property.path("nullable").asBoolean(false)) {
          fields.remove();
        } else {
          prune(field.getValue(), property, child, unknown);
        }
      }
    } else if (value.isArray() && schema.has("items")) {
      for (int i = 0; i < value.size(); i++) {
        prune(value.get(i), schema.get("items"), path + "[" + i + "]", unknown);
      }
    }
  }

  private static boolean preservesUnknown(JsonNode schema) {
    return schema.path("x-kubernetes-preserve-unknown-fields").asBoolean(false);
  }

  // ---- defaulting -----------------------------------------------------------------------------

  /** Fills absent properties that have a default, in objects that exist, depth first. */
  private void applyDefaults(JsonNode value, JsonNode schema) {
    if (value.isObject()) {
      ObjectNode object = (ObjectNode) value;
      JsonNode properties = schema.get("properties");
      if (properties != null) {
        properties
            .fields()
            .forEachRemaining(
                property -> {
                  JsonNode fallback = property.getValue().get("default");
                  if (fallback != null && !object.has(property.getKey())) {
                    object.set(property.getKey(), fallback.deepCopy());
                  }
                });
      }
      JsonNode additional = schema.get("additionalProperties");
      object
          .fields()
          .forEachRemaining(
              field -> {
                JsonNode property = properties == null ? null : properties.get(field.getKey());
                if (property == null && additional != null && additional.isObject()) {
                  property = additional;
                }
                if (property != null) {
                  applyDefaults(field.getValue(), property);
                }
              });
    } else if (value.isArray() && schema.has("items")) {
      value.forEach(item -> applyDefaults(item, schema.get("items")));
    }
  }

  // ---- validation -----------------------------------------------------------------------------

  private void validate(JsonNode value, JsonNode schema, String path, List<FieldError> errors) {
    if (value.isNull()) {
      if (!schema.path("nullable").asBoolean(false) && schema.has("type")) {
        errors.add(typeError(path, value, schema.get("type").asText()));
      }
      return;
    }
    if (schema.path("x-kubernetes-int-or-string").asBoolean(false)) {
      if (!value.isTextual() && !value.isIntegralNumber()) {
        errors.add(typeError(path, value, "integer or string"));
        return;
      }
    } else if (schema.has("type") && !hasType(value, schema.get("type").asText())) {
      errors.add(typeError(path, value, schema.get("type").asText()));
      return;
    }
    int before = errors.size();
    checkEnum(value, schema, path, errors);
    if (value.isNumber()) {
      checkBounds(value, schema, path, errors);
    } else if (value.isTextual()) {
      checkString(value.asText(), schema, path, errors);
    } else if (value.isObject()) {
      validateObject((ObjectNode) value, schema, path, errors);
    } else if (value.isArray()) {
      validateArray((ArrayNode) value, schema, path, errors);
    }
    if (errors.size() == before) {
      checkAlternatives(value, schema, path, errors);
    }
  }

  private void validateObject(
      ObjectNode object, JsonNode schema, String path, List<FieldError> errors) {
    for (JsonNode required : schema.path("required")) {
      JsonNode value = object.get(required.asText());
      if (value == null) {
        String field = join(path, required.asText());
        errors.add(new FieldError(field, "FieldValueRequired", field + ": Required value"));
      }
    }
    JsonNode properties = schema.get("properties");
    JsonNode additional = schema.get("additionalProperties");
    object
        .fields()
        .forEachRemaining(
            field -> {
              JsonNode property = properties == null ? null : properties.get(field.getKey());
              if (property == null && additional != null && additional.isObject()) {
                property = additional;
              }
              if (property != null) {
                validate(field.getValue(), property, join(path, field.getKey()), errors);
              }
            });
    int size = object.size();
    if (schema.has("minProperties") && size < schema.get("minProperties").asInt()) {
      errors.add(
          invalid(
              path,
              object,
              "should have at least " + schema.get("minProperties").asInt() + " properties"));
    }
    if (schema.has("maxProperties") && size > schema.get("maxProperties").asInt()) {
      errors.add(
          invalid(
              path,
              object,
              "should have at most " + schema.get("maxProperties").asInt() + " properties"));
    }
  }

  private void validateArray(
      ArrayNode array, JsonNode schema, String path, List<FieldError> errors) {
    if (schema.has("minItems") && array.size() < schema.get("minItems").asInt()) {
      errors.add(
          invalid(
              path, array, "should have at least " + schema.get("minItems").asInt() + " items"));
    }
    if (schema.has("maxItems") && array.size() > schema.get("maxItems").asInt()) {
      errors.add(
          new FieldError(
              path,
              "FieldValueTooMany",
              path
                  + ": Too many: "
                  + array.size()
                  + ": must have at most "
                  + schema.get("maxItems").asInt()
                  + " items"));
    }
    if (schema.has("items")) {
      for (int i = 0; i < array.size(); i++) {
        validate(array.get(i), schema.get("items"), path + "[" + i + "]", errors);
      }
    }
  }

  private static void checkEnum(
      JsonNode value, JsonNode schema, String path, List<FieldError> errors) {
    JsonNode allowed = schema.get("enum");
    if (allowed == null || !allowed.isArray()) {
      return;
    }
    for (JsonNode candidate : allowed) {
      if (sameValue(candidate, value)) {
        return;
      }
    }
    List<String> quoted = new ArrayList<>();
    allowed.forEach(candidate -> quoted.add(candidate.toString()));
    String supported = quoted.stream().collect(Collectors.joining(", "));
    errors.add(
        new FieldError(
            path,
            "FieldValueNotSupported",
            path + ": Unsupported value: " + value + ": supported values: " + supported));
  }

  private static boolean sameValue(JsonNode a, JsonNode b) {
    if (a.isNumber() && b.isNumber()) {
      return a.decimalValue().compareTo(b.decimalValue()) == 0;
    }
    return a.equals(b);
  }

  private static void checkBounds(
      JsonNode value, JsonNode schema, String path, List<FieldError> errors) {
    BigDecimal number = value.decimalValue();
    if (schema.has("minimum")) {
      BigDecimal minimum = schema.get("minimum").decimalValue();
      boolean exclusive = schema.path("exclusiveMinimum").asBoolean(false);
      int compared = number.compareTo(minimum);
      if (compared < 0 || (exclusive && compared == 0)) {
        errors.add(
            invalid(
                path,
                value,
                "should be greater than " + (exclusive ? "" : "or equal to ") + plain(minimum)));
      }
    }
    if (schema.has("maximum")) {
      BigDecimal maximum = schema.get("maximum").decimalValue();
      boolean exclusive = schema.path("exclusiveMaximum").asBoolean(false);
      int compared = number.compareTo(maximum);
      if (compared > 0 || (exclusive && compared == 0)) {
        errors.add(
            invalid(
                path,
                value,
                "should be less than " + (exclusive ? "" : "or equal to ") + plain(maximum)));
      }
    }
    if (schema.has("multipleOf")) {
      BigDecimal factor = schema.get("multipleOf").decimalValue();
      if (factor.signum() != 0 && number.remainder(factor).signum() != 0) {
        errors.add(invalid(path, value, "should be a multiple of " + plain(factor)));
      }
    }
  }

  private static void checkString(
      String text, JsonNode schema, String path, List<FieldError> errors) {
    int length = text.codePointCount(0, text.length());
    if (schema.has("maxLength") && length > schema.get("maxLength").asInt()) {
      errors.add(
          new FieldError(
              path,
              "FieldValueTooLong",
              path
                  + ": Too long: may not be more than "
                  + schema.get("maxLength").asInt()
                  + " bytes"));
    }
    if (schema.has("minLength") && length < schema.get("minLength").asInt()) {
      errors.add(
          invalid(
              path,
              TextNode.valueOf(text),
              "should be at least " + schema.get("minLength").asInt() + " chars long"));
    }
    if (schema.has("pattern")) {
      String regex = schema.get("pattern").asText();
      Pattern pattern;
      try {
        pattern = PATTERNS.computeIfAbsent(regex, Pattern::compile);
      } catch (PatternSyntaxException e) {
        return;
      }
      if (!pattern.matcher(text).find()) {
        errors.add(invalid(path, TextNode.valueOf(text), "should match '" + regex + "'"));
      }
    }
  }

  /** {@code anyOf}, {@code oneOf}, {@code allOf} and {@code not}, as value validations. */
  private void checkAlternatives(
      JsonNode value, JsonNode schema, String path, List<FieldError> errors) {
    if (schema.has("allOf")) {
      schema.get("allOf").forEach(branch -> validate(value, branch, path, errors));
    }
    if (schema.has("anyOf") && matching(value, schema.get("anyOf"), path) == 0) {
      errors.add(invalid(path, value, "must validate at least one schema (anyOf)"));
    }
    if (schema.has("oneOf") && matching(value, schema.get("oneOf"), path) != 1) {
      errors.add(invalid(path, value, "must validate one and only one schema (oneOf)"));
    }
    if (schema.has("not") && matching(value, List.of(schema.get("not")), path) == 1) {
      errors.add(invalid(path, value, "must not validate the schema (not)"));
    }
  }

  private int matching(JsonNode value, Iterable<JsonNode> branches, String path) {
    int matches = 0;
    for (JsonNode branch : branches) {
      List<FieldError> branchErrors = new ArrayList<>();
      validate(value, branch, path, branchErrors);
      if (branchErrors.isEmpty()) {
        matches++;
      }
    }
    return matches;
  }

  private static boolean hasType(JsonNode value, String type) {
    return switch (type) {
      case "string" -> value.isTextual();
      case "integer" ->
          value.isIntegralNumber()
              || (value.isNumber() && value.decimalValue().stripTrailingZeros().scale() <= 0);
      case "number" -> value.isNumber();
      case "boolean" -> value.isBoolean();
      case "object" -> value.isObject();
      case "array" -> value.isArray();
      default -> true;
    };
  }

  private static FieldError typeError(String path, JsonNode value, String expected) {
    String actual = typeName(value);
    return new FieldError(
        path,
        "FieldValueInvalid",
        path
            + ": Invalid value: \""
            + actual
            + "\": "
            + path
            + " in body must be of type "
            + expected
            + ": \""
            + actual
            + "\"");
  }

  private static String typeName(JsonNode value) {
    if (value.isTextual()) {
      return "string";
    }
    if (value.isIntegralNumber()) {
      return "integer";
    }
    if (value.isNumber()) {
      return "number";
    }
    if (value.isBoolean()) {
      return "boolean";
    }
    if (value.isArray()) {
      return "array";
    }
    if (value.isNull()) {
      return "null";
    }
    return "object";
  }

  private static FieldError invalid(String path, JsonNode value, String rule) {
    String shown = value.isContainerNode() ? "\"" + typeName(value) + "\"" : value.toString();
    return new FieldError(
        path,
        "FieldValueInvalid",
        path + ": Invalid value: " + shown + ": " + path + " in body " + rule);
  }

  private static String plain(BigDecimal number) {
    return number.stripTrailingZeros().toPlainString();
  }

  private static String join(String path, String field) {
    return path.isEmpty() ? field : path + "." + field;
  }
}
