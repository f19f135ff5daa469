package io.vera.operator.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * The Swagger 2.0 document kube-apiserver serves at {@code /openapi/v2}, made from the same schemas
 * as the v3 documents ({@link OpenApiDocuments}), in JSON and in the protobuf encoding kubectl asks
 * for.
 *
 * <p>Who reads it: kubectl before 1.27 (the Debian package CI installs is 1.20) validates {@code
 * apply}, {@code create} and {@code replace} client-side against it, and {@code kubectl explain}
 * describes fields from it. Those kubectl versions request only {@code
 * application/com.github.proto-openapi.spec.v2@v1.0+protobuf}: the gnostic {@code
 * openapi.v2.Document} message ({@code openapiv2/OpenAPIv2.proto} in google/gnostic), which {@link
 * ProtoWriter} writes with the field numbers of that file. Other clients get JSON.
 *
 * <p>The schemas are converted as kube-apiserver converts a CRD's schema for v2: {@code
 * #/components/schemas/} references become {@code #/definitions/}, a single-reference {@code allOf}
 * becomes the reference, and a node with {@code x-kubernetes-preserve-unknown-fields} or {@code
 * x-kubernetes-int-or-string} loses its type and fields, since old kubectl refuses fields a schema
 * does not list; {@code nullable}, {@code oneOf}, {@code anyOf} and {@code not} have no v2 form and
 * are dropped. Paths are left out: kubectl reads kinds by their {@code
 * x-kubernetes-group-version-kind}.
 */
final class OpenApiV2 {

  /** What kubectl asks for (and then nothing else). */
  static final String PROTOBUF_CONTENT_TYPE =
      "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final Set<String> NO_V2_FORM = Set.of("nullable", "oneOf", "anyOf", "not");

  /** What an untyped node (unknown fields kept, int-or-string) loses in v2. */
  private static final Set<String> TYPED_ONLY =
      Set.of("type", "properties", "additionalProperties", "items", "required");

  private final String json;
  private final byte[] protobuf;

  /**
   * @param schemas every schema of the v3 documents by name
   * @param version the Kubernetes version the document claims, as the v3 documents do
   */
  OpenApiV2(Map<String, JsonNode> schemas, String version) {
    ObjectNode document = NODES.objectNode();
    document.put("swagger", "2.0");
    document.putObject("info").put("title", "Kubernetes").put("version", version);
    document.putObject("paths");
    ObjectNode definitions = document.putObject("definitions");
    schemas.forEach((name, schema) -> definitions.set(name, v2(schema)));
    this.json = document.toString();
    this.protobuf = encodeDocument(document);
  }

  String json() {
    return json;
  }

  byte[] protobuf() {
    return protobuf.clone();
  }

  /** A v3 schema as kube-apiserver publishes it in v2; see the class comment. */
  static JsonNode v2(JsonNode schema) {
    if (!schema.isObject()) {
      return schema;
    }
    JsonNode allOf = schema.get("allOf");
    if (allOf != null && allOf.size() == 1 && allOf.get(0).has("$ref")) {
      ObjectNode reference = NODES.objectNode();
      reference.put("$ref", v2Reference(allOf.get(0).get("$ref").asText()));
      if (schema.has("description")) {
        reference.set("description", schema.get("description"));
      }
      return reference;
    }
    boolean untyped =
        schema.path("x-kubernetes-preserve-unknown-fields").asBoolean(false)
            || schema.path("x-kubernetes-int-or-string").asBoolean(false);
    ObjectNode result = NODES.objectNode();
    for (Iterator<Map.Entry<String, JsonNode>> it = schema.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> field = it.next();
      String key = field.getKey();
      JsonNode value = field.getValue();
      if (NO_V2_FORM.contains(key) || untyped && TYPED_ONLY.contains(key)) {
        continue;
      }
      switch (key) {
        case "$ref" -> result.put(key, v2Reference(value.asText()));
        case "properties" -> {
          ObjectNode properties = result.putObject(key);
          value.fields().forEachRemaining(p -> properties.set(p.getKey(), v2(p.getValue())));
        }
        case "items", "additionalProperties" -> result.set(key, v2(value));
        case "allOf" -> {
          var list = result.putArray(key);
          value.forEach(item -> list.add(v2(item)));
        }
        default -> result.set(key, value);
      }
    }
    if ("array".equals(result.path("type").asText()) && !result.has("items")) {
      // kubectl refuses the whole document for an array without items; untyped, it is anything.
      result.remove("type");
    }
    return result;
  }

  private static String v2Reference(String reference) {
    return reference.replace("#/components/schemas/", "#/definitions/");
  }

  // ---- protobuf ------------------------------------------------------------------------------

  /** {@code openapi.v2.Document}: swagger = 1, info = 2, paths = 8, definitions = 9. */
  private static byte[] encodeDocument(JsonNode document) {
    ProtoWriter out = new ProtoWriter();
    out.string(1, document.get("swagger").asText());
    ProtoWriter info = new ProtoWriter();
    info.string(1, document.get("info").get("title").asText());
    info.string(2, document.get("info").get("version").asText());
    out.message(2, info);
    out.message(8, new ProtoWriter());
    ProtoWriter definitions = new ProtoWriter();
    document
        .get("definitions")
        .fields()
        .forEachRemaining(d -> definitions.message(1, named(d.getKey(), schema(d.getValue()))));
    out.message(9, definitions);
    return out.bytes();
  }

  /** {@code NamedSchema} (and {@code NamedAny}): name = 1, value = 2. */
  private static ProtoWriter named(String name, ProtoWriter value) {
    ProtoWriter named = new ProtoWriter();
    named.string(1, name);
    named.message(2, value);
    return named;
  }

  /** {@code Any}: its value as YAML (yaml = 2); JSON is YAML, and kubectl reads it so. */
  private static ProtoWriter any(JsonNode value) {
    ProtoWriter any = new ProtoWriter();
    any.string(2, value.toString());
    return any;
  }

  /** {@code openapi.v2.Schema}, with the field numbers of OpenAPIv2.proto. */
  private static ProtoWriter schema(JsonNode schema) {
    ProtoWriter out = new ProtoWriter();
    text(out, 1, schema, "$ref");
    text(out, 2, schema, "format");
    text(out, 3, schema, "title");
    text(out, 4, schema, "description");
    if (schema.has("default")) {
      out.message(5, any(schema.get("default")));
    }
    number(out, 6, schema, "multipleOf");
    number(out, 7, schema, "maximum");
    flag(out, 8, schema, "exclusiveMaximum");
    number(out, 9, schema, "minimum");
    flag(out, 10, schema, "exclusiveMinimum");
    count(out, 11, schema, "maxLength");
    count(out, 12, schema, "minLength");
    text(out, 13, schema, "pattern");
    count(out, 14, schema, "maxItems");
    count(out, 15, schema, "minItems");
    flag(out, 16, schema, "uniqueItems");
    count(out, 17, schema, "maxProperties");
    count(out, 18, schema, "minProperties");
    schema.path("required").forEach(r -> out.string(19, r.asText()));
    schema.path("enum").forEach(e -> out.message(20, any(e)));
    JsonNode additional = schema.get("additionalProperties");
    if (additional != null) {
      ProtoWriter item = new ProtoWriter();
      if (additional.isBoolean()) {
        item.bool(2, additional.asBoolean());
      } else {
        item.message(1, schema(additional));
      }
      out.message(21, item);
    }
    JsonNode type = schema.get("type");
    if (type != null) {
      ProtoWriter typeItem = new ProtoWriter();
      if (type.isArray()) {
        type.forEach(t -> typeItem.string(1, t.asText()));
      } else {
        typeItem.string(1, type.asText());
      }
      out.message(22, typeItem);
    }
    JsonNode items = schema.get("items");
    if (items != null) {
      ProtoWriter itemsItem = new ProtoWriter();
      if (items.isArray()) {
        items.forEach(i -> itemsItem.message(1, schema(i)));
      } else {
        itemsItem.message(1, schema(items));
      }
      out.message(23, itemsItem);
    }
    schema.path("allOf").forEach(a -> out.message(24, schema(a)));
    JsonNode properties = schema.get("properties");
    if (properties != null) {
      ProtoWriter list = new ProtoWriter();
      properties
          .fields()
          .forEachRemaining(p -> list.message(1, named(p.getKey(), schema(p.getValue()))));
      out.message(25, list);
    }
    flag(out, 27, schema, "readOnly");
    if (schema.has("example")) {
      out.message(30, any(schema.get("example")));
    }
    schema
        .fields()
        .forEachRemaining(
            f -> {
              if (f.getKey().startsWith("x-")) {
                out.message(31, named(f.getKey(), any(f.getValue())));
              }
            });
    return out;
  }

  private static void text(ProtoWriter out, int field, JsonNode schema, String name) {
    if (schema.has(name)) {
      out.string(field, schema.get(name).asText());
    }
  }

  private static void number(ProtoWriter out, int field, JsonNode schema, String name) {
    if (schema.has(name) && schema.get(name).isNumber()) {
      out.fixed64(field, Double.doubleToLongBits(schema.get(name).asDouble()));
    }
  }

  private static void count(ProtoWriter out, int field, JsonNode schema, String name) {
    if (schema.has(name) && schema.get(name).canConvertToLong()) {
      out.varint(field, schema.get(name).asLong());
    }
  }

  private static void flag(ProtoWriter out, int field, JsonNode schema, String name) {
    if (schema.path(name).asBoolean(false)) {
      out.bool(field, true);
    }
  }

  /**
   * The protobuf wire format, as much of it as these messages use: varints (wire type 0), 64-bit
   * doubles (1) and length-delimited strings and messages (2). Small enough that generating the
   * gnostic classes (and depending on protobuf-java) would not pay.
   */
  static final class ProtoWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    void string(int field, String value) {
      bytes(field, value.getBytes(StandardCharsets.UTF_8));
    }

    void message(int field, ProtoWriter message) {
      bytes(field, message.bytes());
    }

    void bool(int field, boolean value) {
      varint(field, value ? 1 : 0);
    }

    void varint(int field, long value) {
      tag(field, 0);
      rawVarint(value);
    }

    void fixed64(int field, long value) {
      tag(field, 1);
      for (int i = 0; i < 8; i++) {
        out.write((int) (value >>> (8 * i)) & 0xff);
      }
    }

    byte[] bytes() {
      return out.toByteArray();
    }

    private void bytes(int field, byte[] value) {
      tag(field, 2);
      rawVarint(value.length);
      out.write(value, 0, value.length);
    }

    private void tag(int field, int wireType) {
      rawVarint(((long) field << 3) | wireType);
    }

    private void rawVarint(long value) {
      while ((value & ~0x7fL) != 0) {
        out.write((int) ((value & 0x7f) | 0x80));
        value >>>= 7;
      }
      out.write((int) value);
    }
  }
}
