package io.vera.operator.worker;

import io.vera.operator.task.Lease;
import io.vera.operator.task.PoolKey;
import io.vera.operator.task.TaskLeases;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.DoubleSupplier;
import java.util.function.IntSupplier;

/**
 * Worker threads inside the operator for pools with runtime Embedded: each is an {@link
 * AttemptLoop} that leases from the pool's queue (blocking, no polling loop) and runs the task's
 * handler.
 *
 * <p>While more than {@link #MAX_UNWRITTEN_FINALS} finished tasks wait for their status to be
 * stored, the threads lease nothing new: results kept only in memory are what an operator crash
 * runs again, so running ahead of the status writer trades durability for nothing.
 */
public final class EmbeddedWorkers implements AutoCloseable {
  private static final Duration LEASE_WAIT = Duration.ofSeconds(1);
  static final int MAX_UNWRITTEN_FINALS = 128;
  private static final long BACKLOG_PAUSE_MILLIS = 20;

  private final TaskLeases dispatcher;
  private final TaskRunner runner;
  private final DoubleSupplier cpuPercent;
  private final IntSupplier unwrittenFinals;
  private final Map<PoolKey, Group> groups = new ConcurrentHashMap<>();

  /**
   * @param unwrittenFinals finished tasks whose status is not stored yet (the status writer's)
   */
  public EmbeddedWorkers(
      TaskLeases dispatcher,
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
    private final List<Slot> slots = new ArrayList<>();
    private volatile int target;

    Group(PoolKey pool) {
      this.pool = pool;
    }

    synchronized void resize(int threads) {
      target = threads;
      slots.removeIf(s -> !s.loop.isAlive());
      for (int index = 0; index < threads; index++) {
        final int slot = index;
        if (slots.stream().noneMatch(s -> s.index == slot && s.loop.isAlive())) {
          Slot added = new Slot(slot, loop(slot));
          slots.add(added);
          added.loop.start();
        }
      }
    }

    synchronized int alive() {
      return (int) slots.stream().filter(s -> s.loop.isAlive() && s.index < target).count();
    }

    /** A thread of this pool; it ends once the pool shrinks below its slot or goes. */
    private AttemptLoop loop(int slot) {
      return new AttemptLoop(
          TaskLeases.EMBEDDED_WORKER_PREFIX + pool.name() + "/" + slot,
          "embedded-worker-" + pool.name() + "-" + slot,
          dispatcher,
          this::lease,
          EmbeddedWorkers.this::run,
          () -> slot < target && groups.get(pool) == this);
    }

    private Optional<Lease> lease(String workerId, Runnable onRevoke) throws InterruptedException {
      if (unwrittenFinals.getAsInt() > MAX_UNWRITTEN_FINALS) {
        Thread.sleep(BACKLOG_PAUSE_MILLIS);
        return Optional.empty();
      }
      return dispatcher.lease(pool, workerId, LEASE_WAIT, cpuPercent, onRevoke);
    }
  }

  private record Slot(int index, AttemptLoop loop) {}

  /** Runs the task's handler; its failures keep the classification {@link TaskRunner} gave. */
  private AttemptBody.Result run(Attempt attempt) throws AttemptFailure {
    var task = attempt.task();
    AttemptOutcome outcome =
        runner.run(
            task.key().namespace(),
            task.key().name(),
            task.handler(),
            task.payload(),
            task.context(),
            task.attempts(),
            attempt.lease().deadline(),
            attempt::progress);
    if (!outcome.succeeded()) {
      throw new AttemptFailure(outcome.error(), outcome.retryable());
    }
    return AttemptBody.Result.of(outcome.result());
  }
}
