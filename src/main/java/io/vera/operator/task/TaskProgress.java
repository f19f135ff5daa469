package io.vera.operator.task;

import java.time.Instant;

/**
 * How far the running attempt of a task says it got: a fraction from 0 to 1 and a short message for
 * people (e.g. "sieving up to 7,071" or "1,204 tokens so far").
 */
public record TaskProgress(double fraction, String message, Instant updatedAt) {
  /** Longest message kept; a longer one is cut, so status and events stay small. */
  public static final int MAX_MESSAGE = 256;

  public TaskProgress {
    fraction = Double.isNaN(fraction) ? 0 : Math.max(0, Math.min(1, fraction));
    if (message != null && message.length() > MAX_MESSAGE) {
      message = message.substring(0, MAX_MESSAGE - 1) + "…";
    }
  }

  /** Whole percent, as the PROGRESS printer column shows it. */
  public int percent() {
    return (int) Math.floor(fraction * 100);
  }
}
