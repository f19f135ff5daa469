package io.vera.operator.provider.llm;

import io.vera.operator.retry.Sleeper;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A clock that only moves when the retrier sleeps, and remembers every sleep. */
final class FakeTime implements Sleeper {
  private long nanos = 1_000_000_000L;
  final List<Duration> sleeps = new ArrayList<>();

  @Override
  public void sleep(Duration duration) {
    sleeps.add(duration);
    nanos += duration.toNanos();
  }

  long nanoTime() {
    return nanos;
  }

  /** A retrier on this clock with no jitter. */
  UpstreamRetry retry() {
    return new UpstreamRetry(this, this::nanoTime, () -> 0.0);
  }
}
