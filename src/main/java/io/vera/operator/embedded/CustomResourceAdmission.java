package io.vera.operator.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.StatusCause;
import io.fabric8.kubernetes.api.model.StatusCauseBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Decides, as kube-apiserver does before it stores a custom resource, whether an object may be
 * written: the CRD version's structural schema prunes, defaults and validates it ({@link
 * StructuralSchema}) and its name must be a DNS subdomain. A refusal is the API server's {@code
 * Status}: 400 {@code BadRequest} for unknown fields under {@code fieldValidation=Strict}, 422
 * {@code Invalid} naming each field otherwise.
 */
final class CustomResourceAdmission {

  /** How unknown fields are treated, from the request's {@code fieldValidation} parameter. */
  enum FieldValidation {
    /** Pruned silently. */
    IGNORE,
    /** Pruned, each named in a {@code Warning} header; the API server's default. */
    WARN,
    /** Refused; what kubectl asks for by default. */
    STRICT;

    static FieldValidation of(String parameter) {
      if (parameter == null) {
        return WARN;
      }
      return switch (parameter) {
        case "Strict" -> STRICT;
        case "Ignore" -> IGNORE;
        default -> WARN;
      };
    }
  }

  /** What a write may store, or why not. */
  sealed interface Decision {}

  /** The object to store, pruned and defaulted, and the warnings to send with the answer. */
  record Admitted(ObjectNode object, List<String> warnings) implements Decision {}

  /** The answer instead of a write. */
  record Refused(Status status) implements Decision {}

  private static final Pattern DNS_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final int DNS_SUBDOMAIN_MAX = 253;

  /** Schemas by CRD resourceVersion and version name: parsing one costs more than a write. */
  private final Map<String, StructuralSchema> schemas = new ConcurrentHashMap<>();

  /**
   * Admits {@code object} (changed in place) as a write of {@code resource} would store it.
   *
   * @param object the whole object as it would be stored: for a write to the main resource with the
   *     stored status, for a write to {@code /status} with the stored spec
   */
  Decision admit(
      ApiCatalog.CustomResource resource, ObjectNode object, FieldValidation fieldValidation) {
    String group = resource.crd().getSpec().getGroup();
    String kind = resource.crd().getSpec().getNames().getKind();
    String name = object.path("metadata").path("name").asText("");
    StructuralSchema schema = schemaOf(resource);
    StructuralSchema.Outcome outcome = schema.admit(object);
    if (fieldValidation == FieldValidation.STRICT && !outcome.unknownFields().isEmpty()) {
      return new Refused(
          new StatusBuilder()
              .withStatus("Failure")
              .withCode(400)
              .withReason("BadRequest")
              .withMessage(
                  kind
                      + " in version \""
                      + resource.version().getName()
                      + "\" cannot be handled as a "
                      + kind
                      + ": strict decoding error: "
                      + outcome.unknownFields().stream()
                          .map(field -> "unknown field \"" + field + "\"")
                          .collect(Collectors.joining(", ")))
              .build());
    }
    List<StructuralSchema.FieldError> errors = new ArrayList<>();
    if (!name.isEmpty()
        && (name.length() > DNS_SUBDOMAIN_MAX || !DNS_SUBDOMAIN.matcher(name).matches())) {
      errors.add(
          new StructuralSchema.FieldError(
              "metadata.name",
              "FieldValueInvalid",
              "metadata.name: Invalid value: \""
                  + name
                  + "\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric"
                  + " characters, '-' or '.', and must start and end with an alphanumeric"
                  + " character"));
    }
    errors.addAll(outcome.errors());
    if (!errors.isEmpty()) {
      return new Refused(invalid(group, kind, name, errors));
    }
    List<String> warnings =
        fieldValidation == FieldValidation.WARN
            ? outcome.unknownFields().stream().map(f -> "unknown field \"" + f + "\"").toList()
            : List.of();
    return new Admitted(object, warnings);
  }

  private StructuralSchema schemaOf(ApiCatalog.CustomResource resource) {
    String key =
        resource.crd().getMetadata().getName()
            + "@"
            + resource.crd().getMetadata().getResourceVersion()
            + "/"
            + resource.version().getName();
    return schemas.computeIfAbsent(
        key,
        k -> {
          JsonNode schema =
              resource.version().getSchema() == null
                  ? null
                  : Serialization.jsonMapper()
                      .valueToTree(resource.version().getSchema().getOpenAPIV3Schema());
          return new StructuralSchema(
              schema == null || schema.isNull()
                  ? Serialization.jsonMapper()
                      .createObjectNode()
                      .put("x-kubernetes-preserve-unknown-fields", true)
                  : schema);
        });
  }

  /** The API server's 422: {@code <Kind>.<group> "<name>" is invalid: <field errors>}. */
  private static Status invalid(
      String group, String kind, String name, List<StructuralSchema.FieldError> errors) {
    List<StatusCause> causes =
        errors.stream()
            .map(
                error ->
                    new StatusCauseBuilder()
                        .withReason(error.causeType())
                        .withField(error.field())
                        .withMessage(
                            error.message().startsWith(error.field() + ": ")
                                ? error.message().substring(error.field().length() + 2)
                                : error.message())
                        .build())
            .toList();
    String listed =
        errors.size() == 1
            ? errors.get(0).message()
            : errors.stream()
                .map(StructuralSchema.FieldError::message)
                .collect(Collectors.joining(", ", "[", "]"));
    return new StatusBuilder()
        .withStatus("Failure")
        .withCode(422)
        .withReason("Invalid")
        .withMessage(kind + "." + group + " \"" + name + "\" is invalid: " + listed)
        .withNewDetails()
        .withName(name)
        .withGroup(group)
        .withKind(kind)
        .withCauses(causes)
        .endDetails()
        .build();
  }
}
