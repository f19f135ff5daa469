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
  public static final String READY = "Ready";

  /** kstatus: the controller is working towards Ready (abnormal-true, present only when True). */
  public static final String RECONCILING = "Reconciling";

  /** kstatus: the controller cannot reach Ready without someone changing something. */
  public static final String STALLED = "Stalled";

  private Conditions() {}

  /**
   * {@code conditions} with kstatus's Reconciling or Stalled beside a Ready that is not True, so
   * {@code kubectl wait}, Flux and Argo CD read progress and failure the same way for every kind.
   * Both are abnormal-true: present only while True, with the Ready condition's reason, message and
   * observedGeneration.
   *
   * @param progress {@link #RECONCILING}, {@link #STALLED}, or null for neither (e.g. suspended)
   * @param previous the conditions before, whose transition times are kept
   */
  public static List<Condition> withProgress(
      List<Condition> conditions, List<Condition> previous, String progress, Instant now) {
    List<Condition> result = new ArrayList<>();
    Condition ready = null;
    for (Condition c : conditions) {
      if (!RECONCILING.equals(c.getType()) && !STALLED.equals(c.getType())) {
        result.add(c);
      }
      if (READY.equals(c.getType())) {
        ready = c;
      }
    }
    if (ready != null && progress != null && !"True".equals(ready.getStatus())) {
      result.add(
          of(
              previous,
              progress,
              "True",
              ready.getReason(),
              ready.getMessage(),
              ready.getObservedGeneration(),
              now));
    }
    result.sort(Comparator.comparing(Condition::getType));
    return result;
  }

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
