package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.embedded.ValidationCases.Answer;
import io.vera.operator.embedded.ValidationCases.Case;
import io.vera.operator.embedded.ValidationCases.Outcome;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The embedded API server admits custom resources as kube-apiserver does: the table of {@link
 * ValidationCases} over HTTP, then updates, patches and status writes.
 */
class SchemaValidationTest {

  private static final String NS = "validation";

  private static EmbeddedApiServer server;
  private static KubernetesClient http;

  @BeforeAll
  static void start() {
    server = EmbeddedApiServer.start(0);
    server.installCrds();
    http =
        new KubernetesClientBuilder()
            .withConfig(new ConfigBuilder(Config.empty()).withMasterUrl(server.url()).build())
            .build();
  }

  @AfterAll
  static void stop() {
    http.close();
    server.close();
  }

  static Stream<Case> cases() {
    return ValidationCases.CASES.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void createIsAnsweredAsTheApiServerAnswersIt(Case c) throws Exception {
    Answer answer = ValidationCases.create(http, NS, c, true);

    switch (c.outcome()) {
      case CREATED -> {
        assertThat(answer.code()).as(answer.body().toString()).isEqualTo(201);
        JsonNode stored = answer.body().at(c.fragment());
        if (c.stored() == null) {
          assertThat(stored.isMissingNode()).as(answer.body().toString()).isTrue();
        } else {
          assertThat(stored.toString()).isEqualTo(c.stored());
        }
      }
      case INVALID -> {
        assertThat(answer.code()).isEqualTo(422);
        assertThat(answer.body().path("reason").asText()).isEqualTo("Invalid");
        assertThat(answer.body().path("message").asText())
            .contains(" is invalid: ")
            .contains(c.fragment());
      }
      case UNKNOWN_FIELD -> {
        assertThat(answer.code()).isEqualTo(400);
        assertThat(answer.body().path("message").asText())
            .contains("strict decoding error")
            .contains(c.fragment());
      }
    }
  }

  @Test
  void theMessageNamesTheKindTheFieldAndTheSupportedValues() throws Exception {
    Case urgent =
        ValidationCases.CASES.stream()
            .filter(c -> c.name().equals("unsupported priority"))
            .findFirst()
            .orElseThrow();

    Answer answer = ValidationCases.create(http, NS, urgent, true);

    assertThat(answer.body().path("message").asText())
        .isEqualTo(
            "VeraTask.vera.io \"urgent\" is invalid: spec.priority: Unsupported value: \"urgent\":"
                + " supported values: \"background\", \"critical\", \"high\", \"low\", \"normal\"");
    assertThat(answer.body().at("/details/causes/0/field").asText()).isEqualTo("spec.priority");
    assertThat(server.client().resources(VeraTask.class).inNamespace(NS).withName("urgent").get())
        .isNull();
  }

  @Test
  void unknownFieldsArePrunedWithAWarningWithoutStrictValidation() throws Exception {
    Case misspelled =
        new Case(
            "misspelled, not strict",
            "{\"apiVersion\":\"vera.io/v1alpha1\",\"kind\":\"VeraTask\","
                + "\"metadata\":{\"name\":\"pruned\"},"
                + "\"spec\":{\"handler\":\"compute.sum\",\"handlr\":\"x\"}}",
            Outcome.CREATED,
            "/spec/handlr",
            null);

    Answer answer = ValidationCases.create(http, NS, misspelled, false);

    assertThat(answer.code()).isEqualTo(201);
    assertThat(answer.body().at("/spec/handlr").isMissingNode()).isTrue();
    assertThat(answer.warnings()).containsExactly("299 - \"unknown field \\\"spec.handlr\\\"\"");
  }

  @Test
  void updatesAndPatchesAreCheckedAndLeaveTheStoredObjectAlone() {
    VeraTask task = task("patched");
    var tasks = server.client().resources(VeraTask.class).inNamespace(NS);
    tasks.resource(task).create();

    assertThatThrownBy(
            () ->
                tasks
                    .withName("patched")
                    .patch(
                        PatchContext.of(PatchType.JSON_MERGE),
                        "{\"spec\":{\"priority\":\"urgent\"}}"))
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("spec.priority: Unsupported value: \"urgent\"")
        .extracting(e -> ((KubernetesClientException) e).getCode())
        .isEqualTo(422);
    assertThatThrownBy(
            () ->
                tasks
                    .withName("patched")
                    .patch(
                        PatchContext.of(PatchType.JSON),
                        "[{\"op\":\"add\",\"path\":\"/spec/timeoutSeconds\",\"value\":-5}]"))
        .hasMessageContaining("spec.timeoutSeconds");
    VeraTask stored = tasks.withName("patched").get();
    stored.getSpec().timeoutSeconds = 0;
    assertThatThrownBy(() -> tasks.resource(stored).update())
        .hasMessageContaining("spec.timeoutSeconds");

    assertThat(tasks.withName("patched").get().getSpec().timeoutSeconds).isNull();
    assertThat(tasks.withName("patched").get().getSpec().priority).isEqualTo(TaskPriority.NORMAL);
  }

  @Test
  void statusWritesAreCheckedAgainstTheStatusSchema() {
    var tasks = server.client().resources(VeraTask.class).inNamespace(NS);
    tasks.resource(task("status-checked")).create();

    assertThatThrownBy(
            () ->
                tasks
                    .withName("status-checked")
                    .subresource("status")
                    .patch(
                        PatchContext.of(PatchType.JSON_MERGE),
                        "{\"status\":{\"phase\":\"Exploded\"}}"))
        .hasMessageContaining("status.phase: Unsupported value: \"Exploded\"");
    tasks
        .withName("status-checked")
        .subresource("status")
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"status\":{\"phase\":\"Queued\"}}");

    assertThat(tasks.withName("status-checked").get().getStatus().phase)
        .isEqualTo(TaskPhase.Queued);
  }

  @Test
  void serverSideApplyCreatesThenMergesAndIsValidated() {
    var tasks = server.client().resources(VeraTask.class).inNamespace(NS);
    VeraTask applied = task("applied");
    applied.getMetadata().setNamespace(NS);

    tasks.resource(applied).fieldManager("flux").forceConflicts().serverSideApply();
    applied.getSpec().timeoutSeconds = 30;
    tasks.resource(applied).fieldManager("flux").forceConflicts().serverSideApply();
    applied.getSpec().timeoutSeconds = 0;

    assertThatThrownBy(
            () -> tasks.resource(applied).fieldManager("flux").forceConflicts().serverSideApply())
        .hasMessageContaining("spec.timeoutSeconds");
    VeraTask stored = tasks.withName("applied").get();
    assertThat(stored.getSpec().timeoutSeconds).isEqualTo(30);
    assertThat(stored.getSpec().priority).isEqualTo(TaskPriority.NORMAL);
  }

  private static VeraTask task(String name) {
    VeraTask task = new VeraTask();
    task.getMetadata().setName(name);
    task.setSpec(new VeraTaskSpec());
    task.getSpec().handler = "compute.sum";
    return task;
  }
}
