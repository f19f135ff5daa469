package io.vera.operator.worker;

import io.vera.operator.task.Lease;
import io.vera.operator.task.TaskLeases;
import io.vera.operator.task.TaskSnapshot;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One leased attempt as its {@link AttemptBody} sees it: the lease, progress reports, and what to
 * undo when the dispatcher revokes it (timeout, cancel). The attempt, not a lease id looked up
 * later, is what the dispatcher's revoke hook points at, so a revocation can hit only this attempt
 * and is never lost, however early it comes.
 */
public final class Attempt {
  private final TaskLeases dispatcher;
  private final Thread thread;
  private final Object lock;
  private final List<Runnable> onRevoke = new ArrayList<>();
  private volatile Lease lease;
  private boolean running;
  private boolean revoked;

  /**
   * @param thread the thread that runs the body, interrupted on revocation
   * @param lock the loop's lock, which orders revocation against the body's start and end
   */
  Attempt(TaskLeases dispatcher, Thread thread, Object lock) {
    this.dispatcher = dispatcher;
    this.thread = thread;
    this.lock = lock;
  }

  public Lease lease() {
    return lease;
  }

  public TaskSnapshot task() {
    return lease.task();
  }

  /** Time left until the attempt's deadline, never negative. */
  public Duration timeLeft(Clock clock) {
    Duration left = Duration.between(clock.instant(), lease.deadline());
    return left.isNegative() ? Duration.ZERO : left;
  }

  /** Reports the attempt's progress; false once the lease is gone. */
  public boolean progress(double fraction, String message) {
    return dispatcher.progress(lease.id(), fraction, message);
  }

  /**
   * Runs {@code action} when the attempt is revoked or aborted, for work an interrupt does not stop
   * (a blocked socket read); at once if that already happened.
   */
  public void onRevoke(Runnable action) {
    synchronized (lock) {
      if (!revoked) {
        onRevoke.add(action);
        return;
      }
    }
    action.run();
  }

  void granted(Lease lease) {
    this.lease = lease;
  }

  /** The dispatcher's revoke hook: stops the body if it runs, or keeps it from starting. */
  void revoke() {
    List<Runnable> actions;
    synchronized (lock) {
      if (revoked) {
        return;
      }
      revoked = true;
      if (!running) {
        return;
      }
      thread.interrupt();
      actions = List.copyOf(onRevoke);
    }
    actions.forEach(Runnable::run);
  }

  /** Marks the body as started unless the attempt was revoked first; call under the lock. */
  boolean beginLocked() {
    if (revoked) {
      return false;
    }
    running = true;
    return true;
  }

  /**
   * Marks the body as ended and drops an interrupt meant for it; call under the lock on the body's
   * thread.
   */
  void endLocked() {
    running = false;
    Thread.interrupted();
  }
}
