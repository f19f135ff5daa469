package io.vera.operator.worker;

import io.vera.operator.task.Lease;
import io.vera.operator.task.PoolKey;
import io.vera.operator.task.TaskDispatcher;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.DoubleSupplier;
import java.util.function.IntSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Worker threads inside the operator for pools with runtime Embedded. Each thread leases from the
 * dispatcher (blocking, no polling loop), runs the handler, and reports the outcome. A revoked
 * lease (timeout, cancel) interrupts exactly the attempt it belongs to.
 *
 * <p>While more than {@link #MAX_UNWRITTEN_FINALS} finished tasks wait for their status to be
 * stored, the threads lease nothing new: results kept only in memory are what an operator crash
 * runs again, so running ahead of the status writer trades durability for nothing.
 */
public final class EmbeddedWorkers implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedWorkers.class);
  private static final Duration LEASE_WAIT = Duration.ofSeconds(1);
  static final int MAX_UNWRITTEN_FINALS = 128;
  private static final long BACKLOG_PAUSE_MILLIS = 20;

  private final TaskDispatcher dispatcher;
  private final TaskRunner runner;
  private final DoubleSupplier cpuPercent;
  private final IntSupplier unwrittenFinals;
  private final Map<PoolKey, Group> groups = new ConcurrentHashMap<>();

  /**
   * @param unwrittenFinals finished tasks whose status is not stored yet (the status writer's)
   */
  public EmbeddedWorkers(
      TaskDispatcher dispatcher,
      TaskRunner runner,
      DoubleSupplier cpuPercent,
      IntSupplier unwrittenFinals) {
    this.dispatcher = dispatcher;
    this.runner = runner;
    this.cpuPercent = cpuPercent;
    this.unwrittenFinals = unwrittenFinals;
  }

  /** Sets the number of worker threads of a pool; extra threads finish their task, then stop. */
  public void resize(PoolKey pool, int threads) {
    groups.computeIfAbsent(pool, Group::new).resize(threads);
  }

  /** Threads currently alive in a pool. */
  public int alive(PoolKey pool) {
    Group group = groups.get(pool);
    return group == null ? 0 : group.alive();
  }

  public void stop(PoolKey pool) {
    Group group = groups.remove(pool);
    if (group != null) {
      group.resize(0);
    }
  }

  @Override
  public void close() {
    for (PoolKey pool : new ArrayList<>(groups.keySet())) {
      stop(pool);
    }
  }

  /** The threads of one pool. */
  private final class Group {
    private final PoolKey pool;
    private final List<Worker> workers = new ArrayList<>();
    private volatile int target;

    Group(PoolKey pool) {
      this.pool = pool;
    }

    synchronized void resize(int threads) {
      target = threads;
      workers.removeIf(w -> !w.thread.isAlive());
      for (int index = 0; index < threads; index++) {
        final int slot = index;
        if (workers.stream().noneMatch(w -> w.slot == slot && w.thread.isAlive())) {
          Worker worker = new Worker(this, slot);
          workers.add(worker);
          worker.thread.start();
        }
      }
    }

    synchronized int alive() {
      return (int) workers.stream().filter(w -> w.thread.isAlive() && w.slot < target).count();
    }
  }

  /** One worker thread and the attempt it is running, so a revocation hits only that attempt. */
  private final class Worker implements Runnable {
    private final Group group;
    private final int slot;
    private final Thread thread;
    private final Object attemptLock = new Object();
    private String currentLease;

    Worker(Group group, int slot) {
      this.group = group;
      this.slot = slot;
      this.thread = new Thread(this, "embedded-worker-" + group.pool.name() + "-" + slot);
      this.thread.setDaemon(true);
    }

    private String id() {
      return TaskDispatcher.EMBEDDED_WORKER_PREFIX + group.pool.name() + "/" + slot;
    }

    @Override
    public void run() {
      while (slot < group.target && groups.get(group.pool) == group) {
        try {
          if (unwrittenFinals.getAsInt() > MAX_UNWRITTEN_FINALS) {
            Thread.sleep(BACKLOG_PAUSE_MILLIS);
            continue;
          }
          String[] leaseId = new String[1];
          var lease =
              dispatcher.lease(
                  group.pool, id(), LEASE_WAIT, cpuPercent, () -> interruptIfRunning(leaseId[0]));
          if (lease.isEmpty()) {
            continue;
          }
          leaseId[0] = lease.get().id();
          runAttempt(lease.get());
        } catch (InterruptedException e) {
          // A revocation that raced with the end of the previous attempt; keep serving.
          Thread.interrupted();
        } catch (RuntimeException e) {
          LOG.error("embedded worker {} failed outside a task", id(), e);
        }
      }
    }

    private void runAttempt(Lease lease) {
      synchronized (attemptLock) {
        currentLease = lease.id();
      }
      if (dispatcher.renew(lease.id()).isEmpty()) {
        // Revoked (cancelled) before this thread registered the attempt: nothing to run.
        synchronized (attemptLock) {
          currentLease = null;
        }
        return;
      }
      AttemptOutcome outcome;
      try {
        var task = lease.task();
        outcome =
            runner.run(
                task.key().namespace(),
                task.key().name(),
                task.handler(),
                task.payload(),
                task.context(),
                task.attempts(),
                lease.deadline(),
                (fraction, message) -> dispatcher.progress(lease.id(), fraction, message));
      } finally {
        synchronized (attemptLock) {
          currentLease = null;
          Thread.interrupted();
        }
      }
      if (outcome.succeeded()) {
        dispatcher.complete(lease.id(), outcome.result());
      } else {
        dispatcher.fail(lease.id(), outcome.error(), outcome.retryable());
      }
    }

    private void interruptIfRunning(String leaseId) {
      synchronized (attemptLock) {
        if (leaseId != null && leaseId.equals(currentLease)) {
          thread.interrupt();
        }
      }
    }
  }
}
