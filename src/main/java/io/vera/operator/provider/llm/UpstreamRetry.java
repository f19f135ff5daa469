package io.vera.operator.provider.llm;

import io.vera.operator.provider.ProviderException;
import io.vera.operator.retry.Backoff;
import io.vera.operator.retry.Deadline;
import io.vera.operator.retry.RetryLoop;
import io.vera.operator.retry.Sleeper;
import java.time.Duration;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;

/**
 * Runs one provider call's attempts within the call's overall deadline, so transient upstream
 * failures are retried the same way by every LLM client and never past what the caller allowed; the
 * loop itself is the shared {@link RetryLoop}.
 *
 * <p>An attempt is retried only when it fails with a {@linkplain ProviderException#retryable()
 * retryable} exception (see {@link UpstreamErrors} for which are) and attempts remain. The wait is
 * the upstream's {@code Retry-After} when it sent one, otherwise exponential backoff from 0.5 s
 * doubling to at most 8 s, less up to 25% jitter. A wait that would end at or after the deadline is
 * not taken: the failure is reported at once (a 429 stays a 429). Streams make sure a failure after
 * output was handed on is never thrown as retryable, so they are never replayed.
 */
public final class UpstreamRetry {
  private static final Backoff BACKOFF =
      new Backoff(Duration.ofMillis(500), Duration.ofSeconds(8), 0.25);

  /** One attempt, given the time left for the whole call. */
  @FunctionalInterface
  public interface Attempt<T> {
    T run(Deadline deadline) throws ProviderException;
  }

  private final RetryLoop loop;
  private final LongSupplier nanoTime;

  /** Real sleeping, the system's monotonic clock and random jitter. */
  UpstreamRetry() {
    this(Sleeper.SYSTEM, System::nanoTime, Backoff.RANDOM);
  }

  /**
   * @param sleeper waits between attempts; tests pass one that records instead of sleeping
   * @param nanoTime a monotonic clock in nanoseconds, for the deadline
   * @param random values in [0, 1) for the jitter
   */
  UpstreamRetry(Sleeper sleeper, LongSupplier nanoTime, DoubleSupplier random) {
    this.loop = new RetryLoop(BACKOFF, random, sleeper);
    this.nanoTime = nanoTime;
  }

  /**
   * Runs {@code attempt} once and then up to {@code maxRetries} more times while it fails retryably
   * and the deadline {@code timeout} from now allows the wait.
   */
  public <T> T run(String provider, Duration timeout, int maxRetries, Attempt<T> attempt)
      throws ProviderException {
    Deadline deadline = Deadline.after(timeout, nanoTime);
    try {
      return loop.run(provider, maxRetries, deadline, n -> outcome(attempt, deadline));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ProviderException(
          503, provider + " call interrupted while waiting to retry", false, null, e);
    }
  }

  private static <T> RetryLoop.Outcome<T, ProviderException> outcome(
      Attempt<T> attempt, Deadline deadline) {
    try {
      return RetryLoop.Outcome.done(attempt.run(deadline));
    } catch (ProviderException e) {
      if (!e.retryable()) {
        return RetryLoop.Outcome.failed(e);
      }
      return RetryLoop.Outcome.<T, ProviderException>retryableFailure(
              e, e.retryAfter(), e.getMessage() + " (HTTP " + e.status() + ")")
          .orIfTooLate(wait -> beyondDeadline(e, wait));
    }
  }

  /** A retryable failure not retried because its wait would pass the deadline. */
  private static ProviderException beyondDeadline(ProviderException e, Duration wait) {
    if (e.retryAfter() == null) {
      return e;
    }
    return new ProviderException(
        e.status(),
        e.getMessage()
            + "; the upstream asks to wait "
            + wait.toSeconds()
            + " s, beyond this call's deadline",
        true,
        e.retryAfter(),
        e);
  }
}
