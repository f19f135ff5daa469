package io.vera.operator.handler;

import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.TaskType;
import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Registers a {@link TaskHandler} under a name, with the metadata the legacy API recorded for each
 * task. A task's spec overrides priority, timeout and retries; these are the defaults.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface HandlerInfo {
  /** The task name clients submit, e.g. {@code compute.sum}. */
  String name();

  TaskType taskType() default TaskType.GENERAL;

  TaskPriority priority() default TaskPriority.NORMAL;

  int timeoutSeconds() default 300;

  int maxRetries() default 3;

  double estimatedDurationSeconds() default 0;

  boolean requiresGpu() default false;

  double cpuCores() default 1.0;

  int memoryMb() default 512;

  String[] labels() default {};

  String description() default "";
}
