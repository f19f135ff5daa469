package io.vera.operator.task;

import java.time.Instant;

/**
 * How far the running attempt of a task says it got: a fraction from 0 to 1 and a short message for
 * people (e.g. "sieving up to 7,071" or "1,204 tokens so far"). Work that cannot tell how much is
 * left (a command's output so far, a stream without a token limit) reports the fraction as NaN:
 * {@link #known()} is false and only the message says how far it got.
 */
public record TaskProgress(double fraction, String message, Instant updatedAt) {
  /** Longest message kept; a longer one is cut, so status and events stay small. */
  public static final int MAX_MESSAGE = 256;

  public TaskProgress {
    fraction = Double.isNaN(fraction) ? Double.NaN : Math.max(0, Math.min(1, fraction));
    if (message != null && message.length() > MAX_MESSAGE) {
      message = message.substring(0, MAX_MESSAGE - 1) + "…";
    }
  }

  /** Whether the fraction is known (false: the work cannot tell how much of it is left). */
  public boolean known() {
    return !Double.isNaN(fraction);
  }

  /** Whole percent, as the PROGRESS printer column shows it; null when not known. */
  public Integer percent() {
    return known() ? (int) Math.floor(fraction * 100) : null;
  }
}
