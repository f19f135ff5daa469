package io.vera.operator.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class LeaseGrantTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Instant GRANTED = Instant.parse("2030-01-01T00:00:00Z");

  private static ObjectNode grant(int timeoutSeconds, int leaseSeconds) {
    ObjectNode grant = JSON.createObjectNode();
    grant.put("lease_id", "l-1");
    grant.put("task_id", "t-1");
    grant.put("namespace", "default");
    grant.put("handler", "compute.sum");
    grant.putObject("payload").put("a", 1);
    grant.putObject("context");
    grant.put("attempt", 2);
    grant.put("timeout_seconds", timeoutSeconds);
    grant.put("deadline", GRANTED.plusSeconds(timeoutSeconds).toString());
    grant.put("lease_expires_at", GRANTED.plusSeconds(leaseSeconds).toString());
    return grant;
  }

  @Test
  void readsTheGrant() {
    LeaseGrant grant = LeaseGrant.parse(grant(60, 30));
    assertThat(grant.leaseId()).isEqualTo("l-1");
    assertThat(grant.taskId()).isEqualTo("t-1");
    assertThat(grant.handler()).isEqualTo("compute.sum");
    assertThat(grant.payload().get("a").asInt()).isEqualTo(1);
    assertThat(grant.attempt()).isEqualTo(2);
    assertThat(grant.timeout()).isEqualTo(Duration.ofSeconds(60));
  }

  @Test
  void renewsEveryThirdOfTheLeaseMeasuredOnTheOperatorsClock() {
    // The worker's clock plays no part: only the grant's own instants are compared.
    assertThat(LeaseGrant.parse(grant(600, 30)).leaseDuration()).isEqualTo(Duration.ofSeconds(30));
    assertThat(LeaseGrant.parse(grant(600, 30)).renewInterval()).isEqualTo(Duration.ofSeconds(10));
    assertThat(LeaseGrant.parse(grant(1, 5)).renewInterval())
        .isEqualTo(Duration.ofSeconds(5).dividedBy(3));
  }

  @Test
  void neverRenewsInATightLoop() {
    assertThat(LeaseGrant.parse(grant(60, 0)).renewInterval())
        .isEqualTo(LeaseGrant.MIN_RENEW_INTERVAL);
  }

  @Test
  void rejectsAGrantWithoutItsTimes() {
    ObjectNode broken = grant(60, 30);
    broken.remove("lease_expires_at");
    assertThatThrownBy(() -> LeaseGrant.parse(broken))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("lease_expires_at");
    ObjectNode malformed = grant(60, 30);
    malformed.put("deadline", "soon");
    assertThatThrownBy(() -> LeaseGrant.parse(malformed))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("malformed time");
  }
}
