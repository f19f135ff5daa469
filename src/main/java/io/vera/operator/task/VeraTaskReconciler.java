package io.vera.operator.task;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.vera.operator.api.VeraTask;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Hands every VeraTask to the {@link TaskDispatcher} (which queues, restores or cancels it) and
 * deletes finished tasks once their ttlSecondsAfterFinished has passed. Status is written by the
 * {@link TaskStatusWriter}, not here, so reconciling never races with the workers.
 */
@ControllerConfiguration(name = VeraTaskReconciler.NAME)
public class VeraTaskReconciler implements Reconciler<VeraTask> {
  public static final String NAME = "veratask";

  private final TaskDispatcher dispatcher;
  private final KubernetesClient client;
  private final Clock clock;

  public VeraTaskReconciler(TaskDispatcher dispatcher, KubernetesClient client, Clock clock) {
    this.dispatcher = dispatcher;
    this.client = client;
    this.clock = clock;
  }

  @Override
  public UpdateControl<VeraTask> reconcile(VeraTask task, Context<VeraTask> context) {
    dispatcher.track(task);
    TaskKey key = new TaskKey(task.getMetadata().getNamespace(), task.getMetadata().getName());
    Optional<TaskSnapshot> snapshot = dispatcher.get(key);
    if (snapshot.isEmpty() || !snapshot.get().phase().isFinished()) {
      return UpdateControl.noUpdate();
    }
    Integer ttl = snapshot.get().ttlSecondsAfterFinished();
    Instant completed = snapshot.get().completedAt();
    if (ttl == null || completed == null) {
      return UpdateControl.noUpdate();
    }
    Duration remaining = Duration.between(clock.instant(), completed.plusSeconds(ttl));
    if (!remaining.isNegative() && !remaining.isZero()) {
      return UpdateControl.<VeraTask>noUpdate().rescheduleAfter(remaining.plusMillis(50));
    }
    client.resource(task).delete();
    return UpdateControl.noUpdate();
  }
}
