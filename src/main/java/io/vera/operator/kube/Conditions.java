package io.vera.operator.kube;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Builds status conditions the way Kubernetes expects them to evolve. */
public final class Conditions {
  private Conditions() {}

  /**
   * A condition that keeps the previous {@code lastTransitionTime} when its status and reason did
   * not change, so a resync does not look like a transition.
   */
  public static Condition of(
      List<Condition> previous,
      String type,
      String status,
      String reason,
      String message,
      Long observedGeneration,
      Instant now) {
    String since = now.truncatedTo(ChronoUnit.SECONDS).toString();
    if (previous != null) {
      for (Condition c : previous) {
        if (type.equals(c.getType())
            && status.equals(c.getStatus())
            && reason.equals(c.getReason())) {
          since = c.getLastTransitionTime();
        }
      }
    }
    return new ConditionBuilder()
        .withType(type)
        .withStatus(status)
        .withReason(reason)
        .withMessage(message)
        .withObservedGeneration(observedGeneration)
        .withLastTransitionTime(since)
        .build();
  }

  /** {@code current} with {@code condition} in place of the one of its type, ordered by type. */
  public static List<Condition> with(List<Condition> current, Condition condition) {
    List<Condition> conditions = new ArrayList<>();
    if (current != null) {
      for (Condition c : current) {
        if (!condition.getType().equals(c.getType())) {
          conditions.add(c);
        }
      }
    }
    conditions.add(condition);
    conditions.sort(Comparator.comparing(Condition::getType));
    return conditions;
  }
}
