package io.vera.operator.task;

import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The dispatcher's one timer thread: attempt deadlines, retry backoffs, progress flushes, the
 * once-a-second checks (lease expiry, CPU starvation, resource tasks never placed), and the revoke
 * hooks that interrupt in-process attempts, which must run outside the dispatcher's lock. Every
 * timer takes the lock itself when it fires, so one thread keeps them from contending.
 */
final class TaskTimers implements AutoCloseable {
  private final ScheduledThreadPoolExecutor executor =
      new ScheduledThreadPoolExecutor(
          1,
          r -> {
            Thread t = new Thread(r, "task-dispatcher-timers");
            t.setDaemon(true);
            return t;
          });

  TaskTimers() {
    // A finished attempt cancels its deadline; without this the cancelled timer would stay queued
    // (with what it holds) until its time, one per task finished in the last timeout's span.
    executor.setRemoveOnCancelPolicy(true);
  }

  /** Runs {@code check} every second, starting in a second. */
  void everySecond(Runnable check) {
    executor.scheduleWithFixedDelay(check, 1, 1, TimeUnit.SECONDS);
  }

  /** Runs {@code action} once after {@code delay} (at once if it is negative). */
  ScheduledFuture<?> after(Duration delay, Runnable action) {
    return executor.schedule(action, Math.max(0, delay.toMillis()), TimeUnit.MILLISECONDS);
  }

  /** Runs {@code action} soon, on the timer thread. */
  void run(Runnable action) {
    executor.execute(action);
  }

  /** Timers waiting to fire, for tests. */
  int pending() {
    return executor.getQueue().size();
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
