package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class OpenApiDocumentTest {
  private static final Set<String> HTTP_METHODS =
      Set.of("get", "put", "post", "delete", "options", "head", "patch", "trace");
  private static final Pattern PATH_TEMPLATE = Pattern.compile("\\{([^}]+)}");

  private static JsonNode document;

  @BeforeAll
  static void readDocument() throws IOException {
    JsonMapper strict =
        JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();
    try (InputStream in =
        OpenApiDocumentTest.class
            .getClassLoader()
            .getResourceAsStream("openapi/vera-openapi.json")) {
      assertThat(in).as("openapi/vera-openapi.json on the classpath").isNotNull();
      document = strict.readTree(in);
    }
  }

  @Test
  void everyReferenceResolvesInsideTheDocument() {
    List<String> refs = new ArrayList<>();
    collectRefs(document, refs);

    assertThat(refs).isNotEmpty();
    assertThat(refs)
        .allSatisfy(
            ref -> {
              assertThat(ref).as("local reference").startsWith("#/");
              assertThat(document.at(ref.substring(1)).isMissingNode())
                  .as("%s resolves", ref)
                  .isFalse();
            });
  }

  @Test
  void everyPathTemplateVariableIsADeclaredPathParameter() {
    document
        .path("paths")
        .fields()
        .forEachRemaining(
            path -> {
              Set<String> variables = new HashSet<>();
              Matcher matcher = PATH_TEMPLATE.matcher(path.getKey());
              while (matcher.find()) {
                variables.add(matcher.group(1));
              }
              operations(path.getValue())
                  .forEach(
                      (method, operation) -> {
                        Set<String> declared = new HashSet<>();
                        for (JsonNode parameter : operation.path("parameters")) {
                          JsonNode resolved = resolve(parameter);
                          if ("path".equals(resolved.path("in").asText())) {
                            declared.add(resolved.path("name").asText());
                          }
                        }
                        assertThat(declared)
                            .as("%s %s", method, path.getKey())
                            .isEqualTo(variables);
                      });
            });
  }

  @Test
  void operationIdsAreUnique() {
    Set<String> seen = new HashSet<>();
    document
        .path("paths")
        .forEach(
            path ->
                operations(path)
                    .values()
                    .forEach(
                        operation ->
                            assertThat(seen.add(operation.path("operationId").asText()))
                                .as("unique operationId %s", operation.path("operationId"))
                                .isTrue()));
  }

  @Test
  void enumerationsAreTheLegacyOnes() {
    JsonNode schemas = document.path("components").path("schemas");

    assertThat(texts(schemas.path("TaskState").path("enum")))
        .containsExactly("pending", "queued", "running", "completed", "failed", "cancelled");
    assertThat(texts(schemas.path("TaskPriority").path("enum")))
        .containsExactly("critical", "high", "normal", "low", "background");
    assertThat(texts(schemas.path("TaskType").path("enum")))
        .containsExactly("LLM", "WHISPER", "TOOL", "ML_MODEL", "BACKGROUND", "GENERAL");
    assertThat(texts(schemas.path("UpdateMessage").path("properties").path("type").path("enum")))
        .containsExactly(
            "initial_status",
            "status_update",
            "task_submitted",
            "task_started",
            "task_completed",
            "task_failed",
            "task_cancelled",
            "task_retrying",
            "pong");
  }

  @Test
  void taskTypeInputAcceptsAnyCase() {
    Pattern pattern =
        Pattern.compile(document.at("/components/schemas/TaskTypeInput/pattern").asText());

    assertThat(List.of("LLM", "llm", "Ml_Model", "whisper", "GENERAL"))
        .allSatisfy(value -> assertThat(pattern.matcher(value).matches()).as(value).isTrue());
    assertThat(pattern.matcher("GPU").matches()).isFalse();
  }

  @Test
  void taskViewAndSubmitResponseCarryTheContractFields() {
    JsonNode schemas = document.path("components").path("schemas");

    assertThat(fieldNames(schemas.path("TaskView").path("properties")))
        .containsExactlyInAnyOrder(
            "task_id",
            "name",
            "status",
            "priority",
            "task_type",
            "pool",
            "description",
            "payload",
            "context",
            "result",
            "error",
            "error_type",
            "attempts",
            "max_retries",
            "timeout",
            "created_at",
            "queued_at",
            "started_at",
            "completed_at",
            "next_retry_at",
            "duration_ms",
            "worker_id",
            "pending_reason");
    assertThat(fieldNames(schemas.path("SubmitTaskResponse").path("properties")))
        .containsExactlyInAnyOrder(
            "task_id", "status", "name", "priority", "task_type", "pool", "pending_reason");
  }

  @Test
  void everyErrorAnswerHasTheDetailShapeAndOpenAisOnTheGateway() {
    document
        .path("paths")
        .fields()
        .forEachRemaining(
            path ->
                operations(path.getValue())
                    .forEach(
                        (method, operation) ->
                            operation
                                .path("responses")
                                .fields()
                                .forEachRemaining(
                                    response -> {
                                      if (response.getKey().startsWith("4")
                                          || response.getKey().startsWith("5")) {
                                        JsonNode schema =
                                            resolve(response.getValue())
                                                .at("/content/application~1json/schema/$ref");
                                        assertThat(schema.asText())
                                            .as(
                                                "%s %s %s",
                                                method, path.getKey(), response.getKey())
                                            .isEqualTo(
                                                path.getKey().startsWith("/v1/")
                                                    ? "#/components/schemas/OpenAiError"
                                                    : "#/components/schemas/Error");
                                      }
                                    })));
  }

  private static Map<String, JsonNode> operations(JsonNode pathItem) {
    Map<String, JsonNode> operations = new TreeMap<>();
    pathItem
        .fields()
        .forEachRemaining(
            entry -> {
              if (HTTP_METHODS.contains(entry.getKey())) {
                operations.put(entry.getKey(), entry.getValue());
              }
            });
    return operations;
  }

  private static JsonNode resolve(JsonNode node) {
    return node.has("$ref") ? document.at(node.get("$ref").asText().substring(1)) : node;
  }

  private static void collectRefs(JsonNode node, List<String> refs) {
    if (node.isObject()) {
      JsonNode ref = node.get("$ref");
      if (ref != null) {
        refs.add(ref.asText());
      }
    }
    node.forEach(child -> collectRefs(child, refs));
  }

  private static List<String> texts(JsonNode array) {
    List<String> values = new ArrayList<>();
    array.forEach(value -> values.add(value.asText()));
    return values;
  }

  private static List<String> fieldNames(JsonNode object) {
    List<String> names = new ArrayList<>();
    object.fieldNames().forEachRemaining(names::add);
    return names;
  }
}
