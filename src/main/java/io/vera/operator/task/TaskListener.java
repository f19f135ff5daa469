package io.vera.operator.task;

/** Receives task transitions; called on the dispatcher's caller thread, so it must be quick. */
@FunctionalInterface
public interface TaskListener {
  void onTaskEvent(TaskEvent event);
}
