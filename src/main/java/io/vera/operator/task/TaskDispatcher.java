package io.vera.operator.task;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.handler.HandlerRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;
import java.util.function.Function;
import java.util.function.Predicate;
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
 *
 * <p>It coordinates; the parts do the work: {@link TaskAdmission} reads a resource into a task,
 * {@link TaskQueues} holds the tasks, queues and leases behind one lock, {@link TaskTransitions}
 * says what each step of a task's life does, {@link TaskOutbox} delivers events and answers, and
 * {@link TaskTimers} fires deadlines, retries and the once-a-second checks. Every change goes
 * through {@link #mutate}: under the lock, then status writes and deliveries outside it. Callers
 * see it through narrow interfaces: {@link TaskQueueView} (reads), {@link TaskLeases} (workers),
 * {@link PoolRegistry} (owners of queues) and {@link TaskStatusSource} (the status writer).
 */
public final class TaskDispatcher
    implements TaskQueueView, TaskLeases, PoolRegistry, TaskStatusSource, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TaskDispatcher.class);

  /** How often a task's progress is published at most. */
  static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(1);

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
  private final int maxResultBytes;
  private final Clock clock;
  private final ObjectMapper mapper = new ObjectMapper();
  private final TaskQueues queues;
  private final TaskOutbox outbox = new TaskOutbox();
  private final TaskTimers timers = new TaskTimers();
  private final TaskTransitions transitions;

  /**
   * UIDs of tasks that left: dropped after their end was stored, or reported gone by the informer
   * (deleted, or marked finished). A watch that lags may still deliver their creation, and JOSDK
   * may still run a reconcile it queued with an older copy of the task (say, Running), which must
   * not queue them again: a task restored from such a copy would count its attempt as lost and end
   * Failed after it was Cancelled or Succeeded. UIDs are never reused, so a mark is never wrong; it
   * is bounded in number and time because nothing reports when the last stale event is past.
   */
  private final Cache<String, Boolean> dropped =
      Caffeine.newBuilder().maximumSize(100_000).expireAfterWrite(Duration.ofMinutes(10)).build();

  public TaskDispatcher(
      HandlerRegistry handlers, TaskStatusSink statusSink, Settings settings, Clock clock) {
    this.admission =
        new TaskAdmission(
            handlers, settings.defaultTimeoutSeconds(), settings.defaultRetries(), clock);
    this.statusSink = statusSink;
    this.maxResultBytes = settings.maxResultBytes();
    this.clock = clock;
    this.queues = new TaskQueues(clock);
    this.transitions =
        new TaskTransitions(
            queues,
            outbox,
            timers,
            admission,
            settings.leaseConfirmWindow(),
            clock,
            change ->
                mutate(
                    changed -> {
                      change.accept(changed);
                      return null;
                    }));
    TaskChecks checks = new TaskChecks(queues, transitions, clock);
    timers.everySecond(() -> check("lease expiry", checks::expireLeases));
    timers.everySecond(() -> check("CPU starvation", checks::failTasksStarvedByCpu));
    timers.everySecond(
        () -> check("resource task placement", checks::failResourceTasksNeverPlaced));
  }

  /** Timers waiting to fire (deadlines, retries, the periodic checks), for tests. */
  int pendingTimers() {
    return timers.pending();
  }

  @Override
  public void addListener(TaskListener listener) {
    outbox.addListener(listener);
  }

  // ---- pools ---------------------------------------------------------------------------------

  @Override
  public void upsertPool(
      PoolKey key, PoolSettings poolSettings, long succeededBaseline, long failedBaseline) {
    mutate(
        changed -> {
          // Only a new pool, or one that changed its task type, can be the pool a waiting task
          // lacks; the periodic resync of an unchanged pool must not scan every task.
          if (queues.upsertPool(key, poolSettings, succeededBaseline, failedBaseline)) {
            for (TaskEntry entry : queues.tasks()) {
              if (entry.phase == TaskPhase.Pending && queues.resolvePool(entry) != null) {
                queues.enqueue(entry);
                changed.add(entry.key);
              }
            }
          }
          return null;
        });
  }

  @Override
  public void removePool(PoolKey key) {
    mutate(
        changed -> {
          for (TaskEntry entry : queues.removePool(key)) {
            entry.pool = null;
            entry.phase = TaskPhase.Pending;
            entry.pendingReason = "pool " + key + " was deleted";
            if (queues.resolvePool(entry) != null) {
              queues.enqueue(entry);
            }
            changed.add(entry.key);
          }
          return null;
        });
  }

  @Override
  public List<PoolKey> pools() {
    return queues.locked(queues::poolKeys);
  }

  @Override
  public Optional<PoolStats> poolStats(PoolKey key) {
    return queues.locked(() -> queues.stats(key));
  }

  @Override
  public List<TaskSnapshot> queueOrder(PoolKey key) {
    return queues.locked(() -> queues.queueOrder(key));
  }

  // ---- tasks ---------------------------------------------------------------------------------

  /**
   * Takes in a task resource, new or already known. A new one is validated and queued (or restored
   * to the state its status records, after a restart); for a known one only a cancel request is
   * applied, because the dispatcher's own state is newer than any status it wrote.
   */
  public void track(VeraTask resource) {
    TaskKey key = keyOf(resource);
    if (dropped.getIfPresent(resource.getMetadata().getUid()) != null) {
      return; // finished and stored: a late event of its earlier life
    }
    mutate(
        changed -> {
          boolean written = false;
          TaskEntry entry = queues.task(key);
          if (entry != null && !entry.uid.equals(resource.getMetadata().getUid())) {
            transitions.drop(entry);
            entry = null;
          }
          if (entry == null) {
            entry = admission.admit(key, resource);
            queues.add(entry);
            written = transitions.restore(entry, resource.getStatus());
          }
          Long generation = resource.getMetadata().getGeneration();
          if (generation != null && !generation.equals(entry.generation)) {
            entry.generation = generation;
            written = true;
          }
          if (resource.getSpec() != null && resource.getSpec().isCancelRequested()) {
            written |= transitions.cancel(entry, "cancelled by request");
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
    if (dropped.getIfPresent(resource.getMetadata().getUid()) != null) {
      return true;
    }
    return queues.locked(
        () -> {
          TaskEntry entry = queues.task(keyOf(resource));
          return entry != null
              && entry.uid.equals(resource.getMetadata().getUid())
              && Objects.equals(entry.generation, resource.getMetadata().getGeneration());
        });
  }

  private static TaskKey keyOf(VeraTask resource) {
    return new TaskKey(resource.getMetadata().getNamespace(), resource.getMetadata().getName());
  }

  @Override
  public void forget(TaskKey key, String uid) {
    queues.locked(
        () -> {
          TaskEntry entry = queues.task(key);
          if (entry != null && (uid == null || entry.uid.equals(uid))) {
            transitions.drop(entry);
          }
          return null;
        });
    if (uid != null) {
      dropped.put(uid, Boolean.TRUE);
    }
    outbox.deliver();
  }

  /**
   * The end of a finished task is stored and the task marked finished: it is dropped, so that the
   * dispatcher holds only the tasks in flight. Waiters were answered when it finished.
   */
  @Override
  public void stored(TaskKey key, String uid) {
    mutate(
        changed -> {
          TaskEntry entry = queues.task(key);
          if (entry != null && entry.uid.equals(uid) && entry.phase.isFinished()) {
            dropped.put(uid, Boolean.TRUE);
            transitions.drop(entry);
          }
          return null;
        });
  }

  @Override
  public int size() {
    return queues.locked(queues::size);
  }

  @Override
  public TaskSnapshot view(VeraTask resource) {
    return admission.view(resource);
  }

  @Override
  public Optional<TaskSnapshot> get(TaskKey key) {
    return queues.locked(() -> Optional.ofNullable(queues.task(key)).map(TaskEntry::snapshot));
  }

  @Override
  public List<TaskSnapshot> list(Predicate<TaskSnapshot> filter) {
    return matching(false, filter);
  }

  @Override
  public List<TaskSnapshot> unfinished(Predicate<TaskSnapshot> filter) {
    return matching(true, filter);
  }

  /** Copies under the lock, then filters and sorts outside it, newest first. */
  private List<TaskSnapshot> matching(boolean unfinishedOnly, Predicate<TaskSnapshot> filter) {
    List<TaskSnapshot> all = queues.locked(() -> queues.snapshots(unfinishedOnly));
    return all.stream()
        .filter(filter)
        .sorted(
            Comparator.comparing(TaskSnapshot::createdAt)
                .thenComparing(s -> s.key().name())
                .reversed())
        .toList();
  }

  @Override
  public CompletableFuture<TaskSnapshot> awaitFinished(TaskKey key) {
    return queues.locked(
        () -> {
          TaskEntry entry = queues.task(key);
          if (entry == null || entry.phase.isFinished()) {
            return CompletableFuture.completedFuture(entry == null ? null : entry.snapshot());
          }
          return outbox.awaitEnd(key);
        });
  }

  public CancelOutcome cancel(TaskKey key, String reason) {
    return mutate(
        changed -> {
          TaskEntry entry = queues.task(key);
          if (entry == null) {
            return CancelOutcome.NOT_FOUND;
          }
          if (entry.phase.isFinished()) {
            return entry.phase == TaskPhase.Cancelled
                ? CancelOutcome.CANCELLED
                : CancelOutcome.ALREADY_FINISHED;
          }
          transitions.cancel(entry, reason);
          changed.add(key);
          return CancelOutcome.CANCELLED;
        });
  }

  // ---- leasing -------------------------------------------------------------------------------

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

  @Override
  public Optional<Lease> lease(
      PoolKey poolKey,
      String workerId,
      Duration maxWait,
      DoubleSupplier cpuPercent,
      Runnable onRevoke,
      Predicate<TaskSnapshot> accepts)
      throws InterruptedException {
    Optional<Lease> lease =
        queues.awaitNext(
            poolKey,
            maxWait,
            cpuPercent,
            accepts,
            (entry, pool) -> transitions.start(entry, pool, workerId, onRevoke));
    if (lease.isPresent()) {
      statusSink.statusChanged(lease.get().task().key());
      outbox.deliver();
    }
    return lease;
  }

  @Override
  public Optional<PoolKey> leasePool(String leaseId) {
    return queues.locked(
        () -> {
          TaskEntry entry = queues.leased(leaseId);
          return entry == null ? Optional.empty() : Optional.ofNullable(entry.pool);
        });
  }

  @Override
  public Optional<Instant> renew(String leaseId) {
    return queues.locked(
        () -> {
          TaskEntry entry = queues.leased(leaseId);
          if (entry == null) {
            return Optional.empty();
          }
          entry.confirmBy = null;
          entry.leaseExpiry = clock.instant().plusSeconds(queues.leaseSeconds(entry.pool));
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
          TaskEntry entry = queues.leased(leaseId);
          if (entry == null) {
            return false;
          }
          if (transitions.progress(entry, fraction, message, PROGRESS_INTERVAL)) {
            changed.add(entry.key);
          }
          return true;
        });
  }

  @Override
  public boolean complete(String leaseId, JsonNode result) {
    return complete(leaseId, result, null);
  }

  @Override
  public boolean complete(String leaseId, JsonNode result, TaskUsage usage) {
    int size = sizeOf(result);
    if (size > maxResultBytes) {
      return fail(
          leaseId,
          new TaskError(
              TaskError.RESULT_TOO_LARGE,
              "the result is "
                  + size
                  + " bytes; results are capped at "
                  + maxResultBytes
                  + " bytes"),
          false);
    }
    return onLease(leaseId, entry -> transitions.complete(entry, result, usage));
  }

  @Override
  public boolean fail(String leaseId, TaskError error, boolean retryable) {
    return fail(leaseId, error, retryable, null);
  }

  @Override
  public boolean fail(String leaseId, TaskError error, boolean retryable, Duration retryAfter) {
    return onLease(
        leaseId,
        entry -> {
          entry.retryAfter = retryAfter;
          transitions.attemptFailed(entry, error, retryable);
        });
  }

  @Override
  public boolean release(String leaseId) {
    return onLease(leaseId, transitions::returnUnconfirmed);
  }

  /** Applies a worker's report to the task its lease holds; false when the lease is unknown. */
  private boolean onLease(String leaseId, Consumer<TaskEntry> change) {
    return mutate(
        changed -> {
          TaskEntry entry = queues.leased(leaseId);
          if (entry == null) {
            return false;
          }
          change.accept(entry);
          changed.add(entry.key);
          return true;
        });
  }

  private int sizeOf(JsonNode result) {
    try {
      return result == null ? 4 : mapper.writeValueAsBytes(result).length;
    } catch (Exception e) {
      return Integer.MAX_VALUE;
    }
  }

  /**
   * The one way state changes: runs {@code change} under the lock, then, outside it, writes the
   * status of every task the change added to its list and delivers the events and answers it
   * queued. Status writes and listeners never run under the lock, so a slow one cannot hold up
   * leases and completions.
   */
  private <T> T mutate(Function<List<TaskKey>, T> change) {
    List<TaskKey> changed = new ArrayList<>(1);
    T outcome = queues.locked(() -> change.apply(changed));
    changed.forEach(statusSink::statusChanged);
    outbox.deliver();
    return outcome;
  }

  /** Runs one periodic check as a change; a check that throws is logged and runs again. */
  private void check(String what, Consumer<List<TaskKey>> check) {
    mutate(
        changed -> {
          try {
            check.accept(changed);
          } catch (RuntimeException e) {
            LOG.error("{} check failed", what, e);
          }
          return null;
        });
  }

  @Override
  public void close() {
    timers.close();
  }
}
