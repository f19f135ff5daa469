package io.vera.operator.retry;

import java.time.Duration;
import java.util.function.DoubleSupplier;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one retry loop of the operator's outbound calls (LLM and endpoint clients): make a try; while
 * it came to an outcome that another try may mend and tries remain, wait (the upstream's
 * Retry-After when it sent one, else the backoff's step) and try again. A wait that would end at or
 * after the call's deadline is not taken: the call ends at once with the last try's outcome, so no
 * retry runs past what the caller allowed and a 429 stays a 429.
 *
 * <p>What may be tried again is the caller's to say, per try, in its {@link Outcome}: only the
 * caller knows whether a request is safe to repeat or which answers mean "not processed".
 */
public final class RetryLoop {
  private static final Logger LOG = LoggerFactory.getLogger(RetryLoop.class);

  private final Backoff backoff;
  private final DoubleSupplier random;
  private final Sleeper sleeper;

  /**
   * @param backoff the waits when the upstream named none
   * @param random values in [0, 1) for the backoff's jitter
   * @param sleeper waits between tries; tests pass one that moves a fake clock
   */
  public RetryLoop(Backoff backoff, DoubleSupplier random, Sleeper sleeper) {
    this.backoff = backoff;
    this.random = random;
    this.sleeper = sleeper;
  }

  /** One try, given its number (0 for the first). */
  @FunctionalInterface
  public interface Attempt<T, E extends Exception> {
    Outcome<T, E> run(int n) throws E;
  }

  /**
   * What a try came to: a value to return or a failure to throw, and whether another try may mend
   * it (then with the wait the upstream asked for, if any, and a reason for the log).
   */
  public static final class Outcome<T, E extends Exception> {
    private final T value;
    private final E failure;
    private final boolean retryable;
    private final Duration retryAfter;
    private final String reason;
    private final Function<Duration, E> tooLate;

    private Outcome(
        T value,
        E failure,
        boolean retryable,
        Duration retryAfter,
        String reason,
        Function<Duration, E> tooLate) {
      this.value = value;
      this.failure = failure;
      this.retryable = retryable;
      this.retryAfter = retryAfter;
      this.reason = reason;
      this.tooLate = tooLate;
    }

    /** Final: the call returns {@code value}. */
    public static <T, E extends Exception> Outcome<T, E> done(T value) {
      return new Outcome<>(value, null, false, null, null, null);
    }

    /** Final: the call throws {@code failure}. */
    public static <T, E extends Exception> Outcome<T, E> failed(E failure) {
      return new Outcome<>(null, failure, false, null, null, null);
    }

    /**
     * Another try may mend it; when none is made, the call returns {@code value}.
     *
     * @param retryAfter the wait the upstream asked for, or null for the backoff's
     */
    public static <T, E extends Exception> Outcome<T, E> retryable(
        T value, Duration retryAfter, String reason) {
      return new Outcome<>(value, null, true, retryAfter, reason, null);
    }

    /**
     * Another try may mend it; when none is made, the call throws {@code failure}.
     *
     * @param retryAfter the wait the upstream asked for, or null for the backoff's
     */
    public static <T, E extends Exception> Outcome<T, E> retryableFailure(
        E failure, Duration retryAfter, String reason) {
      return new Outcome<>(null, failure, true, retryAfter, reason, null);
    }

    /**
     * When the wait before the next try would pass the deadline, the call throws what {@code
     * tooLate} makes of that wait instead (to say why it was not waited for).
     */
    public Outcome<T, E> orIfTooLate(Function<Duration, E> tooLate) {
      return new Outcome<>(value, failure, retryable, retryAfter, reason, tooLate);
    }

    private T end() throws E {
      if (failure != null) {
        throw failure;
      }
      return value;
    }
  }

  /**
   * Makes the first try and up to {@code maxRetries} more while the outcome may be mended and the
   * deadline allows the wait; returns or throws the last outcome.
   *
   * @param what names the call in the log
   * @throws InterruptedException when interrupted while waiting between tries (the flag cleared, as
   *     {@link Thread#sleep} leaves it)
   */
  public <T, E extends Exception> T run(
      String what, int maxRetries, Deadline deadline, Attempt<T, E> attempt)
      throws E, InterruptedException {
    for (int n = 0; ; n++) {
      Outcome<T, E> outcome = attempt.run(n);
      if (!outcome.retryable || n >= maxRetries) {
        return outcome.end();
      }
      Duration wait = outcome.retryAfter != null ? outcome.retryAfter : backoff.delay(n, random);
      if (!deadline.allows(wait)) {
        if (outcome.tooLate != null) {
          throw outcome.tooLate.apply(wait);
        }
        return outcome.end();
      }
      LOG.debug(
          "{}: {}; try {} of {} in {} ms",
          what,
          outcome.reason,
          n + 2,
          maxRetries + 1,
          wait.toMillis());
      sleeper.sleep(wait);
    }
  }
}
