package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;

import io.vera.operator.app.ClusterSettings;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.app.OperatorHarness.Response;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@code POST /orchestrator/external/initialize} when a provider cannot be made usable: a spec the
 * operator cannot build a client from is refused with 422, and a provider the reconciler does not
 * get to serve within the 20 s bound answers 504; both with {@code {"detail"}} naming the provider
 * and why (docs/fault-handling.md).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ExternalInitializeFaultsTest {
  /**
   * Holds the API server's answer to the reconciler's read of the anthropic Secret until the test
   * lets it go: an API server too slow for the provider to become usable in time.
   */
  private final CountDownLatch secretReleased = new CountDownLatch(1);

  private OperatorHarness harness;

  @BeforeAll
  void start() {
    harness =
        new OperatorHarness(
            request -> {
              if ("GET".equals(request.getMethod())
                  && request.getPath().contains("/secrets/vera-anthropic-credentials-")) {
                try {
                  secretReleased.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
              return Optional.empty();
            },
            ClusterSettings.embedded());
  }

  @AfterAll
  void stop() {
    secretReleased.countDown();
    harness.close();
  }

  @Test
  void aProviderWhoseSpecCannotBeUsedIsRefusedWith422NamingItAndWhy() {
    Response answer =
        harness.post(
            "/orchestrator/external/initialize",
            "{\"http_endpoint\": {\"url\": \"http://127.0.0.1:9/run\","
                + " \"headers\": {\"Content-Length\": \"5\"}}}");

    assertThat(answer.status()).as(answer.text()).isEqualTo(422);
    assertThat(answer.json().path("detail").asText())
        .contains("provider http_endpoint cannot be used")
        .contains("Content-Length")
        .contains("set by the client");
  }

  @Test
  void aProviderNotServingWithinTheBoundAnswers504NamingIt() {
    Response answer =
        harness.post(
            "/orchestrator/external/initialize",
            "{\"anthropic\": {\"api_key\": \"sk-ant-test\", \"base_url\": \"http://127.0.0.1:9\"}}");

    assertThat(answer.status()).as(answer.text()).isEqualTo(504);
    assertThat(answer.json().path("detail").asText())
        .contains("provider anthropic")
        .contains("not ready to serve calls within 20 s");
    assertThat(answer.text()).doesNotContain("sk-ant-test");
  }
}
