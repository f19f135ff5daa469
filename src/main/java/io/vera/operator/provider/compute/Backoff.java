package io.vera.operator.provider.compute;

import java.time.Duration;

/**
 * Exponential waits between attempts, doubling from {@code initial} up to {@code max}, so a busy
 * upstream gets room to recover without the call sleeping past its deadline.
 */
public record Backoff(Duration initial, Duration max) {
  public Backoff {
    if (initial.isNegative() || initial.isZero() || max.compareTo(initial) < 0) {
      throw new IllegalArgumentException("backoff needs 0 < initial <= max");
    }
  }

  /** The wait before attempt {@code n + 1}; {@code n} counts from 0. */
  public Duration delay(int n) {
    Duration d = initial;
    for (int i = 0; i < n && d.compareTo(max) < 0; i++) {
      d = d.multipliedBy(2);
    }
    return d.compareTo(max) < 0 ? d : max;
  }
}
