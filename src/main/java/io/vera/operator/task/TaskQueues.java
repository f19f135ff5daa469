package io.vera.operator.task;

import io.vera.operator.api.TaskPhase;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiFunction;
import java.util.function.DoubleSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Where the tasks in flight are: every task by key, one queue per pool ordered by priority then
 * submission, and the leased tasks by lease id, all behind one lock. It keeps them consistent (a
 * task waits in at most one queue, a leased task counts as running in its pool) and answers what is
 * where; what a move means (events, status writes, timers) is {@link TaskTransitions}'.
 *
 * <p>Every method but {@link #locked} and {@link #awaitNext} expects the caller to hold the lock.
 */
final class TaskQueues {
  static final Comparator<TaskEntry> QUEUE_ORDER =
      Comparator.comparing((TaskEntry e) -> e.priority)
          .thenComparing(e -> e.createdAt)
          .thenComparingLong(e -> e.sequence);

  /** How long a lease lasts when its pool is gone; its worker's next renewal learns the rest. */
  private static final int ORPHAN_LEASE_SECONDS = 30;

  private final Clock clock;
  private final ReentrantLock lock = new ReentrantLock();
  private final Map<TaskKey, TaskEntry> tasks = new HashMap<>();
  private final Map<String, TaskEntry> leases = new HashMap<>();
  private final Map<PoolKey, PoolQueue> pools =
      new TreeMap<>(Comparator.comparing(PoolKey::toString));

  /** One pool's queue, running count and totals. */
  private final class PoolQueue {
    final PoolKey key;
    PoolSettings settings;
    final PriorityQueue<TaskEntry> queued = new PriorityQueue<>(QUEUE_ORDER);
    int running;
    long succeeded;
    long failed;
    Instant cpuPausedAt;
    final Condition available = lock.newCondition();

    PoolQueue(PoolKey key, PoolSettings settings) {
      this.key = key;
      this.settings = settings;
    }
  }

  TaskQueues(Clock clock) {
    this.clock = clock;
  }

  /** Reads or changes the queues under their lock. */
  <T> T locked(Supplier<T> action) {
    lock.lock();
    try {
      return action.get();
    } finally {
      lock.unlock();
    }
  }

  // ---- tasks ---------------------------------------------------------------------------------

  TaskEntry task(TaskKey key) {
    return tasks.get(key);
  }

  void add(TaskEntry entry) {
    tasks.put(entry.key, entry);
  }

  int size() {
    return tasks.size();
  }

  /** A copy of the tasks held, so a caller may change them while it walks the list. */
  List<TaskEntry> tasks() {
    return new ArrayList<>(tasks.values());
  }

  /** Copies of the tasks held (only the unfinished ones if asked), in no order. */
  List<TaskSnapshot> snapshots(boolean unfinishedOnly) {
    List<TaskSnapshot> copies = new ArrayList<>();
    for (TaskEntry entry : tasks.values()) {
      if (!unfinishedOnly || !entry.phase.isFinished()) {
        copies.add(entry.snapshot());
      }
    }
    return copies;
  }

  /** Takes a task out entirely: from the tasks held, its queue or its pool's running count. */
  void remove(TaskEntry entry) {
    tasks.remove(entry.key);
    PoolQueue pool = poolOf(entry);
    if (pool != null) {
      if (pool.queued.remove(entry)) {
        pool.available.signalAll();
      }
      if (entry.phase == TaskPhase.Running) {
        pool.running--;
      }
    }
  }

  // ---- queues --------------------------------------------------------------------------------

  /**
   * The pool a task belongs to: its own queue, else the first pool of its type in its namespace;
   * null while there is none.
   */
  PoolKey resolvePool(TaskEntry entry) {
    if (entry.queue != null) {
      return pools.containsKey(entry.queue) ? entry.queue : null;
    }
    for (PoolQueue pool : pools.values()) {
      if (pool.key.namespace().equals(entry.key.namespace())
          && pool.key.kind() == QueueKind.WORKER_POOL
          && pool.settings.taskType() == entry.taskType) {
        return pool.key;
      }
    }
    return null;
  }

  /** Queues a task in the pool it resolves to, which must exist. */
  void enqueue(TaskEntry entry) {
    PoolKey key = resolvePool(entry);
    PoolQueue pool = pools.get(key);
    entry.pool = key;
    entry.phase = TaskPhase.Queued;
    entry.pendingReason = null;
    if (entry.queuedAt == null || entry.attempts == 0) {
      entry.queuedAt = clock.instant();
    }
    pool.queued.add(entry);
    pool.available.signal();
  }

  /** Takes a waiting task out of its queue, if it is in one. */
  void dequeue(TaskEntry entry) {
    PoolQueue pool = poolOf(entry);
    if (pool != null) {
      pool.queued.remove(entry);
    }
  }

  /**
   * Waits up to {@code maxWait} for a task of a pool that {@code accepts} allows (any, if null) and
   * hands it to {@code start} under the lock. Empty when none came, when the pool is suspended or
   * unknown, or while CPU use is at or above the pool's threshold and the pool already runs a task:
   * above it a pool keeps one task running, so it slows down but never stalls.
   */
  <T> Optional<T> awaitNext(
      PoolKey poolKey,
      Duration maxWait,
      DoubleSupplier cpuPercent,
      Predicate<TaskSnapshot> accepts,
      BiFunction<TaskEntry, PoolSettings, T> start)
      throws InterruptedException {
    long remaining = maxWait.toNanos();
    lock.lockInterruptibly();
    try {
      while (true) {
        PoolQueue pool = pools.get(poolKey);
        if (pool == null) {
          return Optional.empty();
        }
        boolean paused = pool.settings.suspended();
        if (!paused
            && !pool.queued.isEmpty()
            && pool.running > 0
            && pool.settings.pausesAt(cpuPercent.getAsDouble())) {
          pool.cpuPausedAt = clock.instant();
          paused = true;
        }
        TaskEntry entry = paused ? null : nextAccepted(pool, accepts);
        if (entry != null) {
          return Optional.of(start.apply(entry, pool.settings));
        }
        if (remaining <= 0) {
          return Optional.empty();
        }
        // While CPU-paused, look again soon rather than waiting for a signal that will not come.
        long wait = paused ? Math.min(remaining, TimeUnit.MILLISECONDS.toNanos(250)) : remaining;
        long before = System.nanoTime();
        pool.available.awaitNanos(wait);
        remaining -= System.nanoTime() - before;
      }
    } finally {
      lock.unlock();
    }
  }

  /** Takes the first queued task in order that the worker accepts, or null. */
  private static TaskEntry nextAccepted(PoolQueue pool, Predicate<TaskSnapshot> accepts) {
    if (pool.queued.isEmpty()) {
      return null;
    }
    if (accepts == null) {
      return pool.queued.poll();
    }
    TaskEntry best = null;
    for (TaskEntry entry : pool.queued) {
      if ((best == null || QUEUE_ORDER.compare(entry, best) < 0)
          && accepts.test(entry.snapshot())) {
        best = entry;
      }
    }
    if (best != null) {
      pool.queued.remove(best);
    }
    return best;
  }

  /**
   * Tasks that waited longer than their own timeout in the queue of a pool its CPU threshold has
   * paused in the last 3 seconds, in queue-walk order.
   */
  List<TaskEntry> starvedByCpu(Instant now) {
    List<TaskEntry> starved = new ArrayList<>();
    for (PoolQueue pool : pools.values()) {
      if (pool.cpuPausedAt == null || pool.cpuPausedAt.isBefore(now.minusSeconds(3))) {
        continue;
      }
      for (TaskEntry entry : pool.queued) {
        if (entry.queuedAt != null
            && entry.queuedAt.plusSeconds(entry.timeoutSeconds).isBefore(now)) {
          starved.add(entry);
        }
      }
    }
    return starved;
  }

  // ---- leases --------------------------------------------------------------------------------

  TaskEntry leased(String leaseId) {
    return leases.get(leaseId);
  }

  /** A copy of the leased tasks, so a caller may end leases while it walks the list. */
  List<TaskEntry> leased() {
    return new ArrayList<>(leases.values());
  }

  /** Records a task's lease ({@code entry.leaseId}) and counts it running in its pool, if known. */
  void lease(TaskEntry entry) {
    PoolQueue pool = poolOf(entry);
    if (pool != null) {
      pool.running++;
    }
    leases.put(entry.leaseId, entry);
  }

  /** Forgets a task's lease, if it holds one, with its expiry and deadline. */
  void unlease(TaskEntry entry) {
    if (entry.leaseId != null) {
      leases.remove(entry.leaseId);
      entry.leaseId = null;
      entry.leaseExpiry = null;
      entry.deadline = null;
    }
  }

  /**
   * Takes a running task off its pool's running count (waking a worker waiting on the pool), or a
   * waiting one out of its queue. The lease itself is the caller's to end.
   */
  void leave(TaskEntry entry) {
    PoolQueue pool = poolOf(entry);
    if (entry.phase == TaskPhase.Running) {
      if (pool != null) {
        pool.running--;
        pool.available.signalAll();
      }
    } else if (pool != null) {
      pool.queued.remove(entry);
    }
  }

  /** How long a lease of this pool lasts from a renewal. */
  int leaseSeconds(PoolKey key) {
    PoolQueue pool = key == null ? null : pools.get(key);
    return pool == null ? ORPHAN_LEASE_SECONDS : pool.settings.leaseSeconds();
  }

  // ---- pools ---------------------------------------------------------------------------------

  /**
   * Registers or updates a pool, with the totals a new one starts from. True when it may be the
   * pool a waiting task lacks: it is new, or changed its task type.
   */
  boolean upsertPool(PoolKey key, PoolSettings settings, long succeeded, long failed) {
    PoolQueue pool = pools.get(key);
    boolean takesNewTasks = pool == null || pool.settings.taskType() != settings.taskType();
    if (pool == null) {
      pool = new PoolQueue(key, settings);
      pool.succeeded = succeeded;
      pool.failed = failed;
      pools.put(key, pool);
    } else {
      pool.settings = settings;
    }
    pool.available.signalAll();
    return takesNewTasks;
  }

  /** Forgets a pool, waking its waiting workers; returns the tasks that were queued in it. */
  List<TaskEntry> removePool(PoolKey key) {
    PoolQueue pool = pools.remove(key);
    if (pool == null) {
      return List.of();
    }
    List<TaskEntry> queued = new ArrayList<>(pool.queued);
    pool.queued.clear();
    pool.available.signalAll();
    return queued;
  }

  List<PoolKey> poolKeys() {
    return new ArrayList<>(pools.keySet());
  }

  /** The CPU threshold of a task's pool, as its timeout message names it. */
  Double cpuThresholdPercent(TaskEntry entry) {
    PoolQueue pool = poolOf(entry);
    return pool == null ? null : pool.settings.cpuThresholdPercent();
  }

  /** Counts a finished attempt in its pool's totals. */
  void countFinished(TaskEntry entry, TaskPhase phase) {
    PoolQueue pool = poolOf(entry);
    if (pool == null) {
      return;
    }
    if (phase == TaskPhase.Succeeded) {
      pool.succeeded++;
    } else if (phase == TaskPhase.Failed) {
      pool.failed++;
    }
  }

  Optional<TaskQueueView.PoolStats> stats(PoolKey key) {
    PoolQueue pool = pools.get(key);
    if (pool == null) {
      return Optional.empty();
    }
    Instant now = clock.instant();
    Long oldest =
        pool.queued.stream()
            .map(e -> e.queuedAt)
            .filter(t -> t != null)
            .min(Comparator.naturalOrder())
            .map(t -> Math.max(0, Duration.between(t, now).toSeconds()))
            .orElse(null);
    return Optional.of(
        new TaskQueueView.PoolStats(
            pool.queued.size(), pool.running, pool.succeeded, pool.failed, oldest));
  }

  /** The queued tasks of a pool in the order they will be leased. */
  List<TaskSnapshot> queueOrder(PoolKey key) {
    PoolQueue pool = pools.get(key);
    if (pool == null) {
      return List.of();
    }
    return pool.queued.stream().sorted(QUEUE_ORDER).map(TaskEntry::snapshot).toList();
  }

  private PoolQueue poolOf(TaskEntry entry) {
    return entry.pool == null ? null : pools.get(entry.pool);
  }
}
