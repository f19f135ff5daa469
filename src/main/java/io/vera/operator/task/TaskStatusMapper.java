package io.vera.operator.task;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTaskStatus;
import io.vera.operator.kube.Conditions;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/** Turns the dispatcher's view of a task into the status written on its resource. */
public final class TaskStatusMapper {
  /**
   * The one condition a task carries: True when it succeeded, False when it did not, else Unknown.
   */
  static final String SUCCEEDED_CONDITION = "Succeeded";

  private TaskStatusMapper() {}

  public static VeraTaskStatus toStatus(TaskSnapshot task) {
    Long observedGeneration = task.observedGeneration();
    VeraTaskStatus status = new VeraTaskStatus();
    status.phase = task.phase();
    status.pool = task.pool() == null ? null : task.pool().name();
    status.attempts = task.attempts();
    status.worker = task.worker();
    status.leaseId = task.leaseId();
    status.leaseExpireTime = time(task.leaseExpiry());
    status.queuedTime = time(task.queuedAt());
    status.startTime = time(task.startedAt());
    status.completionTime = time(task.completedAt());
    status.nextRetryTime = time(task.nextRetryAt());
    status.result = task.result();
    status.error =
        task.error() == null
            ? null
            : new VeraTaskStatus.TaskError(task.error().type(), task.error().message());
    if (task.usage() != null) {
      status.usage = new VeraTaskStatus.Usage();
      status.usage.tokensIn = task.usage().tokensIn();
      status.usage.tokensOut = task.usage().tokensOut();
      status.usage.costUsd = task.usage().costUsd();
      status.usage.latencyMs = task.usage().latencyMs();
    }
    if (task.progress() != null) {
      status.progress = new VeraTaskStatus.Progress();
      status.progress.percent = task.progress().percent();
      status.progress.message = task.progress().message();
      status.progress.updateTime = time(task.progress().updatedAt());
    }
    status.observedGeneration = observedGeneration;
    status.duration = duration(task.startedAt(), task.completedAt());
    status.conditions = conditions(condition(task, observedGeneration), task.phase());
    return status;
  }

  /**
   * The Succeeded condition with kstatus's beside it, all from the same reason, message and time:
   * Ready (True once Succeeded), and Reconciling while the task is not finished or Stalled once it
   * failed or was cancelled, so {@code kubectl wait --for=condition=Ready}, Flux and Argo CD read a
   * task as they read the other kinds. Ordered by type.
   */
  private static List<Condition> conditions(Condition succeeded, TaskPhase phase) {
    List<Condition> conditions = new ArrayList<>();
    conditions.add(
        new ConditionBuilder(succeeded)
            .withType(Conditions.READY)
            .withStatus(phase == TaskPhase.Succeeded ? "True" : "False")
            .build());
    if (phase != TaskPhase.Succeeded) {
      conditions.add(
          new ConditionBuilder(succeeded)
              .withType(phase.isFinished() ? Conditions.STALLED : Conditions.RECONCILING)
              .withStatus("True")
              .build());
    }
    conditions.add(succeeded);
    return List.copyOf(conditions);
  }

  /** Run time of a finished task as kubectl prints durations (45s, 3m12s, 2h5m), else null. */
  static String duration(Instant start, Instant end) {
    if (start == null || end == null) {
      return null;
    }
    long seconds = Math.max(0, Duration.between(start, end).toSeconds());
    if (seconds < 60) {
      return seconds + "s";
    }
    if (seconds < 3600) {
      return seconds / 60 + "m" + (seconds % 60 == 0 ? "" : seconds % 60 + "s");
    }
    return seconds / 3600 + "h" + (seconds % 3600 / 60 == 0 ? "" : seconds % 3600 / 60 + "m");
  }

  private static Condition condition(TaskSnapshot task, Long observedGeneration) {
    TaskPhase phase = task.phase();
    String status =
        switch (phase) {
          case Succeeded -> "True";
          case Failed, Cancelled -> "False";
          default -> "Unknown";
        };
    String reason =
        switch (phase) {
          case Succeeded -> "Succeeded";
          case Cancelled -> "Cancelled";
          case Failed -> task.error() == null ? "Failed" : task.error().type();
          case Running -> "Running";
          case Queued -> task.nextRetryAt() != null ? "RetryBackoff" : "Queued";
          case Pending -> "NoPool";
        };
    String message =
        switch (phase) {
          case Succeeded -> "succeeded after " + task.attempts() + " attempt(s)";
          case Failed, Cancelled -> task.error() == null ? phase.name() : task.error().message();
          case Running -> "attempt " + task.attempts() + " running on " + task.worker();
          case Queued ->
              task.nextRetryAt() != null
                  ? "retrying after: " + (task.error() == null ? "failure" : task.error().message())
                  : "waiting in pool " + (task.pool() == null ? "?" : task.pool().name());
          case Pending ->
              task.pendingReason() == null ? "waiting for a pool" : task.pendingReason();
        };
    Instant changed =
        phase.isFinished()
            ? task.completedAt()
            : phase == TaskPhase.Running ? task.startedAt() : task.queuedAt();
    return new ConditionBuilder()
        .withType(SUCCEEDED_CONDITION)
        .withStatus(status)
        .withReason(reason)
        .withMessage(message)
        .withObservedGeneration(observedGeneration)
        .withLastTransitionTime(
            (changed == null ? task.createdAt() : changed)
                .truncatedTo(ChronoUnit.SECONDS)
                .toString())
        .build();
  }

  private static String time(Instant instant) {
    return instant == null ? null : instant.toString();
  }
}
