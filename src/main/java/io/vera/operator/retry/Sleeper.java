package io.vera.operator.retry;

import java.time.Duration;

/**
 * Waits between retries and polls; tests pass one that advances a fake clock instead of blocking.
 */
@FunctionalInterface
public interface Sleeper {
  /** Blocks the calling thread. */
  Sleeper SYSTEM =
      duration -> Thread.sleep(duration.toMillis(), duration.toNanosPart() % 1_000_000);

  void sleep(Duration duration) throws InterruptedException;
}
