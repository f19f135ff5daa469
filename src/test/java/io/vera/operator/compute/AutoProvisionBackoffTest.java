package io.vera.operator.compute;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.ComputeResourceStatus;
import io.vera.operator.provider.ProviderKey;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** When auto-provisioning waits after containers that failed to start, and what ends the wait. */
class AutoProvisionBackoffTest {
  private static final ProviderKey DOCKER = new ProviderKey("default", "docker");
  private static final Instant T0 = Instant.parse("2026-12-06T10:00:00Z");

  private static ComputeResource resource(
      String uid, ComputeResourceStatus.Phase phase, Instant created) {
    ComputeResource r = new ComputeResource();
    r.setMetadata(
        new ObjectMetaBuilder()
            .withName("auto-" + uid)
            .withUid(uid)
            .withCreationTimestamp(created.toString())
            .build());
    r.setSpec(new ComputeResourceSpec());
    r.getSpec().providerRef = "docker";
    r.setStatus(new ComputeResourceStatus());
    r.getStatus().phase = phase;
    r.getStatus().conditions =
        List.of(
            new ConditionBuilder()
                .withType("Ready")
                .withStatus("False")
                .withReason("InvalidSpec")
                .withMessage("refused")
                .build());
    return r;
  }

  @Test
  void theWaitDoublesFromThirtySecondsToTenMinutes() {
    assertThat(AutoProvisionBackoff.delay(1)).isEqualTo(Duration.ofSeconds(30));
    assertThat(AutoProvisionBackoff.delay(2)).isEqualTo(Duration.ofSeconds(60));
    assertThat(AutoProvisionBackoff.delay(5)).isEqualTo(Duration.ofMinutes(8));
    assertThat(AutoProvisionBackoff.delay(6)).isEqualTo(Duration.ofMinutes(10));
    assertThat(AutoProvisionBackoff.delay(100)).isEqualTo(Duration.ofMinutes(10));
  }

  @Test
  void aFailedContainerHoldsTheProviderBackOnceUntilItsWaitIsOver() {
    AutoProvisionBackoff backoff = new AutoProvisionBackoff();
    backoff.made(DOCKER, "{\"image\":\"a\"}");
    ComputeResource failed = resource("1", ComputeResourceStatus.Phase.Failed, T0);

    List<AutoProvisionBackoff.Change> changes = backoff.observe("default", List.of(failed), T0);
    assertThat(changes)
        .singleElement()
        .satisfies(
            c -> {
              assertThat(c.kind()).isEqualTo(AutoProvisionBackoff.Kind.FAILED);
              assertThat(c.message())
                  .contains("auto-1", "InvalidSpec: refused", "next attempt in 30 s");
            });
    assertThat(backoff.observe("default", List.of(failed), T0.plusSeconds(2)))
        .as("the same failure counts once")
        .isEmpty();
    assertThat(backoff.blocked(DOCKER, T0.plusSeconds(29))).isPresent();
    assertThat(backoff.blocked(DOCKER, T0.plusSeconds(30))).isEmpty();

    ComputeResource second = resource("2", ComputeResourceStatus.Phase.Failed, T0.plusSeconds(31));
    backoff.observe("default", List.of(failed, second), T0.plusSeconds(31));
    assertThat(backoff.blocked(DOCKER, T0.plusSeconds(90))).isPresent();
    assertThat(backoff.blocked(DOCKER, T0.plusSeconds(91))).isEmpty();
  }

  @Test
  void aContainerThatStartsAfterwardsOrAFixedTemplateEndsTheWait() {
    AutoProvisionBackoff backoff = new AutoProvisionBackoff();
    backoff.made(DOCKER, "{\"image\":\"a\"}");
    backoff.observe("default", List.of(resource("1", ComputeResourceStatus.Phase.Failed, T0)), T0);
    ComputeResource older =
        resource("0", ComputeResourceStatus.Phase.Available, T0.minusSeconds(60));
    assertThat(backoff.observe("default", List.of(older), T0.plusSeconds(1)))
        .as("a container that ran before the failure says nothing of the template")
        .isEmpty();
    ComputeResource started =
        resource("3", ComputeResourceStatus.Phase.Available, T0.plusSeconds(40));
    assertThat(backoff.observe("default", List.of(started), T0.plusSeconds(41)))
        .singleElement()
        .satisfies(c -> assertThat(c.kind()).isEqualTo(AutoProvisionBackoff.Kind.RECOVERED));
    assertThat(backoff.failing()).isEmpty();

    backoff.observe("default", List.of(resource("4", ComputeResourceStatus.Phase.Failed, T0)), T0);
    assertThat(backoff.templateChanged(DOCKER, "{\"image\":\"a\"}")).isFalse();
    assertThat(backoff.blocked(DOCKER, T0.plusSeconds(1))).isPresent();
    assertThat(backoff.templateChanged(DOCKER, "{\"image\":\"b\"}")).isTrue();
    assertThat(backoff.blocked(DOCKER, T0.plusSeconds(1))).isEmpty();
  }
}
