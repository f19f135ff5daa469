package io.vera.operator.task;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskStatus;
import io.vera.operator.handler.HandlerRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Queue;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps one queue per worker pool, ordered by priority then submission, and hands tasks to workers
 * as leases. Its state is derived from the VeraTask resources: after a restart it is rebuilt by
 * {@link #track} from the informer cache, and every transition is reported to a {@link
 * TaskStatusSink} that writes it back to the resource.
 *
 * <p>It holds the tasks in flight only: once a finished task's end is stored ({@link #stored}) it
 * is dropped, and readers find it on the API server ({@link FinishedTasks}). Its memory grows with
 * the queued and running tasks, not with the history kept.
 */
public final class TaskDispatcher implements TaskQueueView, TaskLeases, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TaskDispatcher.class);
  private static final Comparator<TaskEntry> QUEUE_ORDER =
      Comparator.comparing((TaskEntry e) -> e.priority)
          .thenComparing(e -> e.createdAt)
          .thenComparingLong(e -> e.sequence);

  /** How often a task's progress is published at most. */
  public static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(1);

  /**
   * Limits and defaults: the cap on a result's JSON size; the timeout and retries of tasks whose
   * handler the operator does not know (it may live only in a worker image); and how long a worker
   * pod has to confirm a lease by renewing it once, after which the task queues again unharmed (its
   * long-poll may have been abandoned by a worker that went away).
   */
  public record Settings(
      int maxResultBytes,
      int defaultTimeoutSeconds,
      int defaultRetries,
      Duration leaseConfirmWindow) {}

  private final TaskAdmission admission;
  private final TaskStatusSink statusSink;
  private final Settings settings;
  private final Clock clock;
  private final ObjectMapper mapper = new ObjectMapper();
  private final ReentrantLock lock = new ReentrantLock();
  private final Map<TaskKey, TaskEntry> tasks = new HashMap<>();
  private final Map<String, TaskEntry> leases = new HashMap<>();
  private final Map<PoolKey, PoolQueue> pools =
      new TreeMap<>(Comparator.comparing(PoolKey::toString));
  private final Map<TaskKey, List<CompletableFuture<TaskSnapshot>>> waiters = new HashMap<>();
  private final List<TaskListener> listeners = new CopyOnWriteArrayList<>();
  private final Queue<TaskEvent> outbox = new ConcurrentLinkedQueue<>();

  /**
   * Answers for callers waiting on a task that finished or left, given after the lock is released:
   * an answer runs the waiter's continuation (a REST response being written), which must not hold
   * up every lease and completion meanwhile.
   */
  private final Queue<Runnable> answers = new ConcurrentLinkedQueue<>();

  private final ReentrantLock publishing = new ReentrantLock();
  private final TaskTimers timers = new TaskTimers();

  /**
   * UIDs of finished tasks dropped after their end was stored, until the informer reports them
   * gone: a watch that lags may still deliver their creation, which must not queue them again.
   * Bounded, since a relisting informer never reports what it no longer sees.
   */
  private final Cache<String, Boolean> dropped =
      Caffeine.newBuilder().maximumSize(100_000).expireAfterWrite(Duration.ofMinutes(10)).build();

  /** One pool's queue, running set and counters. */
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

  public TaskDispatcher(
      HandlerRegistry handlers, TaskStatusSink statusSink, Settings settings, Clock clock) {
    this.admission =
        new TaskAdmission(
            handlers, settings.defaultTimeoutSeconds(), settings.defaultRetries(), clock);
    this.statusSink = statusSink;
    this.settings = settings;
    this.clock = clock;
    timers.everySecond(this::expireLeases);
    timers.everySecond(this::failTasksStarvedByCpu);
    timers.everySecond(this::failResourceTasksNeverPlaced);
  }

  /** Timers waiting to fire (deadlines, retries, the periodic checks), for tests. */
  int pendingTimers() {
    return timers.pending();
  }

  public void addListener(TaskListener listener) {
    listeners.add(listener);
  }

  // ---- pools ---------------------------------------------------------------------------------

  /**
   * Registers or updates a pool. The baseline counters carry the totals a previous operator process
   * wrote to the pool's status, so they survive restarts.
   */
  public void upsertPool(
      PoolKey key, PoolSettings poolSettings, long succeededBaseline, long failedBaseline) {
    mutate(
        changed -> {
          PoolQueue pool = pools.get(key);
          boolean takesNewTasks =
              pool == null || pool.settings.taskType() != poolSettings.taskType();
          if (pool == null) {
            pool = new PoolQueue(key, poolSettings);
            pool.succeeded = succeededBaseline;
            pool.failed = failedBaseline;
            pools.put(key, pool);
          } else {
            pool.settings = poolSettings;
          }
          // Only a new pool, or one that changed its task type, can be the pool a waiting task
          // lacks;
          // the periodic resync of an unchanged pool must not scan every task.
          if (takesNewTasks) {
            for (TaskEntry entry : tasks.values()) {
              if (entry.phase == TaskPhase.Pending && resolvePool(entry) != null) {
                enqueue(entry);
                changed.add(entry.key);
              }
            }
          }
          pool.available.signalAll();
          return null;
        });
  }

  /** Forgets a pool; its queued tasks wait as Pending until a pool for them appears. */
  public void removePool(PoolKey key) {
    mutate(
        changed -> {
          PoolQueue pool = pools.remove(key);
          if (pool == null) {
            return null;
          }
          for (TaskEntry entry : pool.queued) {
            entry.pool = null;
            entry.phase = TaskPhase.Pending;
            entry.pendingReason = "pool " + key + " was deleted";
            if (resolvePool(entry) != null) {
              enqueue(entry);
            }
            changed.add(entry.key);
          }
          pool.queued.clear();
          pool.available.signalAll();
          return null;
        });
  }

  @Override
  public List<PoolKey> pools() {
    return locked(
        () -> {
          return new ArrayList<>(pools.keySet());
        });
  }

  @Override
  public Optional<PoolStats> poolStats(PoolKey key) {
    return locked(
        () -> {
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
              new PoolStats(pool.queued.size(), pool.running, pool.succeeded, pool.failed, oldest));
        });
  }

  /** The queued tasks of a pool in the order they will be leased (position 1 is next). */
  @Override
  public List<TaskSnapshot> queueOrder(PoolKey key) {
    return locked(
        () -> {
          PoolQueue pool = pools.get(key);
          if (pool == null) {
            return List.of();
          }
          return pool.queued.stream().sorted(QUEUE_ORDER).map(TaskEntry::snapshot).toList();
        });
  }

  // ---- tasks ---------------------------------------------------------------------------------

  /**
   * Takes in a task resource, new or already known. A new one is validated and queued (or restored
   * to the state its status records, after a restart); for a known one only a cancel request is
   * applied, because the dispatcher's own state is newer than any status it wrote.
   */
  public void track(VeraTask resource) {
    TaskKey key =
        new TaskKey(resource.getMetadata().getNamespace(), resource.getMetadata().getName());
    if (dropped.getIfPresent(resource.getMetadata().getUid()) != null) {
      return; // finished and stored: a late event of its earlier life
    }
    mutate(
        changed -> {
          boolean written = false;
          TaskEntry entry = tasks.get(key);
          if (entry != null && !entry.uid.equals(resource.getMetadata().getUid())) {
            dropLocked(entry);
            entry = null;
          }
          if (entry == null) {
            entry = admission.admit(key, resource);
            tasks.put(key, entry);
            written = restore(entry, resource.getStatus());
          }
          Long generation = resource.getMetadata().getGeneration();
          if (generation != null && !generation.equals(entry.generation)) {
            entry.generation = generation;
            written = true;
          }
          if (resource.getSpec() != null && resource.getSpec().isCancelRequested()) {
            written |= cancelLocked(entry, "cancelled by request");
          }
          if (written) {
            changed.add(key);
          }
          return null;
        });
  }

  /**
   * Whether this exact resource (same UID and generation) is tracked already, as a task submitted
   * over REST is before the informer reports it, or finished and stored since; reconciling it again
   * would change nothing.
   */
  public boolean tracks(VeraTask resource) {
    TaskKey key =
        new TaskKey(resource.getMetadata().getNamespace(), resource.getMetadata().getName());
    if (dropped.getIfPresent(resource.getMetadata().getUid()) != null) {
      return true;
    }
    return locked(
        () -> {
          TaskEntry entry = tasks.get(key);
          return entry != null
              && entry.uid.equals(resource.getMetadata().getUid())
              && Objects.equals(entry.generation, resource.getMetadata().getGeneration());
        });
  }

  /** Puts a newly seen task in the state its status records; returns true if that changed it. */
  private boolean restore(TaskEntry entry, VeraTaskStatus status) {
    Optional<TaskError> invalid = admission.invalid(entry);
    if (invalid.isPresent()) {
      finishLocked(entry, TaskPhase.Failed, null, invalid.get());
      return true;
    }
    TaskPhase phase = status == null || status.phase == null ? TaskPhase.Pending : status.phase;
    TaskAdmission.readRecorded(entry, status);
    if (phase.isFinished()) {
      // Finished before this process saw it (by an older operator, or created so): writing it
      // marks it finished, so it leaves the informers and this dispatcher.
      entry.phase = phase;
      return true;
    }
    if (phase == TaskPhase.Running) {
      Instant expiry = TaskAdmission.parse(status.leaseExpireTime);
      boolean remote = status.worker != null && !status.worker.startsWith(EMBEDDED_WORKER_PREFIX);
      if (remote && status.leaseId != null && expiry != null && expiry.isAfter(clock.instant())) {
        // A worker pod may still be running it and will renew against this process.
        entry.phase = TaskPhase.Running;
        entry.worker = status.worker;
        entry.leaseId = status.leaseId;
        entry.leaseExpiry = expiry;
        entry.deadline =
            entry.startedAt == null ? null : entry.startedAt.plusSeconds(entry.timeoutSeconds);
        entry.pool = resolvePool(entry);
        if (entry.pool != null) {
          pools.get(entry.pool).running++;
        }
        leases.put(entry.leaseId, entry);
        scheduleDeadline(entry);
        return false;
      }
      // The attempt died with its worker (or with the previous operator process).
      attemptFailedLocked(
          entry,
          new TaskError(
              TaskError.LEASE_EXPIRED,
              "the worker running attempt " + entry.attempts + " stopped renewing its lease"),
          true);
      return true;
    }
    Instant retryAt = status == null ? null : TaskAdmission.parse(status.nextRetryTime);
    if (retryAt != null && retryAt.isAfter(clock.instant())) {
      entry.phase = TaskPhase.Queued;
      entry.nextRetryAt = retryAt;
      entry.pool = resolvePool(entry);
      scheduleRetry(entry, Duration.between(clock.instant(), retryAt));
      return false;
    }
    if (resolvePool(entry) == null) {
      entry.phase = TaskPhase.Pending;
      entry.pendingReason = noPoolReason(entry);
      outbox.add(new TaskEvent(TaskEvent.Type.SUBMITTED, entry.snapshot()));
      return true;
    }
    boolean wasQueued = phase == TaskPhase.Queued;
    enqueue(entry);
    if (!wasQueued) {
      outbox.add(new TaskEvent(TaskEvent.Type.SUBMITTED, entry.snapshot()));
    }
    return !wasQueued;
  }

  /**
   * The resource is gone, or no longer watched because it is marked finished: the task leaves the
   * queue and any running attempt is interrupted.
   */
  public void forget(TaskKey key, String uid) {
    locked(
        () -> {
          TaskEntry entry = tasks.get(key);
          if (entry != null && (uid == null || entry.uid.equals(uid))) {
            dropLocked(entry);
          }
          return null;
        });
    if (uid != null) {
      // After the lock: a concurrent stored() has put its mark by now, and no event follows this.
      dropped.invalidate(uid);
    }
    drainOutbox();
  }

  private void dropLocked(TaskEntry entry) {
    tasks.remove(entry.key);
    if (entry.pool != null && pools.containsKey(entry.pool)) {
      PoolQueue pool = pools.get(entry.pool);
      if (pool.queued.remove(entry)) {
        pool.available.signalAll();
      }
      if (entry.phase == TaskPhase.Running) {
        pool.running--;
      }
    }
    revokeLocked(entry);
    List<CompletableFuture<TaskSnapshot>> pending = waiters.remove(entry.key);
    if (pending != null) {
      TaskSnapshot last = entry.snapshot();
      answers.add(() -> pending.forEach(f -> f.complete(last)));
    }
  }

  /**
   * The end of a finished task is stored and the task marked finished: it is dropped, so that the
   * dispatcher holds only the tasks in flight. Waiters were answered when it finished.
   */
  public void stored(TaskKey key, String uid) {
    mutate(
        changed -> {
          TaskEntry entry = tasks.get(key);
          if (entry != null && entry.uid.equals(uid) && entry.phase.isFinished()) {
            dropped.put(uid, Boolean.TRUE);
            dropLocked(entry);
          }
          return null;
        });
  }

  /** Tasks this dispatcher holds: the queued, running and waiting ones, and the just finished. */
  @Override
  public int size() {
    return locked(
        () -> {
          return tasks.size();
        });
  }

  /**
   * How a task resource this dispatcher does not hold reads: its spec with the defaults the
   * dispatcher would apply, and the state its status records. Nothing is queued or kept.
   */
  @Override
  public TaskSnapshot view(VeraTask resource) {
    return admission.view(resource);
  }

  @Override
  public Optional<TaskSnapshot> get(TaskKey key) {
    return locked(
        () -> {
          return Optional.ofNullable(tasks.get(key)).map(TaskEntry::snapshot);
        });
  }

  /** Tasks that match a filter, newest first. */
  @Override
  public List<TaskSnapshot> list(Predicate<TaskSnapshot> filter) {
    return matching(false, filter);
  }

  /**
   * Tasks not yet finished that match a filter, newest first. Finished tasks, usually nearly all of
   * those kept, are passed over before they are copied, so a caller that looks often (the compute
   * autoscaler, every round) holds the dispatcher's lock only briefly.
   */
  @Override
  public List<TaskSnapshot> unfinished(Predicate<TaskSnapshot> filter) {
    return matching(true, filter);
  }

  private List<TaskSnapshot> matching(boolean unfinishedOnly, Predicate<TaskSnapshot> filter) {
    List<TaskSnapshot> all =
        locked(
            () -> {
              List<TaskSnapshot> copies = new ArrayList<>();
              for (TaskEntry entry : tasks.values()) {
                if (!unfinishedOnly || !entry.phase.isFinished()) {
                  copies.add(entry.snapshot());
                }
              }
              return copies;
            });
    return all.stream()
        .filter(filter)
        .sorted(
            Comparator.comparing(TaskSnapshot::createdAt)
                .thenComparing(s -> s.key().name())
                .reversed())
        .toList();
  }

  /** Completes when the task finishes or disappears; immediately if it already has. */
  @Override
  public CompletableFuture<TaskSnapshot> awaitFinished(TaskKey key) {
    return locked(
        () -> {
          TaskEntry entry = tasks.get(key);
          if (entry == null || entry.phase.isFinished()) {
            return CompletableFuture.completedFuture(entry == null ? null : entry.snapshot());
          }
          List<CompletableFuture<TaskSnapshot>> list =
              waiters.computeIfAbsent(key, k -> new ArrayList<>());
          list.removeIf(CompletableFuture::isDone);
          CompletableFuture<TaskSnapshot> future = new CompletableFuture<>();
          list.add(future);
          return future;
        });
  }

  /** Result of a cancel request. */
  public enum CancelOutcome {
    CANCELLED,
    ALREADY_FINISHED,
    NOT_FOUND
  }

  public CancelOutcome cancel(TaskKey key, String reason) {
    return mutate(
        changed -> {
          TaskEntry entry = tasks.get(key);
          if (entry == null) {
            return CancelOutcome.NOT_FOUND;
          }
          if (entry.phase.isFinished()) {
            return entry.phase == TaskPhase.Cancelled
                ? CancelOutcome.CANCELLED
                : CancelOutcome.ALREADY_FINISHED;
          }
          cancelLocked(entry, reason);
          changed.add(key);
          return CancelOutcome.CANCELLED;
        });
  }

  private boolean cancelLocked(TaskEntry entry, String reason) {
    entry.cancelRequested = true;
    if (entry.phase.isFinished()) {
      return false;
    }
    leaveQueueOrRun(entry);
    finishLocked(entry, TaskPhase.Cancelled, null, new TaskError("Cancelled", reason));
    return true;
  }

  // ---- leasing -------------------------------------------------------------------------------

  /**
   * Waits up to {@code maxWait} for the next task of a pool and leases it to a worker. Returns
   * empty when none came, when the pool is suspended or unknown, or while CPU use is at or above
   * the pool's threshold and the pool already runs a task.
   *
   * @param onRevoke run (outside the lock) when the dispatcher takes the lease back; in-process
   *     workers interrupt the attempt with it, remote workers pass null and learn it on renewal
   */
  @Override
  public Optional<Lease> lease(
      PoolKey poolKey,
      String workerId,
      Duration maxWait,
      DoubleSupplier cpuPercent,
      Runnable onRevoke)
      throws InterruptedException {
    return lease(poolKey, workerId, maxWait, cpuPercent, onRevoke, null);
  }

  /**
   * Like {@link #lease(PoolKey, String, Duration, DoubleSupplier, Runnable)}, but takes the first
   * task in queue order that {@code accepts} allows, so a worker that cannot run every task of a
   * shared queue (a ComputeResource too small for some) leaves those for others.
   */
  @Override
  public Optional<Lease> lease(
      PoolKey poolKey,
      String workerId,
      Duration maxWait,
      DoubleSupplier cpuPercent,
      Runnable onRevoke,
      Predicate<TaskSnapshot> accepts)
      throws InterruptedException {
    long remaining = maxWait.toNanos();
    Lease lease;
    lock.lockInterruptibly();
    try {
      while (true) {
        PoolQueue pool = pools.get(poolKey);
        if (pool == null) {
          return Optional.empty();
        }
        boolean paused = pool.settings.suspended();
        // Above the CPU threshold a pool keeps one task running, so it slows down but never stalls.
        if (!paused
            && !pool.queued.isEmpty()
            && pool.running > 0
            && pool.settings.pausesAt(cpuPercent.getAsDouble())) {
          pool.cpuPausedAt = clock.instant();
          paused = true;
        }
        TaskEntry entry = paused ? null : nextAccepted(pool, accepts);
        if (entry != null) {
          lease = startLocked(pool, entry, workerId, onRevoke);
          outbox.add(new TaskEvent(TaskEvent.Type.STARTED, entry.snapshot()));
          break;
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
    statusSink.statusChanged(lease.task().key());
    drainOutbox();
    return Optional.of(lease);
  }

  /** Takes the first queued task in order that the worker accepts, or null. */
  private TaskEntry nextAccepted(PoolQueue pool, Predicate<TaskSnapshot> accepts) {
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

  private Lease startLocked(PoolQueue pool, TaskEntry entry, String workerId, Runnable onRevoke) {
    Instant now = clock.instant();
    entry.phase = TaskPhase.Running;
    entry.attempts++;
    entry.worker = workerId;
    entry.leaseId = UUID.randomUUID().toString();
    entry.leaseExpiry = now.plusSeconds(pool.settings.leaseSeconds());
    entry.startedAt = now;
    entry.deadline = now.plusSeconds(entry.timeoutSeconds);
    entry.nextRetryAt = null;
    entry.onRevoke = onRevoke;
    entry.confirmBy = onRevoke == null ? now.plus(settings.leaseConfirmWindow()) : null;
    entry.pendingReason = null;
    entry.progress = null;
    entry.progressPublishedAt = null;
    entry.progressFlushScheduled = false;
    pool.running++;
    leases.put(entry.leaseId, entry);
    scheduleDeadline(entry);
    return new Lease(entry.leaseId, entry.snapshot(), entry.deadline, entry.leaseExpiry);
  }

  private void scheduleDeadline(TaskEntry entry) {
    if (entry.deadline == null) {
      return;
    }
    String leaseId = entry.leaseId;
    entry.deadlineTimer =
        timers.after(Duration.between(clock.instant(), entry.deadline), () -> onDeadline(leaseId));
  }

  private void onDeadline(String leaseId) {
    onLease(
        leaseId,
        entry ->
            attemptFailedLocked(
                entry,
                new TaskError(
                    TaskError.TIMEOUT,
                    "attempt "
                        + entry.attempts
                        + " exceeded its timeout of "
                        + entry.timeoutSeconds
                        + "s"),
                true));
  }

  /** The pool of a lease this dispatcher holds; lets the REST layer authorize its worker. */
  @Override
  public Optional<PoolKey> leasePool(String leaseId) {
    return locked(
        () -> {
          TaskEntry entry = leases.get(leaseId);
          return entry == null ? Optional.empty() : Optional.ofNullable(entry.pool);
        });
  }

  /** Extends a lease; false when it was revoked, so the worker must stop the attempt. */
  @Override
  public Optional<Instant> renew(String leaseId) {
    return locked(
        () -> {
          TaskEntry entry = leases.get(leaseId);
          if (entry == null) {
            return Optional.empty();
          }
          PoolQueue pool = entry.pool == null ? null : pools.get(entry.pool);
          int seconds = pool == null ? 30 : pool.settings.leaseSeconds();
          entry.confirmBy = null;
          entry.leaseExpiry = clock.instant().plusSeconds(seconds);
          return Optional.of(entry.leaseExpiry);
        });
  }

  /**
   * Records the running attempt's progress; false when the lease is unknown (revoked or expired).
   * The latest report is kept at once; it is published (a {@code PROGRESS} event and a status
   * write) at most once per {@link #PROGRESS_INTERVAL} per task, the last report of an interval at
   * its end, so a handler that reports in a tight loop costs one status write a second.
   */
  @Override
  public boolean progress(String leaseId, double fraction, String message) {
    return mutate(
        changed -> {
          TaskEntry entry = leases.get(leaseId);
          if (entry == null) {
            return false;
          }
          Instant now = clock.instant();
          entry.progress = new TaskProgress(fraction, message, now);
          if (entry.progressFlushScheduled) {
            return true;
          }
          Instant due =
              entry.progressPublishedAt == null
                  ? now
                  : entry.progressPublishedAt.plus(PROGRESS_INTERVAL);
          if (now.isBefore(due)) {
            entry.progressFlushScheduled = true;
            timers.after(Duration.between(now, due), () -> publishProgress(leaseId));
            return true;
          }
          publishProgressLocked(entry);
          changed.add(entry.key);
          return true;
        });
  }

  private void publishProgress(String leaseId) {
    onLease(leaseId, this::publishProgressLocked);
  }

  private void publishProgressLocked(TaskEntry entry) {
    entry.progressFlushScheduled = false;
    entry.progressPublishedAt = clock.instant();
    outbox.add(new TaskEvent(TaskEvent.Type.PROGRESS, entry.snapshot()));
  }

  /** Records a successful attempt; false when the lease had already been revoked. */
  @Override
  public boolean complete(String leaseId, JsonNode result) {
    return complete(leaseId, result, null);
  }

  /** Like {@link #complete(String, JsonNode)}, with the provider usage the attempt recorded. */
  @Override
  public boolean complete(String leaseId, JsonNode result, TaskUsage usage) {
    int size = sizeOf(result);
    if (size > settings.maxResultBytes()) {
      return fail(
          leaseId,
          new TaskError(
              TaskError.RESULT_TOO_LARGE,
              "the result is "
                  + size
                  + " bytes; results are capped at "
                  + settings.maxResultBytes()
                  + " bytes"),
          false);
    }
    return onLease(
        leaseId,
        entry -> {
          leaveQueueOrRun(entry);
          if (usage != null) {
            entry.usage = usage;
          }
          finishLocked(entry, TaskPhase.Succeeded, result, null);
        });
  }

  /** Records a failed attempt, retried if it may be and retries remain; false if revoked. */
  @Override
  public boolean fail(String leaseId, TaskError error, boolean retryable) {
    return fail(leaseId, error, retryable, null);
  }

  /**
   * Like {@link #fail(String, TaskError, boolean)}, but a retry waits at least {@code retryAfter}
   * (an upstream's Retry-After), within the task's maximum backoff.
   */
  @Override
  public boolean fail(String leaseId, TaskError error, boolean retryable, Duration retryAfter) {
    return onLease(
        leaseId,
        entry -> {
          entry.retryAfter = retryAfter;
          attemptFailedLocked(entry, error, retryable);
        });
  }

  /**
   * Hands a leased task back unharmed, as a worker that is shutting down does: it queues again at
   * its place and the attempt does not count against its retries. False if the lease was revoked.
   */
  @Override
  public boolean release(String leaseId) {
    return onLease(leaseId, this::returnUnconfirmedLocked);
  }

  /**
   * Applies a worker's report to the task its lease holds, under the lock, then writes its status
   * and publishes its events; false when the lease is unknown (expired or revoked).
   */
  private boolean onLease(String leaseId, Consumer<TaskEntry> change) {
    return mutate(
        changed -> {
          TaskEntry entry = leases.get(leaseId);
          if (entry == null) {
            return false;
          }
          change.accept(entry);
          changed.add(entry.key);
          return true;
        });
  }

  /**
   * The one way state changes: runs {@code change} under the lock, then, outside it, writes the
   * status of every task the change added to its list and delivers the events and answers it
   * queued. Status writes and listeners never run under the lock, so a slow one cannot hold up
   * leases and completions.
   */
  private <T> T mutate(Function<List<TaskKey>, T> change) {
    List<TaskKey> changed = new ArrayList<>(1);
    T outcome = locked(() -> change.apply(changed));
    changed.forEach(statusSink::statusChanged);
    drainOutbox();
    return outcome;
  }

  /** Reads or changes state under the lock, with no status write or event of its own. */
  private <T> T locked(Supplier<T> action) {
    lock.lock();
    try {
      return action.get();
    } finally {
      lock.unlock();
    }
  }

  private int sizeOf(JsonNode result) {
    try {
      return result == null ? 4 : mapper.writeValueAsBytes(result).length;
    } catch (Exception e) {
      return Integer.MAX_VALUE;
    }
  }

  private void attemptFailedLocked(TaskEntry entry, TaskError error, boolean retryable) {
    leaveQueueOrRun(entry);
    entry.error = error;
    if (retryable && entry.attempts <= entry.retryLimit && !entry.cancelRequested) {
      long backoff = (long) entry.backoffSeconds << Math.min(20, Math.max(0, entry.attempts - 1));
      Duration delay = Duration.ofSeconds(Math.min(entry.maxBackoffSeconds, backoff));
      if (entry.retryAfter != null && entry.retryAfter.compareTo(delay) > 0) {
        delay = min(entry.retryAfter, Duration.ofSeconds(entry.maxBackoffSeconds));
      }
      entry.phase = TaskPhase.Queued;
      entry.worker = null;
      entry.nextRetryAt = clock.instant().plus(delay);
      entry.queuedAt = clock.instant();
      entry.pool = resolvePool(entry);
      outbox.add(new TaskEvent(TaskEvent.Type.RETRYING, entry.snapshot()));
      scheduleRetry(entry, delay);
    } else {
      finishLocked(entry, TaskPhase.Failed, null, error);
    }
    entry.retryAfter = null;
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  private void scheduleRetry(TaskEntry entry, Duration delay) {
    String uid = entry.uid;
    int attempts = entry.attempts;
    timers.after(
        delay,
        () ->
            mutate(
                changed -> {
                  TaskEntry current = tasks.get(entry.key);
                  if (current == entry
                      && current.uid.equals(uid)
                      && current.attempts == attempts
                      && current.phase == TaskPhase.Queued
                      && current.nextRetryAt != null) {
                    current.nextRetryAt = null;
                    if (resolvePool(current) != null) {
                      enqueue(current);
                    } else {
                      current.phase = TaskPhase.Pending;
                      current.pendingReason = noPoolReason(current);
                    }
                    changed.add(entry.key);
                  }
                  return null;
                }));
  }

  /** Takes a task out of its queue or running set and revokes its lease. */
  private void leaveQueueOrRun(TaskEntry entry) {
    PoolQueue pool = entry.pool == null ? null : pools.get(entry.pool);
    if (entry.phase == TaskPhase.Running) {
      if (pool != null) {
        pool.running--;
        pool.available.signalAll();
      }
      revokeLocked(entry);
    } else if (pool != null) {
      pool.queued.remove(entry);
    }
    entry.nextRetryAt = null;
  }

  private void revokeLocked(TaskEntry entry) {
    if (entry.leaseId != null) {
      leases.remove(entry.leaseId);
      entry.leaseId = null;
      entry.leaseExpiry = null;
      entry.deadline = null;
    }
    if (entry.deadlineTimer != null) {
      entry.deadlineTimer.cancel(false);
      entry.deadlineTimer = null;
    }
    Runnable hook = entry.onRevoke;
    entry.onRevoke = null;
    if (hook != null) {
      timers.run(hook);
    }
  }

  private void finishLocked(TaskEntry entry, TaskPhase phase, JsonNode result, TaskError error) {
    boolean wasRunning = entry.startedAt != null && entry.attempts > 0;
    entry.phase = phase;
    entry.result = result;
    entry.error = error;
    entry.completedAt = clock.instant();
    entry.pendingReason = null;
    if (phase == TaskPhase.Succeeded && entry.progress != null) {
      entry.progress = new TaskProgress(1, entry.progress.message(), entry.completedAt);
    }
    PoolQueue pool = entry.pool == null ? null : pools.get(entry.pool);
    if (pool != null && wasRunning) {
      if (phase == TaskPhase.Succeeded) {
        pool.succeeded++;
      } else if (phase == TaskPhase.Failed) {
        pool.failed++;
      }
    }
    TaskEvent.Type type =
        switch (phase) {
          case Succeeded -> TaskEvent.Type.COMPLETED;
          case Cancelled -> TaskEvent.Type.CANCELLED;
          default -> TaskEvent.Type.FAILED;
        };
    TaskSnapshot snapshot = entry.snapshot();
    outbox.add(new TaskEvent(type, snapshot));
    List<CompletableFuture<TaskSnapshot>> pending = waiters.remove(entry.key);
    if (pending != null) {
      answers.add(() -> pending.forEach(f -> f.complete(snapshot)));
    }
  }

  private void enqueue(TaskEntry entry) {
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

  /**
   * The pool a task belongs to: its own queue, else the first pool of its type in its namespace.
   */
  private PoolKey resolvePool(TaskEntry entry) {
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

  private static String noPoolReason(TaskEntry entry) {
    String namespace = entry.key.namespace();
    if (entry.queue == null) {
      return "no WorkerPool for task type " + entry.taskType + " in namespace " + namespace;
    }
    return switch (entry.queue.kind()) {
      case PROVIDER ->
          "Provider "
              + entry.queue.target()
              + " does not exist in namespace "
              + namespace
              + " or is not callable (Docker and Proxmox providers take no calls)";
      case COMPUTE_ALLOCATION ->
          "no Available ComputeResource of task type "
              + entry.taskType
              + " in namespace "
              + namespace;
      case COMPUTE_RESOURCE ->
          "ComputeResource " + entry.queue.target() + " is not Available in namespace " + namespace;
      case WORKER_POOL ->
          "WorkerPool " + entry.queue.target() + " does not exist in namespace " + namespace;
    };
  }

  // ---- timers --------------------------------------------------------------------------------

  /** Attempts whose worker stopped renewing are failed (and retried as their policy allows). */
  private void expireLeases() {
    mutate(
        changed -> {
          try {
            Instant now = clock.instant();
            for (Iterator<TaskEntry> it = new ArrayList<>(leases.values()).iterator();
                it.hasNext(); ) {
              TaskEntry entry = it.next();
              if (entry.confirmBy != null && entry.confirmBy.isBefore(now)) {
                LOG.info(
                    "worker {} never confirmed its lease of task {}; queueing it again",
                    entry.worker,
                    entry.key);
                returnUnconfirmedLocked(entry);
                changed.add(entry.key);
              } else if (entry.onRevoke == null
                  && entry.leaseExpiry != null
                  && entry.leaseExpiry.isBefore(now)) {
                LOG.info(
                    "lease of task {} held by {} expired; the attempt counts as failed",
                    entry.key,
                    entry.worker);
                attemptFailedLocked(
                    entry,
                    new TaskError(
                        TaskError.LEASE_EXPIRED,
                        "worker " + entry.worker + " stopped renewing its lease"),
                    true);
                changed.add(entry.key);
              }
            }
          } catch (RuntimeException e) {
            LOG.error("lease expiry check failed", e);
          }
          return null;
        });
  }

  /** Undoes a lease the worker never confirmed: the task queues again as if never leased. */
  private void returnUnconfirmedLocked(TaskEntry entry) {
    leaveQueueOrRun(entry);
    entry.attempts--;
    entry.worker = null;
    entry.startedAt = null;
    entry.confirmBy = null;
    entry.phase = TaskPhase.Pending;
    if (resolvePool(entry) != null) {
      enqueue(entry);
    } else {
      entry.pendingReason = noPoolReason(entry);
    }
  }

  /**
   * While a pool is paused by its CPU threshold, queued tasks that waited longer than their own
   * timeout fail with reason Timeout, so a threshold the machine never drops below cannot hold a
   * task forever.
   */
  private void failTasksStarvedByCpu() {
    mutate(
        changed -> {
          try {
            Instant now = clock.instant();
            for (PoolQueue pool : pools.values()) {
              if (pool.cpuPausedAt == null || pool.cpuPausedAt.isBefore(now.minusSeconds(3))) {
                continue;
              }
              for (TaskEntry entry : new ArrayList<>(pool.queued)) {
                if (entry.queuedAt != null
                    && entry.queuedAt.plusSeconds(entry.timeoutSeconds).isBefore(now)) {
                  pool.queued.remove(entry);
                  finishLocked(
                      entry,
                      TaskPhase.Failed,
                      null,
                      new TaskError(
                          TaskError.TIMEOUT,
                          "waited more than "
                              + entry.timeoutSeconds
                              + "s in queue while CPU use stayed at or above the pool's threshold of "
                              + pool.settings.cpuThresholdPercent()
                              + "%"));
                  changed.add(entry.key);
                }
              }
            }
          } catch (RuntimeException e) {
            LOG.error("CPU starvation check failed", e);
          }
          return null;
        });
  }

  /**
   * A resource task that waited for a ComputeResource longer than its own timeout (counted from
   * when it was last queued, else created) fails with reason Timeout and says what it waited for,
   * so a {@code minimum} no resource can meet, or a resource that never becomes Available, cannot
   * hold it Pending forever.
   */
  private void failResourceTasksNeverPlaced() {
    mutate(
        changed -> {
          try {
            Instant now = clock.instant();
            for (TaskEntry entry : new ArrayList<>(tasks.values())) {
              Instant waitingSince = entry.queuedAt != null ? entry.queuedAt : entry.createdAt;
              if (entry.queue == null
                  || !entry.queue.isCompute()
                  || (entry.phase != TaskPhase.Pending && entry.phase != TaskPhase.Queued)
                  || waitingSince == null
                  || !waitingSince.plusSeconds(entry.timeoutSeconds).isBefore(now)) {
                continue;
              }
              String waitedFor =
                  entry.pendingReason != null
                      ? entry.pendingReason
                      : "no ComputeResource covering its minimum became free";
              if (entry.pool != null && pools.containsKey(entry.pool)) {
                pools.get(entry.pool).queued.remove(entry);
              }
              finishLocked(
                  entry,
                  TaskPhase.Failed,
                  null,
                  new TaskError(
                      TaskError.TIMEOUT,
                      "waited more than "
                          + entry.timeoutSeconds
                          + "s for a resource: "
                          + waitedFor));
              changed.add(entry.key);
            }
          } catch (RuntimeException e) {
            LOG.error("resource task placement check failed", e);
          }
          return null;
        });
  }

  /**
   * Delivers queued events to the listeners. Events enter the outbox under the dispatcher's lock,
   * so they leave it in the order the transitions happened, whichever thread drains it.
   */
  private void drainOutbox() {
    Runnable answer;
    while ((answer = answers.poll()) != null) {
      answer.run();
    }
    while (!outbox.isEmpty()) {
      if (!publishing.tryLock()) {
        return; // the thread holding it drains, and checks again after letting go
      }
      try {
        TaskEvent event;
        while ((event = outbox.poll()) != null) {
          for (TaskListener listener : listeners) {
            try {
              listener.onTaskEvent(event);
            } catch (RuntimeException e) {
              LOG.warn("task listener {} failed on {}", listener, event.type(), e);
            }
          }
        }
      } finally {
        publishing.unlock();
      }
    }
  }

  @Override
  public void close() {
    timers.close();
  }
}
