package io.vera.operator.provider.endpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.vera.operator.api.ProviderSpec;
import io.vera.operator.provider.Credentials;
import io.vera.operator.provider.DefaultProviderClientFactory;
import io.vera.operator.provider.ProviderClient;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderResult;
import io.vera.operator.provider.pricing.PricingTable;
import java.util.Map;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A RunPod Provider's {@code spec.runpod} reaches its client: the Ready probe reads the named
 * endpoint's health, and calls are priced per second by endpoint id, else by the Provider's default
 * rate, which both win over a request's own {@code usd_per_second}.
 */
class RunPodSpecTest {
  private static final Credentials KEY = new Credentials(Map.of("apiKey", "rp_KEY"));

  private final DefaultProviderClientFactory factory =
      new DefaultProviderClientFactory(PricingTable.builtIn());
  private MockWebServer server;

  @BeforeEach
  void start() throws Exception {
    server = TestCalls.loopbackServer();
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private ProviderSpec spec(ProviderSpec.RunPod runpod) {
    ProviderSpec spec = new ProviderSpec();
    spec.type = ProviderSpec.Type.RunPod;
    spec.endpoint = TestCalls.base(server);
    spec.runpod = runpod;
    return spec;
  }

  private ProviderClient client(ProviderSpec.RunPod runpod) throws ProviderException {
    return factory.create(spec(runpod), KEY).orElseThrow();
  }

  private double costOf(ProviderClient client, String endpoint, double executionMs)
      throws Exception {
    server.enqueue(
        new MockResponse.Builder()
            .body(
                "{\"id\": \"j\", \"status\": \"COMPLETED\", \"executionTime\": "
                    + executionMs
                    + ", \"output\": 1}")
            .build());
    ProviderResult result =
        client.call(TestCalls.request(endpoint, "{\"sync\": true, \"usd_per_second\": 99}"));
    assertThat(server.takeRequest().getTarget()).isEqualTo("/v2/" + endpoint + "/runsync");
    return result.costUsd();
  }

  @Test
  void probeAndRatesComeFromTheSpec() throws Exception {
    ProviderSpec.RunPod runpod = new ProviderSpec.RunPod();
    runpod.probeEndpointId = "probe-ep";
    runpod.costPerSecondUsd = 0.0002;
    runpod.endpointCostPerSecondUsd = Map.of("gpu-a100", 0.0013);
    try (ProviderClient client = client(runpod)) {
      server.enqueue(new MockResponse.Builder().body("{\"workers\": {\"idle\": 1}}").build());
      client.probe();
      assertThat(server.takeRequest().getRequestLine())
          .isEqualTo("GET /v2/probe-ep/health HTTP/1.1");

      assertThat(costOf(client, "gpu-a100", 2000)).isCloseTo(0.0026, within(1e-12));
      assertThat(costOf(client, "cpu-small", 1500)).isCloseTo(0.0003, within(1e-12));
    }
  }

  @Test
  void withoutTheBlockTheRequestsRateAndNoProbeEndpointApply() throws Exception {
    try (ProviderClient client = client(null)) {
      client.probe();
      assertThat(server.getRequestCount()).as("no endpoint to probe").isZero();
      assertThat(costOf(client, "cpu-small", 1000)).isCloseTo(99, within(1e-12));
    }
  }

  @Test
  void badSettingsAreRefusedAs422() {
    ProviderSpec.RunPod negative = new ProviderSpec.RunPod();
    negative.costPerSecondUsd = -1.0;
    assertThatThrownBy(() -> client(negative))
        .isInstanceOfSatisfying(ProviderException.class, e -> assertThat(e.status()).isEqualTo(422))
        .hasMessageContaining("negative");
    ProviderSpec.RunPod badId = new ProviderSpec.RunPod();
    badId.probeEndpointId = "../admin";
    assertThatThrownBy(() -> client(badId))
        .isInstanceOf(ProviderException.class)
        .hasMessageContaining("not a RunPod endpoint id");
  }
}
