package io.vera.operator.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.CustomResource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Every manifest in examples/ uses only fields the resource classes (and so the CRDs) define. */
class ExamplesTest {
  private static final Map<String, Class<? extends HasMetadata>> KINDS =
      Map.of(
          "VeraTask", VeraTask.class,
          "WorkerPool", WorkerPool.class,
          "ComputeResource", ComputeResource.class,
          "Provider", Provider.class);
  private static final ObjectMapper STRICT =
      new ObjectMapper(new YAMLFactory()).enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  @Test
  void everyExampleUsesOnlyKnownFieldsAndHasItsRequiredOnes() throws IOException {
    List<Path> files;
    try (Stream<Path> list = Files.list(Path.of("examples"))) {
      files = list.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    assertThat(files).isNotEmpty();
    int veraObjects = 0;
    for (Path file : files) {
      for (JsonNode document :
          STRICT.readerFor(JsonNode.class).<JsonNode>readValues(file.toFile()).readAll()) {
        String kind = document.path("kind").asText();
        if (!KINDS.containsKey(kind)) {
          continue;
        }
        veraObjects++;
        assertThat(document.path("apiVersion").asText())
            .as(file + " apiVersion")
            .isEqualTo("vera.io/v1alpha1");
        HasMetadata object = STRICT.treeToValue(document, KINDS.get(kind));
        assertThat(object.getMetadata().getName()).as(file + " name").isNotBlank();
        Object spec = ((CustomResource<?, ?>) object).getSpec();
        assertThat(spec).as(file + " spec").isNotNull();
        JsonNode specJson = document.path("spec");
        String required =
            kind.equals("VeraTask")
                ? specJson.has("resourceRef") ? "resourceRef" : "handler"
                : kind.equals("WorkerPool") ? "taskType" : "type";
        assertThat(specJson.path(required).isMissingNode() || specJson.path(required).isNull())
            .as(file + " spec." + required)
            .isFalse();
        if (specJson.path(required).isTextual()) {
          assertThat(specJson.path(required).asText()).as(file + " spec." + required).isNotBlank();
        }
      }
    }
    assertThat(veraObjects).isGreaterThanOrEqualTo(KINDS.size());
  }
}
