package io.vera.operator.provider.compute;

import java.time.Duration;

/**
 * Waits between retries and polls; tests pass one that advances a fake clock instead of blocking.
 */
@FunctionalInterface
public interface Sleeper {
  /** Blocks the calling thread. */
  Sleeper SYSTEM = duration -> Thread.sleep(duration.toMillis());

  void sleep(Duration duration) throws InterruptedException;
}
