package io.vera.operator.task;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The labels the operator puts on a VeraTask once its end is stored. The task informers select only
 * tasks without {@link #FINISHED}, so finished tasks leave the operator's caches and are read back
 * from the API server when asked for; {@link #EXPIRES_AT} lets the TTL sweep find the tasks due for
 * deletion by label instead of keeping a timer per task.
 */
public final class FinishedTaskLabels {
  /** {@code "true"} on a task whose final status is stored. */
  public static final String FINISHED = "vera.io/finished";

  /** The epoch second after which a finished task with a TTL is deleted. */
  public static final String EXPIRES_AT = "vera.io/expires-at";

  /** What the task informers watch: tasks not yet marked finished. */
  public static final String UNFINISHED_SELECTOR = "!" + FINISHED;

  /** What history and the TTL sweep list. */
  public static final String FINISHED_SELECTOR = FINISHED + "=true";

  private FinishedTaskLabels() {}

  /** The epoch second a finished task expires at, rounded up; null without a TTL. */
  static Long expiresAt(TaskSnapshot task) {
    Integer ttl = task.ttlSecondsAfterFinished();
    if (ttl == null || task.completedAt() == null) {
      return null;
    }
    return task.completedAt().plusSeconds(ttl).plusNanos(999_999_999L).getEpochSecond();
  }

  /** A JSON merge patch of the resource that marks the task finished (and when it expires). */
  public static String mergePatch(TaskSnapshot task) {
    ObjectNode patch = JsonNodeFactory.instance.objectNode();
    ObjectNode labels = patch.putObject("metadata").putObject("labels");
    labels.put(FINISHED, "true");
    Long expiry = expiresAt(task);
    if (expiry != null) {
      labels.put(EXPIRES_AT, expiry.toString());
    }
    return patch.toString();
  }

  /** Whether a resource carries the finished label. */
  public static boolean isMarked(io.vera.operator.api.VeraTask task) {
    var labels = task.getMetadata().getLabels();
    return labels != null && "true".equals(labels.get(FINISHED));
  }
}
