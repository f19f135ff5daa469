package io.vera.operator.task;

import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.vera.operator.api.VeraTask;

/**
 * Hands every VeraTask to the {@link TaskDispatcher}, which queues, restores or cancels it, on
 * creation and on every spec change. Status is written by the {@link TaskStatusWriter}, not here,
 * so reconciling never races with the workers, and those writes do not wake this reconciler.
 */
@ControllerConfiguration(name = VeraTaskReconciler.NAME)
public class VeraTaskReconciler implements Reconciler<VeraTask> {
  public static final String NAME = "veratask";

  private final TaskDispatcher dispatcher;
  private final TaskTtlCleaner ttl;

  public VeraTaskReconciler(TaskDispatcher dispatcher, TaskTtlCleaner ttl) {
    this.dispatcher = dispatcher;
    this.ttl = ttl;
  }

  @Override
  public UpdateControl<VeraTask> reconcile(VeraTask task, Context<VeraTask> context) {
    boolean known = dispatcher.get(key(task)).isPresent();
    dispatcher.track(task);
    if (!known) {
      // First sight of a task that finished before this process started: its TTL still applies.
      dispatcher.get(key(task)).filter(t -> t.phase().isFinished()).ifPresent(ttl::schedule);
    }
    return UpdateControl.noUpdate();
  }

  private static TaskKey key(VeraTask task) {
    return new TaskKey(task.getMetadata().getNamespace(), task.getMetadata().getName());
  }
}
