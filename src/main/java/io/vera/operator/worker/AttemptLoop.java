package io.vera.operator.worker;

import io.vera.operator.task.Lease;
import io.vera.operator.task.TaskLeases;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One in-process worker thread: it leases an attempt, confirms the lease, runs the {@link
 * AttemptBody} its kind of worker supplies, and reports completion or failure to the dispatcher.
 * Embedded pool workers, ComputeResource workers and Provider workers are this loop with different
 * lease sources and bodies.
 *
 * <p>Revocation (timeout, cancel) interrupts exactly the attempt it belongs to: the dispatcher's
 * hook points at the {@link Attempt}, so a revocation that comes before the body starts keeps it
 * from starting, and one that comes after it ended does nothing. {@link #stop} and the lease wait
 * are ordered by the same lock, so a stop's wake-up interrupt can never land in an attempt that was
 * leased a moment earlier; an attempt leased but not yet begun when the loop is aborted is handed
 * back unharmed.
 */
public final class AttemptLoop {
  private static final Logger LOG = LoggerFactory.getLogger(AttemptLoop.class);

  /** Where a loop's leases come from (one queue, or several in order). */
  @FunctionalInterface
  public interface LeaseSource {
    /**
     * Waits a short while for the next attempt; empty when none came.
     *
     * @param onRevoke to pass to the dispatcher as the lease's revoke hook
     */
    Optional<Lease> next(String workerId, Runnable onRevoke) throws InterruptedException;
  }

  private final String workerId;
  private final TaskLeases dispatcher;
  private final LeaseSource leases;
  private final AttemptBody body;
  private final BooleanSupplier wanted;
  private final Thread thread;
  private final Object lock = new Object();
  private volatile boolean stopped;
  private boolean started;
  private boolean aborted;
  private boolean waiting;
  private Attempt current;

  /**
   * @param wanted checked before each lease; the loop ends when it turns false (a pool that
   *     shrank), after the attempt in progress
   */
  public AttemptLoop(
      String workerId,
      String threadName,
      TaskLeases dispatcher,
      LeaseSource leases,
      AttemptBody body,
      BooleanSupplier wanted) {
    this.workerId = workerId;
    this.dispatcher = dispatcher;
    this.leases = leases;
    this.body = body;
    this.wanted = wanted;
    this.thread = new Thread(this::serve, threadName);
    this.thread.setDaemon(true);
  }

  public AttemptLoop(
      String workerId,
      String threadName,
      TaskLeases dispatcher,
      LeaseSource leases,
      AttemptBody body) {
    this(workerId, threadName, dispatcher, leases, body, () -> true);
  }

  String workerId() {
    return workerId;
  }

  /** Starts the thread, unless it runs already or the loop was stopped. */
  public void start() {
    synchronized (lock) {
      if (!started && !stopped) {
        started = true;
        thread.start();
      }
    }
  }

  public boolean isAlive() {
    return thread.isAlive();
  }

  /**
   * Stops leasing. The attempt in progress finishes and is reported, unless {@code abortAttempt}:
   * then it is interrupted (and its revoke actions run) and nothing is reported for it, as for a
   * revoked one.
   */
  public void stop(boolean abortAttempt) {
    Attempt abort;
    synchronized (lock) {
      stopped = true;
      aborted |= abortAttempt;
      if (waiting) {
        thread.interrupt();
        return;
      }
      abort = abortAttempt ? current : null;
    }
    if (abort != null) {
      abort.revoke();
    }
  }

  private void serve() {
    while (!stopped && wanted.getAsBoolean()) {
      try {
        Attempt attempt = new Attempt(dispatcher, thread, lock);
        Optional<Lease> lease = lease(attempt);
        if (lease.isPresent()) {
          run(attempt, lease.get());
        }
      } catch (InterruptedException e) {
        Thread.interrupted(); // stop() woke the lease wait
      } catch (RuntimeException e) {
        LOG.error("worker {} failed outside a task", workerId, e);
      }
    }
  }

  private Optional<Lease> lease(Attempt attempt) throws InterruptedException {
    synchronized (lock) {
      if (stopped) {
        return Optional.empty();
      }
      waiting = true;
    }
    try {
      return leases.next(workerId, attempt::revoke);
    } finally {
      synchronized (lock) {
        waiting = false;
        Thread.interrupted(); // a wake-up from stop() that came as the wait ended
      }
    }
  }

  private void run(Attempt attempt, Lease lease) {
    attempt.granted(lease);
    boolean begun;
    synchronized (lock) {
      begun = !aborted && attempt.beginLocked();
      if (begun) {
        current = attempt;
      }
    }
    if (!begun) {
      if (aborted) {
        dispatcher.release(lease.id()); // never started here: it queues again, attempt uncounted
      }
      return; // else revoked (cancelled) before it began: nothing to run
    }
    AttemptBody.Result result = null;
    AttemptFailure failure = null;
    try {
      // Confirms the lease still holds: a revocation may be on its way to the hook.
      if (dispatcher.renew(lease.id()).isEmpty()) {
        return;
      }
      result = body.run(attempt);
    } catch (AttemptFailure e) {
      failure = e;
    } catch (InterruptedException e) {
      return; // revoked (the dispatcher recorded why) or aborted by stop(true)
    } finally {
      synchronized (lock) {
        current = null;
        attempt.endLocked();
      }
    }
    if (failure != null) {
      dispatcher.fail(lease.id(), failure.error(), failure.retryable(), failure.retryAfter());
    } else {
      dispatcher.complete(lease.id(), result.value(), result.usage());
    }
  }
}
