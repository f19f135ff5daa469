package io.vera.operator.task;

/** Told after every transition of a task, so its status can be written back to the resource. */
@FunctionalInterface
public interface TaskStatusSink {
  void statusChanged(TaskKey key);
}
