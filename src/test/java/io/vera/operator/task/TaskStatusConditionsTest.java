package io.vera.operator.task;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTaskStatus;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A task's status carries kstatus's conditions (Ready, Reconciling, Stalled) beside Succeeded, so
 * {@code kubectl wait --for=condition=Ready}, Flux and Argo CD read it, and its run time.
 */
class TaskStatusConditionsTest {
  private static final Instant CREATED = Instant.parse("2026-01-01T10:00:00Z");

  private static TaskSnapshot task(TaskPhase phase, TaskError error, Instant completed) {
    Instant started = CREATED.plusSeconds(5);
    return new TaskSnapshot(
        new TaskKey("team-a", "t1"),
        "uid-1",
        "compute.sum",
        TaskPriority.NORMAL,
        TaskType.GENERAL,
        new PoolKey("team-a", "general"),
        null,
        null,
        null,
        phase,
        null,
        1,
        0,
        60,
        phase == TaskPhase.Queued ? null : "worker-0",
        null,
        null,
        CREATED,
        CREATED,
        phase == TaskPhase.Queued ? null : started,
        completed,
        null,
        null,
        error,
        null,
        null,
        7L,
        null);
  }

  private static Condition type(List<Condition> conditions, String type) {
    return conditions.stream().filter(c -> c.getType().equals(type)).findFirst().orElse(null);
  }

  @Test
  void aSucceededTaskIsReadyWithNeitherReconcilingNorStalled() {
    VeraTaskStatus status =
        TaskStatusMapper.toStatus(task(TaskPhase.Succeeded, null, CREATED.plusSeconds(5 + 192)));
    assertThat(status.conditions)
        .extracting(Condition::getType)
        .containsExactly("Ready", "Succeeded");
    Condition ready = type(status.conditions, "Ready");
    assertThat(ready.getStatus()).isEqualTo("True");
    assertThat(ready.getReason()).isEqualTo("Succeeded");
    assertThat(ready.getObservedGeneration()).isEqualTo(7L);
    assertThat(status.duration).isEqualTo("3m12s");
  }

  @Test
  void aQueuedOrRunningTaskIsReconcilingAndNotReady() {
    for (TaskPhase phase : List.of(TaskPhase.Queued, TaskPhase.Running)) {
      VeraTaskStatus status = TaskStatusMapper.toStatus(task(phase, null, null));
      assertThat(status.conditions)
          .extracting(Condition::getType)
          .containsExactly("Ready", "Reconciling", "Succeeded");
      assertThat(type(status.conditions, "Ready").getStatus()).isEqualTo("False");
      assertThat(type(status.conditions, "Reconciling").getStatus()).isEqualTo("True");
      assertThat(type(status.conditions, "Reconciling").getReason()).isEqualTo(phase.name());
      assertThat(type(status.conditions, "Succeeded").getStatus()).isEqualTo("Unknown");
      assertThat(status.duration).as("not finished").isNull();
    }
  }

  @Test
  void aFailedTaskIsStalledWithTheErrorAsReasonAndItsTerminalPhaseAsSucceededFalse() {
    VeraTaskStatus status =
        TaskStatusMapper.toStatus(
            task(
                TaskPhase.Failed,
                new TaskError(TaskError.TIMEOUT, "ran over 60 s"),
                CREATED.plusSeconds(5 + 2 * 3600 + 300)));
    assertThat(status.conditions)
        .extracting(Condition::getType)
        .containsExactly("Ready", "Stalled", "Succeeded");
    Condition stalled = type(status.conditions, "Stalled");
    assertThat(stalled.getStatus()).isEqualTo("True");
    assertThat(stalled.getReason()).isEqualTo("Timeout");
    assertThat(stalled.getMessage()).isEqualTo("ran over 60 s");
    assertThat(type(status.conditions, "Ready").getStatus()).isEqualTo("False");
    assertThat(type(status.conditions, "Succeeded").getStatus()).isEqualTo("False");
    assertThat(status.duration).isEqualTo("2h5m");
  }

  @Test
  void durationsReadAsKubectlPrintsThem() {
    assertThat(TaskStatusMapper.duration(CREATED, CREATED.plusMillis(45_900))).isEqualTo("45s");
    assertThat(TaskStatusMapper.duration(CREATED, CREATED.plusSeconds(120))).isEqualTo("2m");
    assertThat(TaskStatusMapper.duration(CREATED, CREATED.plusSeconds(3600))).isEqualTo("1h");
    assertThat(TaskStatusMapper.duration(null, CREATED)).isNull();
  }
}
