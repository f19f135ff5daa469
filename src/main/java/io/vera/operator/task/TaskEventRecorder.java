package io.vera.operator.task;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.VeraTask;
import io.vera.operator.kube.EventRecorder;

/** Turns task failures, retries and cancellations into Kubernetes Events on the VeraTask. */
public final class TaskEventRecorder implements TaskListener {
  private final EventRecorder events;

  public TaskEventRecorder(EventRecorder events) {
    this.events = events;
  }

  @Override
  public void onTaskEvent(TaskEvent event) {
    TaskSnapshot task = event.task();
    switch (event.type()) {
      case FAILED ->
          events.warning(
              reference(task),
              task.error() == null ? "Failed" : task.error().type(),
              "task failed after " + task.attempts() + " attempt(s): " + message(task));
      case RETRYING ->
          events.warning(
              reference(task),
              "Retrying",
              "attempt "
                  + task.attempts()
                  + " failed ("
                  + message(task)
                  + "); retrying at "
                  + task.nextRetryAt());
      case CANCELLED -> events.normal(reference(task), "Cancelled", message(task));
      default -> {}
    }
  }

  private static String message(TaskSnapshot task) {
    return task.error() == null ? "no detail" : task.error().type() + ": " + task.error().message();
  }

  private static VeraTask reference(TaskSnapshot task) {
    VeraTask ref = new VeraTask();
    ref.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace(task.key().namespace())
            .withName(task.key().name())
            .withUid(task.uid())
            .build());
    return ref;
  }
}
