package io.vera.operator.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The OpenAPI v3 documents kube-apiserver serves under {@code /openapi/v3}, built from the
 * installed CRDs and the built-in kinds embedded mode serves.
 *
 * <p>What kubectl reads from them: {@code kubectl explain} walks a kind's schema (the CRD's own,
 * with descriptions); {@code kubectl apply}, {@code create} and {@code replace} look for the {@code
 * fieldValidation} parameter on the kind's PATCH operation and, finding it, leave validation to the
 * server ({@code fieldValidation=Strict}) instead of validating client-side. Built-in kinds get a
 * schema of their top-level fields only: enough for that check and a short {@code explain}.
 *
 * <p>The same schemas make the Swagger 2.0 document of {@code /openapi/v2} ({@link OpenApiV2}),
 * which kubectl before 1.27 reads instead.
 */
final class OpenApiDocuments {

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final String OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
  private static final String KUBERNETES_VERSION = "v1.32.0";
  private static final String BUILT_IN_PREFIX = "io.k8s.api.";

  /** Group-version documents by path below /openapi/v3, e.g. {@code apis/vera.io/v1alpha1}. */
  private final Map<String, String> documents = new LinkedHashMap<>();

  private final String root;
  private final OpenApiV2 v2;

  OpenApiDocuments(ApiCatalog catalog) {
    Map<String, ObjectNode> byGroupVersion = new LinkedHashMap<>();
    ApiCatalog.builtInResources()
        .forEach(
            (groupVersion, resources) -> {
              ObjectNode document = document(byGroupVersion, groupVersion);
              for (APIResource resource : resources) {
                if (!resource.getName().contains("/")) {
                  addBuiltIn(document, groupVersion, resource);
                }
              }
            });
    for (ApiCatalog.CustomResource resource : catalog.customResources()) {
      String groupVersion =
          resource.crd().getSpec().getGroup() + "/" + resource.version().getName();
      addCustomResource(document(byGroupVersion, groupVersion), resource);
    }
    Map<String, JsonNode> schemas = new LinkedHashMap<>();
    ObjectNode rootPaths = NODES.objectNode();
    byGroupVersion.forEach(
        (groupVersion, document) -> {
          // v2 leaves out the built-in kinds, described here by their top-level fields only:
          // kubectl would take that for their schema when it patches them (strategic merge).
          document
              .with("components")
              .with("schemas")
              .fields()
              .forEachRemaining(
                  f -> {
                    if (!f.getKey().startsWith(BUILT_IN_PREFIX)) {
                      schemas.put(f.getKey(), f.getValue());
                    }
                  });
          String key = (groupVersion.contains("/") ? "apis/" : "api/") + groupVersion;
          String json = document.toString();
          documents.put(key, json);
          rootPaths
              .putObject(key)
              .put("serverRelativeURL", "/openapi/v3/" + key + "?hash=" + sha512(json));
        });
    ObjectNode rootDocument = NODES.objectNode();
    rootDocument.set("paths", rootPaths);
    this.root = rootDocument.toString();
    this.v2 = new OpenApiV2(schemas, KUBERNETES_VERSION);
  }

  /** The same schemas as one Swagger 2.0 document, for {@code /openapi/v2}. */
  OpenApiV2 v2() {
    return v2;
  }

  /** The document listing each group version's document, at {@code /openapi/v3}. */
  String root() {
    return root;
  }

  /** The document of a group version, e.g. {@code apis/vera.io/v1alpha1} or {@code api/v1}. */
  Optional<String> groupVersion(String path) {
    return Optional.ofNullable(documents.get(path));
  }

  private static ObjectNode document(Map<String, ObjectNode> documents, String groupVersion) {
    return documents.computeIfAbsent(
        groupVersion,
        gv -> {
          ObjectNode document = NODES.objectNode();
          document.put("openapi", "3.0.0");
          document.putObject("info").put("title", "Kubernetes").put("version", KUBERNETES_VERSION);
          document.putObject("paths");
          document.putObject("components").putObject("schemas").set(OBJECT_META, objectMeta());
          return document;
        });
  }

  private static void addCustomResource(ObjectNode document, ApiCatalog.CustomResource resource) {
    String group = resource.crd().getSpec().getGroup();
    String version = resource.version().getName();
    String kind = resource.crd().getSpec().getNames().getKind();
    String name = reversed(group) + "." + version + "." + kind;
    JsonNode openApi =
        resource.version().getSchema() == null
            ? null
            : Serialization.jsonMapper()
                .valueToTree(resource.version().getSchema().getOpenAPIV3Schema());
    ObjectNode schema =
        openApi != null && openApi.isObject()
            ? (ObjectNode) openApi.deepCopy()
            : NODES.objectNode().put("type", "object");
    if (!schema.has("description")) {
      schema.put("description", kind + " is a custom resource of " + group + ".");
    }
    ObjectNode properties = schema.with("properties");
    ObjectNode withTypeMeta = NODES.objectNode();
    withTypeMeta.set("apiVersion", typeMetaField("apiVersion"));
    withTypeMeta.set("kind", typeMetaField("kind"));
    withTypeMeta.set("metadata", metadataField());
    properties.fields().forEachRemaining(f -> withTypeMeta.set(f.getKey(), f.getValue()));
    schema.set("properties", withTypeMeta);
    schema.set("x-kubernetes-group-version-kind", gvk(group, version, kind));
    addKind(
        document,
        name,
        schema,
        group,
        version,
        kind,
        resource.crd().getSpec().getNames().getPlural(),
        "Namespaced".equals(resource.crd().getSpec().getScope()));
  }

  private static void addBuiltIn(ObjectNode document, String groupVersion, APIResource resource) {
    String[] parts = groupVersion.split("/", 2);
    String group = parts.length == 2 ? parts[0] : "";
    String version = parts.length == 2 ? parts[1] : parts[0];
    String kind = resource.getKind();
    String name =
        (group.isEmpty() ? "io.k8s.api.core" : "io.k8s.api." + group.split("\\.")[0])
            + "."
            + version
            + "."
            + kind;
    ObjectNode schema = NODES.objectNode();
    schema.put(
        "description", kind + " (built-in; embedded mode describes its top-level fields only).");
    schema.put("type", "object");
    ObjectNode properties = schema.putObject("properties");
    properties.set("apiVersion", typeMetaField("apiVersion"));
    properties.set("kind", typeMetaField("kind"));
    properties.set("metadata", metadataField());
    switch (kind) {
      case "ConfigMap" -> {
        properties.set("data", stringMap("Configuration data, UTF-8 strings."));
        properties.set("binaryData", stringMap("Binary configuration data, base64-encoded."));
        properties.set("immutable", field("boolean", "Whether the data may not change."));
      }
      case "Secret" -> {
        properties.set("data", stringMap("Secret data, base64-encoded."));
        properties.set("stringData", stringMap("Secret data as plain strings, write-only."));
        properties.set("type", field("string", "Used to ease programmatic handling."));
        properties.set("immutable", field("boolean", "Whether the data may not change."));
      }
      default -> {
        properties.set("spec", preserved("The desired state of the object."));
        properties.set("status", preserved("The observed state of the object."));
      }
    }
    schema.put("x-kubernetes-preserve-unknown-fields", true);
    schema.set("x-kubernetes-group-version-kind", gvk(group, version, kind));
    addKind(
        document,
        name,
        schema,
        group,
        version,
        kind,
        resource.getName(),
        Boolean.TRUE.equals(resource.getNamespaced()));
  }

  /** A kind's schema and the paths of its operations, each marked with its kind. */
  private static void addKind(
      ObjectNode document,
      String schemaName,
      ObjectNode schema,
      String group,
      String version,
      String kind,
      String plural,
      boolean namespaced) {
    document.with("components").with("schemas").set(schemaName, schema);
    String prefix =
        (group.isEmpty() ? "/api/" + version : "/apis/" + group + "/" + version)
            + (namespaced ? "/namespaces/{namespace}/" : "/")
            + plural;
    String reference = "#/components/schemas/" + schemaName;
    ObjectNode collection = document.with("paths").putObject(prefix);
    collection.set("get", operation("list", kind, group, version, reference, false));
    collection.set("post", operation("post", kind, group, version, reference, true));
    ObjectNode item = document.with("paths").putObject(prefix + "/{name}");
    item.set("get", operation("get", kind, group, version, reference, false));
    item.set("put", operation("put", kind, group, version, reference, true));
    item.set("patch", operation("patch", kind, group, version, reference, true));
    item.set("delete", operation("delete", kind, group, version, reference, false));
  }

  private static ObjectNode operation(
      String action, String kind, String group, String version, String reference, boolean writes) {
    ObjectNode operation = NODES.objectNode();
    operation.put("operationId", action + kind);
    ArrayNode parameters = operation.putArray("parameters");
    if (writes) {
      for (String parameter : List.of("dryRun", "fieldManager", "fieldValidation")) {
        ObjectNode p = parameters.addObject();
        p.put("name", parameter);
        p.put("in", "query");
        p.putObject("schema").put("type", "string").put("uniqueItems", true);
      }
    }
    ObjectNode ok = operation.putObject("responses").putObject("200");
    ok.put("description", "OK");
    ok.putObject("content")
        .putObject("application/json")
        .putObject("schema")
        .put("$ref", reference);
    operation.put("x-kubernetes-action", action);
    operation
        .putObject("x-kubernetes-group-version-kind")
        .put("group", group)
        .put("version", version)
        .put("kind", kind);
    return operation;
  }

  private static ArrayNode gvk(String group, String version, String kind) {
    ArrayNode list = NODES.arrayNode();
    list.addObject().put("group", group).put("kind", kind).put("version", version);
    return list;
  }

  private static ObjectNode typeMetaField(String name) {
    return field(
        "string",
        name.equals("kind")
            ? "Kind is a string value representing the REST resource this object represents."
            : "APIVersion defines the versioned schema of this representation of an object.");
  }

  private static ObjectNode metadataField() {
    ObjectNode metadata = NODES.objectNode();
    metadata.putArray("allOf").addObject().put("$ref", "#/components/schemas/" + OBJECT_META);
    metadata.put("description", "Standard object's metadata.");
    return metadata;
  }

  private static ObjectNode objectMeta() {
    ObjectNode meta = NODES.objectNode();
    meta.put(
        "description",
        "ObjectMeta is metadata that all persisted resources must have, which includes all"
            + " objects users must create.");
    meta.put("type", "object");
    ObjectNode properties = meta.putObject("properties");
    properties.set("name", field("string", "Name must be unique within a namespace."));
    properties.set(
        "generateName", field("string", "A prefix the server uses to generate a unique name."));
    properties.set("namespace", field("string", "The namespace the object lives in."));
    properties.set("labels", stringMap("Map of string keys and values to organize objects."));
    properties.set("annotations", stringMap("Unstructured key value map stored with an object."));
    properties.set("uid", field("string", "The unique in time and space value of this object."));
    properties.set(
        "resourceVersion", field("string", "The internal version of this object; opaque."));
    properties.set(
        "generation", field("integer", "A sequence number for the desired state's generation."));
    properties.set("creationTimestamp", field("string", "When this object was created."));
    properties.set(
        "deletionTimestamp", field("string", "When this object will be or was deleted."));
    ObjectNode finalizers = field("array", "Must be empty before the object is deleted.");
    finalizers.putObject("items").put("type", "string");
    properties.set("finalizers", finalizers);
    ObjectNode owners = field("array", "Objects this object depends on.");
    owners
        .putObject("items")
        .put("type", "object")
        .put("x-kubernetes-preserve-unknown-fields", true);
    properties.set("ownerReferences", owners);
    ObjectNode managed = field("array", "Which field manager manages which fields.");
    managed
        .putObject("items")
        .put("type", "object")
        .put("x-kubernetes-preserve-unknown-fields", true);
    properties.set("managedFields", managed);
    return meta;
  }

  private static ObjectNode field(String type, String description) {
    return NODES.objectNode().put("description", description).put("type", type);
  }

  private static ObjectNode stringMap(String description) {
    ObjectNode map = field("object", description);
    map.putObject("additionalProperties").put("type", "string");
    return map;
  }

  private static ObjectNode preserved(String description) {
    return field("object", description).put("x-kubernetes-preserve-unknown-fields", true);
  }

  /** {@code vera.io} as {@code io.vera}, as kube-apiserver names CRD definitions. */
  private static String reversed(String group) {
    List<String> parts = new ArrayList<>(List.of(group.split("\\.")));
    Collections.reverse(parts);
    return String.join(".", parts);
  }

  private static String sha512(String text) {
    try {
      return HexFormat.of()
          .withUpperCase()
          .formatHex(
              MessageDigest.getInstance("SHA-512").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-512 is part of every JDK", e);
    }
  }
}
