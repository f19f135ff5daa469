package io.vera.operator.api;

import java.util.Locale;

/** Lifecycle phase of a {@link VeraTask}. */
public enum TaskPhase {
  Pending,
  Queued,
  Running,
  Succeeded,
  Failed,
  Cancelled;

  public boolean isFinished() {
    return this == Succeeded || this == Failed || this == Cancelled;
  }

  /** The legacy API's lowercase state name ("completed" for Succeeded). */
  public String legacyName() {
    return this == Succeeded ? "completed" : name().toLowerCase(Locale.ROOT);
  }
}
