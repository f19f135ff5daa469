package io.vera.operator.retry;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.function.LongSupplier;

/**
 * The end of one call, retries, waits and polls included, so no retry or poll runs past what the
 * caller allowed. Measured on a monotonic nanosecond source, or on a {@link Clock} where tests move
 * time by hand.
 */
public final class Deadline {
  private final LongSupplier nanoTime;
  private final long startNanos;
  private final Duration timeout;

  private Deadline(LongSupplier nanoTime, Duration timeout) {
    this.nanoTime = nanoTime;
    this.startNanos = nanoTime.getAsLong();
    this.timeout = timeout;
  }

  /** A deadline {@code timeout} from now on a monotonic source such as {@code System::nanoTime}. */
  public static Deadline after(Duration timeout, LongSupplier nanoTime) {
    return new Deadline(nanoTime, timeout);
  }

  /** A deadline {@code timeout} from now on {@code clock}. */
  public static Deadline after(Duration timeout, Clock clock) {
    return new Deadline(() -> nanos(clock.instant()), timeout);
  }

  public Duration timeout() {
    return timeout;
  }

  /** Time left, never negative. */
  public Duration remaining() {
    long left = timeout.toNanos() - (nanoTime.getAsLong() - startNanos);
    return Duration.ofNanos(Math.max(0, left));
  }

  public boolean expired() {
    return remaining().isZero();
  }

  /** Whether waiting {@code wait} still leaves time for another try. */
  public boolean allows(Duration wait) {
    return wait.compareTo(remaining()) < 0;
  }

  public double elapsedMs() {
    return (nanoTime.getAsLong() - startNanos) / 1_000_000.0;
  }

  private static long nanos(Instant instant) {
    return instant.getEpochSecond() * 1_000_000_000L + instant.getNano();
  }
}
