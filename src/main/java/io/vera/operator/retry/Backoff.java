package io.vera.operator.retry;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;

/**
 * Exponential waits between tries, doubling from {@code initial} up to {@code max}, so a busy
 * upstream gets room to recover. With {@code jitter}, up to that fraction of each wait is taken off
 * at random, so clients that failed together do not all come back in the same instant.
 *
 * <p>The one backoff of the operator: provider clients (LLM and endpoint), their status polls, and
 * pod workers reaching the operator.
 *
 * @param jitter the largest fraction of a step taken off at random, 0 (none) to 1
 */
public record Backoff(Duration initial, Duration max, double jitter) {
  /** Uniform values in [0, 1) for the jitter. */
  public static final DoubleSupplier RANDOM = () -> ThreadLocalRandom.current().nextDouble();

  public Backoff {
    if (initial.isNegative() || initial.isZero() || max.compareTo(initial) < 0) {
      throw new IllegalArgumentException(
          "backoff needs 0 < initial <= max, got " + initial + ", " + max);
    }
    if (jitter < 0 || jitter > 1) {
      throw new IllegalArgumentException("jitter must be between 0 and 1, got " + jitter);
    }
  }

  /** Without jitter: every wait is exactly its step. */
  public Backoff(Duration initial, Duration max) {
    this(initial, max, 0);
  }

  /** The step before try {@code n + 1} ({@code n} counts from 0): initial × 2ⁿ, at most max. */
  public Duration step(int n) {
    Duration d = initial;
    for (int i = 0; i < n && d.compareTo(max) < 0; i++) {
      d = d.multipliedBy(2);
    }
    return d.compareTo(max) < 0 ? d : max;
  }

  /** The wait before try {@code n + 1}; without jitter, {@link #step}. */
  public Duration delay(int n) {
    return delay(n, RANDOM);
  }

  /**
   * The wait before try {@code n + 1}: its step less up to {@code jitter} of it.
   *
   * @param random values in [0, 1); 0 takes nothing off
   */
  public Duration delay(int n, DoubleSupplier random) {
    Duration step = step(n);
    if (jitter == 0) {
      return step;
    }
    return Duration.ofNanos((long) (step.toNanos() * (1 - jitter * random.getAsDouble())));
  }

  /** Counts the tries itself, for a loop that retries until it succeeds, then starts over. */
  public Sequence sequence(DoubleSupplier random) {
    return new Sequence(this, random);
  }

  /** A backoff that remembers how many tries failed in a row. */
  public static final class Sequence {
    private final Backoff backoff;
    private final DoubleSupplier random;
    private int failures;

    private Sequence(Backoff backoff, DoubleSupplier random) {
      this.backoff = backoff;
      this.random = random;
    }

    /** The wait after one more failure. */
    public Duration next() {
      Duration wait = backoff.delay(failures, random);
      if (failures < 62) {
        failures++;
      }
      return wait;
    }

    /** After a success: the next failure waits the initial step again. */
    public void reset() {
      failures = 0;
    }
  }
}
