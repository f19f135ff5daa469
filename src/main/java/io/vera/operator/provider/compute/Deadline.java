package io.vera.operator.provider.compute;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/** The end of one call, retries and polls included, measured on the transport's clock. */
final class Deadline {
  private final Clock clock;
  private final Instant start;
  private final Instant end;
  private final Duration timeout;

  private Deadline(Clock clock, Duration timeout) {
    this.clock = clock;
    this.start = clock.instant();
    this.end = start.plus(timeout);
    this.timeout = timeout;
  }

  static Deadline start(Clock clock, Duration timeout) {
    return new Deadline(clock, timeout);
  }

  Duration timeout() {
    return timeout;
  }

  Duration remaining() {
    Duration left = Duration.between(clock.instant(), end);
    return left.isNegative() ? Duration.ZERO : left;
  }

  boolean expired() {
    return remaining().isZero();
  }

  /** Whether waiting {@code wait} still leaves time for another attempt. */
  boolean allows(Duration wait) {
    return wait.compareTo(remaining()) < 0;
  }

  double elapsedMs() {
    return Duration.between(start, clock.instant()).toNanos() / 1_000_000.0;
  }
}
