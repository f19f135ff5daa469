package io.vera.operator.facade.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.vera.operator.app.OperatorHarness;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Embedded mode (as {@code run --embedded} starts it) binds 127.0.0.1 and asks for no token. */
class EmbeddedModeAuthTest {
  private static OperatorHarness harness;

  @BeforeAll
  static void start() {
    harness = new OperatorHarness();
  }

  @AfterAll
  static void stop() {
    harness.close();
  }

  @Test
  void everyRouteWorksWithoutATokenAndTheOnlyReplicaIsReady() {
    assertThat(harness.baseUrl()).startsWith("http://127.0.0.1:");
    assertThat(harness.get("/readyz").status()).isEqualTo(200);
    assertThat(harness.get("/orchestrator/status").status()).isEqualTo(200);
    OperatorHarness.Response submitted =
        harness.post("/orchestrator/tasks/submit", "{\"name\": \"echo\", \"payload\": {}}");
    assertThat(submitted.status()).as(submitted.text()).isEqualTo(200);
    assertThat(harness.operator().isLeader()).isTrue();
  }
}
