package io.vera.operator.handler;

import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.TaskType;
import java.util.List;

/** The registration data of a handler, read from its {@link HandlerInfo}. */
public record HandlerMetadata(
    String name,
    TaskType taskType,
    TaskPriority priority,
    int timeoutSeconds,
    int maxRetries,
    double estimatedDurationSeconds,
    boolean requiresGpu,
    double cpuCores,
    int memoryMb,
    List<String> labels,
    String description) {

  static HandlerMetadata of(HandlerInfo info) {
    return new HandlerMetadata(
        info.name(),
        info.taskType(),
        info.priority(),
        info.timeoutSeconds(),
        info.maxRetries(),
        info.estimatedDurationSeconds(),
        info.requiresGpu(),
        info.cpuCores(),
        info.memoryMb(),
        List.of(info.labels()),
        info.description());
  }
}
