package io.vera.operator.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** kstatus's Reconciling and Stalled follow Ready and keep their transition times. */
class ConditionsTest {
  private static final Instant T0 = Instant.parse("2026-01-01T10:00:00Z");

  private static Condition ready(String status, String reason) {
    return Conditions.of(List.of(), "Ready", status, reason, reason + " message", 3L, T0);
  }

  @Test
  void aReadyResourceCarriesNeitherReconcilingNorStalled() {
    List<Condition> before =
        Conditions.withProgress(
            List.of(ready("False", "Provisioning")), List.of(), Conditions.RECONCILING, T0);
    List<Condition> after =
        Conditions.withProgress(
            List.of(ready("True", "Running")), before, Conditions.RECONCILING, T0.plusSeconds(9));
    assertThat(after).extracting(Condition::getType).containsExactly("Ready");
  }

  @Test
  void aResourceNotReadyIsReconcilingOrStalledWithReadysReasonAndGeneration() {
    List<Condition> reconciling =
        Conditions.withProgress(
            List.of(ready("False", "Provisioning")), List.of(), Conditions.RECONCILING, T0);
    assertThat(reconciling).extracting(Condition::getType).containsExactly("Ready", "Reconciling");
    Condition progress = reconciling.get(1);
    assertThat(progress.getStatus()).isEqualTo("True");
    assertThat(progress.getReason()).isEqualTo("Provisioning");
    assertThat(progress.getMessage()).isEqualTo("Provisioning message");
    assertThat(progress.getObservedGeneration()).isEqualTo(3L);

    List<Condition> stalled =
        Conditions.withProgress(
            List.of(ready("False", "MachineFailed")),
            reconciling,
            Conditions.STALLED,
            T0.plusSeconds(5));
    assertThat(stalled).extracting(Condition::getType).containsExactly("Ready", "Stalled");

    assertThat(
            Conditions.withProgress(
                List.of(ready("False", "Suspended")), stalled, null, T0.plusSeconds(6)))
        .as("suspended: neither")
        .extracting(Condition::getType)
        .containsExactly("Ready");
  }

  @Test
  void anUnchangedProgressKeepsItsTransitionTime() {
    List<Condition> first =
        Conditions.withProgress(
            List.of(ready("False", "Provisioning")), List.of(), Conditions.RECONCILING, T0);
    List<Condition> later =
        Conditions.withProgress(
            List.of(ready("False", "Provisioning")),
            first,
            Conditions.RECONCILING,
            T0.plusSeconds(30));
    assertThat(later.get(1).getLastTransitionTime()).isEqualTo(T0.toString());
  }
}
