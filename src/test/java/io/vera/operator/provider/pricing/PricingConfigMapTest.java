package io.vera.operator.provider.pricing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.app.OperatorHarness;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The ConfigMap pricing layer in the running operator: calls through the legacy execute API to a
 * fake OpenAI upstream (1000 prompt and 500 completion tokens of gpt-4o-2024-08-06 each) are priced
 * from the ConfigMap, re-priced after it changes, back at built-in prices once it is gone, and a
 * Provider's own spec.pricing still wins over it.
 */
class PricingConfigMapTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final String NAMESPACE = OperatorHarness.NAMESPACE;

  private static MockWebServer upstream;
  private static OperatorHarness harness;

  @BeforeAll
  static void start() throws Exception {
    upstream = new MockWebServer();
    upstream.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            if (request.getUrl().encodedPath().endsWith("/models")) {
              return json("{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\"}]}");
            }
            return json(
                "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-2024-08-06\","
                    + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"ok\"},\"finish_reason\":\"stop\"}],"
                    + "\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":500,\"total_tokens\":1500}}");
          }
        });
    upstream.start();
    harness = new OperatorHarness();
    assertThat(
            harness
                .post(
                    "/orchestrator/external/initialize",
                    "{\"openai\": {\"api_key\": \"sk-test-pricing\", \"base_url\": \""
                        + upstream.url("/v1")
                        + "\"}}")
                .status())
        .isEqualTo(200);
    harness.awaitProviderReady("openai", WAIT);
  }

  @AfterAll
  static void stop() throws Exception {
    if (harness != null) {
      harness.close();
    }
    if (upstream != null) {
      upstream.close();
    }
  }

  @Test
  void configMapPricesCallsLiveAndRefusesOnlyItsBadEntries() {
    // Built-in gpt-4o: 1000 x $2.50/M + 500 x $10/M.
    assertThat(cost()).isEqualTo(0.0075);

    harness.client().resource(pricing("- {model: gpt-4o, input: 1.00, output: 2.00}\n")).create();
    await().atMost(WAIT).until(() -> cost() == 0.002);

    harness
        .client()
        .resource(
            pricing(
                """
                - {model: gpt-4o, input: 3.00, output: 4.00}
                - {model: gpt-4o-mini, input: 1.0, outptu: 2.0}
                - {model: gpt-4.1, input: -8}
                """))
        .update();
    await().atMost(WAIT).until(() -> cost() == 0.005);
    Event refused =
        await()
            .atMost(WAIT)
            .until(
                () ->
                    harness.events().stream()
                        .filter(e -> "ConfigMap".equals(e.getInvolvedObject().getKind()))
                        .filter(e -> "PricingInvalid".equals(e.getReason()))
                        .findFirst()
                        .orElse(null),
                e -> e != null);
    assertThat(refused.getType()).isEqualTo("Warning");
    assertThat(refused.getInvolvedObject().getName()).isEqualTo(PricingConfigMap.DEFAULT_NAME);
    assertThat(refused.getMessage())
        .startsWith("2 of 3 model prices refused, the other 1 applied: ")
        .contains("entry 2 (gpt-4o-mini): unknown key 'outptu'")
        .contains("entry 3 (gpt-4.1): ");
    assertThat(harness.get("/healthz").status()).as("the operator still serves").isEqualTo(200);

    Provider provider =
        harness.client().resources(Provider.class).inNamespace(NAMESPACE).withName("openai").get();
    ProviderSpec.ModelPrice own = new ProviderSpec.ModelPrice();
    own.model = "gpt-4o";
    own.inputPerMillion = 10.0;
    own.outputPerMillion = 20.0;
    provider.getSpec().pricing = List.of(own);
    harness.client().resource(provider).update();
    await().atMost(WAIT).until(() -> cost() == 0.02);

    provider =
        harness.client().resources(Provider.class).inNamespace(NAMESPACE).withName("openai").get();
    provider.getSpec().pricing = null;
    harness.client().resource(provider).update();
    await().atMost(WAIT).until(() -> cost() == 0.005);

    harness.client().resource(pricing("")).delete();
    await().atMost(WAIT).until(() -> cost() == 0.0075);
  }

  @Test
  void aConfigMapReferenceIsANameOrNamespaceAndName() {
    assertThat(PricingConfigMap.Ref.parse(null, "ops"))
        .isEqualTo(new PricingConfigMap.Ref("ops", "vera-pricing"));
    assertThat(PricingConfigMap.Ref.parse("prices", "ops"))
        .isEqualTo(new PricingConfigMap.Ref("ops", "prices"));
    assertThat(PricingConfigMap.Ref.parse("team/prices", "ops"))
        .isEqualTo(new PricingConfigMap.Ref("team", "prices"));
    assertThatThrownBy(() -> PricingConfigMap.Ref.parse("a/b/c", "ops"))
        .hasMessageContaining("<namespace>/<name>");
    assertThatThrownBy(() -> PricingConfigMap.Ref.parse("/prices", "ops"))
        .hasMessageContaining("<namespace>/<name>");
  }

  @Test
  void theExampleConfigMapHasOnlyValidEntries() throws Exception {
    ConfigMap example;
    try (var in = Files.newInputStream(Path.of("examples/pricing-configmap.yaml"))) {
      example = new KubernetesSerialization().unmarshal(in, ConfigMap.class);
    }
    assertThat(example.getMetadata().getName()).isEqualTo(PricingConfigMap.DEFAULT_NAME);
    PricingTable.Parsed parsed =
        PricingTable.parseEach(example.getData().get(PricingConfigMap.KEY));
    assertThat(parsed.errors()).isEmpty();
    assertThat(parsed.prices()).hasSize(3);
    PricingTable table = PricingTable.builtIn().withOverrides(parsed.prices());
    assertThat(table.find("meta-llama/llama-3.1-70b-instruct").orElseThrow().output())
        .isEqualTo(0.70);
    assertThat(table.find("gpt-4o-2024-08-06").orElseThrow().input()).isEqualTo(2.00);
  }

  /** The cost_usd of one execute call, which the test expects to succeed. */
  private static double cost() {
    OperatorHarness.Response response =
        harness.post(
            "/orchestrator/external/execute",
            "{\"provider\": \"openai\", \"prompt\": \"q\", \"model\": \"gpt-4o\"}");
    assertThat(response.status()).as(response.text()).isEqualTo(200);
    return response.json().get("cost_usd").asDouble();
  }

  private static ConfigMap pricing(String modelsYaml) {
    return new ConfigMapBuilder()
        .withNewMetadata()
        .withName(PricingConfigMap.DEFAULT_NAME)
        .withNamespace(NAMESPACE)
        .endMetadata()
        .addToData(PricingConfigMap.KEY, modelsYaml)
        .build();
  }

  private static MockResponse json(String body) {
    return new MockResponse.Builder()
        .addHeader("Content-Type", "application/json")
        .body(body)
        .build();
  }
}
