package io.vera.operator.task;

import io.javaoperatorsdk.operator.api.reconciler.Constants;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.MaxReconciliationInterval;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.vera.operator.api.VeraTask;

/**
 * Hands every VeraTask to the {@link TaskDispatcher}, which queues, restores or cancels it, on
 * creation and on every spec change. Status is written by the {@link TaskStatusWriter}, not here,
 * so reconciling never races with the workers, and those writes do not wake this reconciler.
 *
 * <p>It watches only tasks not marked finished ({@link FinishedTaskLabels}); a task that finished
 * without the mark (before this operator version, or created finished) is tracked, found finished,
 * and marked by the status writer, after which it leaves the cache.
 *
 * <p>No periodic reconcile: the dispatcher keeps its own timers. JOSDK's default (one every 10
 * hours) keeps a timer task per task reconciled, which stays in its {@link java.util.Timer}'s queue
 * for those 10 hours even once the task is finished and gone from the cache: about 300 bytes per
 * task, 109 MB after 360,000 tasks in a 30-minute run.
 */
@ControllerConfiguration(
    name = VeraTaskReconciler.NAME,
    maxReconciliationInterval =
        @MaxReconciliationInterval(interval = Constants.NO_MAX_RECONCILIATION_INTERVAL))
public class VeraTaskReconciler implements Reconciler<VeraTask> {
  public static final String NAME = "veratask";

  private final TaskDispatcher dispatcher;

  public VeraTaskReconciler(TaskDispatcher dispatcher) {
    this.dispatcher = dispatcher;
  }

  @Override
  public UpdateControl<VeraTask> reconcile(VeraTask task, Context<VeraTask> context) {
    dispatcher.track(task);
    return UpdateControl.noUpdate();
  }
}
