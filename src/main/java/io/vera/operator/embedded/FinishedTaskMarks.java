package io.vera.operator.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.task.FinishedTaskLabels;
import java.time.Instant;
import java.time.format.DateTimeParseException;

/**
 * The embedded API server marks a VeraTask finished ({@link FinishedTaskLabels}) in the same write
 * as the status that ends it, so a task's end is one write to the store instead of two (status,
 * then labels). A cluster's API server ignores metadata in a status write, so there the operator
 * writes the labels itself; it skips that write when the status write's answer already carries
 * them.
 */
final class FinishedTaskMarks {
  private static final String GROUP = HasMetadata.getGroup(VeraTask.class);
  private static final String PLURAL = HasMetadata.getPlural(VeraTask.class);

  private FinishedTaskMarks() {}

  /**
   * Adds the finished labels to a VeraTask about to be stored by a status write, when its status
   * ends it and it is not marked yet; leaves every other object as it is.
   *
   * @return whether labels were added
   */
  static boolean apply(ApiCatalog.CustomResource resource, ObjectNode task) {
    if (!GROUP.equals(resource.crd().getSpec().getGroup())
        || !PLURAL.equals(resource.crd().getSpec().getNames().getPlural())
        || !finished(task.path("status").path("phase").asText(""))) {
      return false;
    }
    JsonNode metadata = task.path("metadata");
    if (!metadata.isObject()) {
      return false;
    }
    JsonNode existing = metadata.path("labels");
    if ("true".equals(existing.path(FinishedTaskLabels.FINISHED).asText(null))) {
      return false;
    }
    ObjectNode labels =
        existing.isObject() ? (ObjectNode) existing : ((ObjectNode) metadata).putObject("labels");
    labels.put(FinishedTaskLabels.FINISHED, "true");
    JsonNode ttl = task.path("spec").path("ttlSecondsAfterFinished");
    Long expiry =
        FinishedTaskLabels.expiresAt(
            ttl.canConvertToInt() ? ttl.intValue() : null,
            instant(task.path("status").path("completionTime").asText(null)));
    if (expiry != null) {
      labels.put(FinishedTaskLabels.EXPIRES_AT, expiry.toString());
    }
    return true;
  }

  private static boolean finished(String phase) {
    for (TaskPhase candidate : TaskPhase.values()) {
      if (candidate.name().equals(phase)) {
        return candidate.isFinished();
      }
    }
    return false;
  }

  private static Instant instant(String text) {
    if (text == null) {
      return null;
    }
    try {
      return Instant.parse(text);
    } catch (DateTimeParseException e) {
      return null;
    }
  }
}
