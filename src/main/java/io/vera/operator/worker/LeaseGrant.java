package io.vera.operator.worker;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;

/**
 * A lease the operator granted to a worker process, with the timing derived from it. The grant
 * carries no server clock reading, but {@code deadline - timeout_seconds} is the moment it was
 * granted, so the lease's length is measured on the operator's clock alone and clock skew between
 * worker and operator cannot make the worker renew too late.
 */
record LeaseGrant(
    String leaseId,
    String taskId,
    String handler,
    JsonNode payload,
    JsonNode context,
    int attempt,
    int timeoutSeconds,
    Instant deadline,
    Instant leaseExpiresAt) {

  /** Never renew more often than this, whatever the lease length. */
  static final Duration MIN_RENEW_INTERVAL = Duration.ofMillis(200);

  /** Reads the operator's grant; a malformed one is an {@link IllegalArgumentException}. */
  static LeaseGrant parse(JsonNode grant) {
    try {
      return new LeaseGrant(
          text(grant, "lease_id"),
          text(grant, "task_id"),
          text(grant, "handler"),
          grant.path("payload"),
          grant.path("context"),
          grant.path("attempt").asInt(1),
          required(grant, "timeout_seconds").asInt(),
          Instant.parse(text(grant, "deadline")),
          Instant.parse(text(grant, "lease_expires_at")));
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException("lease grant has a malformed time: " + e.getMessage(), e);
    }
  }

  /** How long the lease lasts without renewal, as the operator counts it. */
  Duration leaseDuration() {
    Duration length = Duration.between(deadline.minusSeconds(timeoutSeconds), leaseExpiresAt);
    return length.compareTo(MIN_RENEW_INTERVAL) < 0 ? MIN_RENEW_INTERVAL : length;
  }

  /** A third of the lease, so two renewals can fail before it expires. */
  Duration renewInterval() {
    Duration third = leaseDuration().dividedBy(3);
    return third.compareTo(MIN_RENEW_INTERVAL) < 0 ? MIN_RENEW_INTERVAL : third;
  }

  /** How long the attempt may run, counted from when the grant arrived. */
  Duration timeout() {
    return Duration.ofSeconds(Math.max(0, timeoutSeconds));
  }

  private static String text(JsonNode grant, String field) {
    JsonNode value = required(grant, field);
    if (!value.isTextual() || value.textValue().isEmpty()) {
      throw new IllegalArgumentException("lease grant field '" + field + "' must be a string");
    }
    return value.textValue();
  }

  private static JsonNode required(JsonNode grant, String field) {
    JsonNode value = grant.get(field);
    if (value == null || value.isNull()) {
      throw new IllegalArgumentException("lease grant lacks field '" + field + "'");
    }
    return value;
  }
}
