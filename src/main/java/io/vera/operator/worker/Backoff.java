package io.vera.operator.worker;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;

/**
 * Exponential backoff with jitter, so workers that lost the operator retry quickly at first, then
 * rarely, and do not all come back in the same instant.
 */
final class Backoff {
  private final long initialMillis;
  private final long maxMillis;
  private final DoubleSupplier random;
  private long nextMillis;

  /**
   * @param random values in [0, 1); each delay is drawn from the upper half of the current step
   */
  Backoff(Duration initial, Duration max, DoubleSupplier random) {
    if (initial.isNegative() || initial.isZero() || max.compareTo(initial) < 0) {
      throw new IllegalArgumentException("need 0 < initial <= max, got " + initial + ", " + max);
    }
    this.initialMillis = initial.toMillis();
    this.maxMillis = max.toMillis();
    this.random = random;
    this.nextMillis = initialMillis;
  }

  /** 100 ms doubling to 10 s. */
  static Backoff standard() {
    return new Backoff(
        Duration.ofMillis(100),
        Duration.ofSeconds(10),
        () -> ThreadLocalRandom.current().nextDouble());
  }

  /** The delay before the next try: half the current step plus up to another half, at random. */
  Duration next() {
    long step = nextMillis;
    nextMillis = Math.min(maxMillis, step * 2);
    return Duration.ofMillis(step / 2 + (long) (random.getAsDouble() * (step - step / 2)));
  }

  /** After a success: the next failure waits the initial delay again. */
  void reset() {
    nextMillis = initialMillis;
  }
}
