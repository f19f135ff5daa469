package io.vera.operator.facade.legacy;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.task.TaskSnapshot;
import java.time.Duration;
import java.time.Instant;

/** The legacy API's JSON shape of a task. Times are epoch seconds, as the original sent them. */
public final class TaskViews {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private TaskViews() {}

  /** A task in the legacy shape. */
  public static ObjectNode view(TaskSnapshot task) {
    ObjectNode view = NODES.objectNode();
    view.put("task_id", task.key().name());
    view.put("name", task.handler());
    view.put("status", task.phase().legacyName());
    view.put("priority", task.priority().wireName());
    view.put("task_type", task.taskType().name());
    view.put("pool", task.pool() == null ? null : task.pool().name());
    view.put("description", task.description());
    view.set("payload", task.payload() == null ? NODES.objectNode() : task.payload());
    view.set("context", task.context() == null ? NODES.objectNode() : task.context());
    view.set("result", task.result() == null ? NODES.nullNode() : task.result());
    view.put("error", task.error() == null ? null : task.error().message());
    view.put("error_type", task.error() == null ? null : task.error().type());
    view.put("attempts", task.attempts());
    view.put("max_retries", task.maxRetries());
    view.put("timeout", task.timeoutSeconds());
    epoch(view, "created_at", task.createdAt());
    epoch(view, "queued_at", task.queuedAt());
    epoch(view, "started_at", task.startedAt());
    epoch(view, "completed_at", task.completedAt());
    epoch(view, "next_retry_at", task.nextRetryAt());
    if (task.startedAt() != null && task.completedAt() != null) {
      view.put(
          "duration_ms", Duration.between(task.startedAt(), task.completedAt()).toNanos() / 1e6);
    } else {
      view.putNull("duration_ms");
    }
    view.put("worker_id", task.worker());
    if (task.pendingReason() != null) {
      view.put("pending_reason", task.pendingReason());
    }
    if (task.progress() != null) {
      ObjectNode progress = view.putObject("progress");
      if (task.progress().known()) {
        progress.put("fraction", task.progress().fraction());
      } else {
        progress.putNull("fraction");
      }
      progress.put("message", task.progress().message());
      epoch(progress, "updated_at", task.progress().updatedAt());
    }
    return view;
  }

  /** Sets a time as epoch seconds, or null. */
  public static void epoch(ObjectNode view, String field, Instant time) {
    if (time == null) {
      view.putNull(field);
    } else {
      view.put(field, epochSeconds(time));
    }
  }

  /** A time as the legacy API writes it, epoch seconds with the fraction; null stays null. */
  static Double epochSeconds(Instant time) {
    return time == null ? null : time.getEpochSecond() + time.getNano() / 1e9;
  }
}
