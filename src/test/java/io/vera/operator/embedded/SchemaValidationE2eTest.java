package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.VersionInfo;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.vera.operator.embedded.ValidationCases.Answer;
import io.vera.operator.embedded.ValidationCases.Case;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The table of {@link ValidationCases} against a real kube-apiserver (whatever KUBECONFIG points
 * at, e.g. {@code shared/k8s/local-k8s.sh}): the same accepted or refused outcome as {@code
 * SchemaValidationTest} gets from the embedded server. Works in a namespace of its own, deleted
 * afterwards; installs Vera's CRDs if missing and leaves them, since others may share the cluster.
 */
@Tag("e2e")
class SchemaValidationE2eTest {

  private static final String NS =
      "vera-validation-" + UUID.randomUUID().toString().substring(0, 8);

  private static KubernetesClient client;
  private static boolean strictFieldValidation;

  @BeforeAll
  static void connect() throws Exception {
    client = new KubernetesClientBuilder().withConfig(Config.autoConfigure(null)).build();
    VersionInfo version;
    try {
      version = client.getKubernetesVersion();
    } catch (RuntimeException e) {
      version = null;
    }
    boolean ci = "true".equals(System.getenv("CI"));
    if (version == null && ci) {
      throw new IllegalStateException("no Kubernetes API server answers; CI=true requires one");
    }
    Assumptions.assumeTrue(version != null, "no Kubernetes API server answers; skipping");
    // Server-side field validation (fieldValidation=Strict) exists from Kubernetes 1.25.
    strictFieldValidation = Integer.parseInt(version.getMinor().replaceAll("\\D.*", "")) >= 25;
    for (String plural :
        new String[] {"veratasks", "workerpools", "computeresources", "providers"}) {
      try (var in = Files.newInputStream(Path.of("crds", plural + ".vera.io.yaml"))) {
        CustomResourceDefinition crd =
            client.apiextensions().v1().customResourceDefinitions().load(in).item();
        if (client.resource(crd).get() == null) {
          client.resource(crd).create();
        }
      }
    }
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .createOr(NonDeletingOperation::update);
  }

  @AfterAll
  static void cleanUp() {
    if (client != null) {
      client.namespaces().withName(NS).delete();
      client.close();
    }
  }

  static Stream<Case> cases() {
    return ValidationCases.CASES.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void theApiServerAnswersAsTheTableSays(Case c) throws Exception {
    Answer answer = createOnceEstablished(c);

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
        assertThat(answer.code()).as(answer.body().toString()).isEqualTo(422);
        assertThat(answer.body().path("message").asText()).contains(c.fragment());
      }
      case UNKNOWN_FIELD -> {
        if (strictFieldValidation) {
          assertThat(answer.code()).isEqualTo(400);
          assertThat(answer.body().path("message").asText()).contains(c.fragment());
        } else {
          // Older servers ignore fieldValidation and prune, as the embedded server does without it.
          assertThat(answer.code()).isEqualTo(201);
          assertThat(answer.body().at("/spec/handlr").isMissingNode()).isTrue();
        }
      }
    }
  }

  /** A fresh CRD is served a moment after it is created: 404 until then. */
  private static Answer createOnceEstablished(Case c) throws Exception {
    Answer answer = ValidationCases.create(client, NS, c, true);
    for (int i = 0; i < 50 && answer.code() == 404; i++) {
      Thread.sleep(200);
      answer = ValidationCases.create(client, NS, c, true);
    }
    return answer;
  }
}
