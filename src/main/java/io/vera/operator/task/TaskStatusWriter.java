package io.vera.operator.task;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.kube.StatusWrites;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.DelayQueue;
import java.util.concurrent.Delayed;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes task status back to the VeraTask resources, asynchronously and coalesced: a task that
 * changes several times before its write goes out gets one write of its latest state, and two
 * writes of one task never race. Writes are JSON patches of the status subresource, so they never
 * conflict with a user's edits of the spec.
 *
 * <p>A final state (Succeeded, Failed, Cancelled) goes out before every intermediate write waiting
 * in the queue, without the coalescing delay: under a burst the intermediate writes lag, and a
 * finished task whose end is not yet stored would run again if the operator died meanwhile. The
 * intermediate write it supersedes is dropped when its turn comes.
 *
 * <p>A final state is followed by a second write, of the resource's labels ({@link
 * FinishedTaskLabels}): the status subresource ignores metadata, and the resource ignores status,
 * so one write cannot do both. Status first, so a task is never marked finished before its end is
 * stored; an operator that dies in between finds the task unmarked and marks it on restart. Once
 * marked, the task leaves the dispatcher and the informers.
 */
public final class TaskStatusWriter implements TaskStatusSink, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TaskStatusWriter.class);

  /**
   * Per task: whether a write is queued (as an intermediate or a final state), in flight, or in
   * flight with a newer change waiting.
   */
  private enum WriteState {
    QUEUED,
    QUEUED_FINAL,
    IN_FLIGHT,
    IN_FLIGHT_DIRTY
  }

  private final KubernetesClient client;
  private final ObjectMapper mapper = Serialization.jsonMapper();
  private final Map<TaskKey, WriteState> states = new ConcurrentHashMap<>();
  private final Set<TaskKey> unwrittenFinals = ConcurrentHashMap.newKeySet();

  /**
   * A task whose status should be written once {@code notBeforeNanos} has passed; final states come
   * out of the queue before every intermediate one.
   */
  private record Pending(TaskKey key, boolean finalState, long notBeforeNanos) implements Delayed {
    @Override
    public long getDelay(TimeUnit unit) {
      return finalState
          ? 0
          : unit.convert(notBeforeNanos - System.nanoTime(), TimeUnit.NANOSECONDS);
    }

    @Override
    public int compareTo(Delayed other) {
      Pending that = (Pending) other;
      if (finalState != that.finalState) {
        return finalState ? -1 : 1;
      }
      return Long.compare(notBeforeNanos - that.notBeforeNanos, 0);
    }
  }

  private final DelayQueue<Pending> queue = new DelayQueue<>();
  private final long coalesceNanos;
  private final ExecutorService writers;
  private final ScheduledExecutorService retries;
  private final AtomicInteger failuresInARow = new AtomicInteger();
  private volatile TaskStatusSource dispatcher;
  private final List<Consumer<TaskSnapshot>> markedFinished = new CopyOnWriteArrayList<>();
  private volatile boolean closed;

  /**
   * Per task in flight, the latest state whose status write the API server acknowledged: what a
   * restart would find. REST answers show this, never a state that a crash could still take back.
   */
  private final Map<TaskKey, TaskSnapshot> written = new ConcurrentHashMap<>();

  /** Answers waiting for a task's finished state to be written. */
  private final Map<TaskKey, CompletableFuture<Void>> finalWritten = new ConcurrentHashMap<>();

  /**
   * @param coalesceWindow how long a change waits before it is written, so the further changes of a
   *     short task (queued, running, finished) go out as one write
   */
  public TaskStatusWriter(KubernetesClient client, int threads, Duration coalesceWindow) {
    this.client = client;
    this.coalesceNanos = coalesceWindow.toNanos();
    AtomicInteger n = new AtomicInteger();
    this.writers =
        Executors.newFixedThreadPool(
            threads,
            r -> {
              Thread t = new Thread(r, "task-status-writer-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    this.retries =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "task-status-retry");
              t.setDaemon(true);
              return t;
            });
    for (int i = 0; i < threads; i++) {
      writers.execute(this::drain);
    }
    // Tasks that left the dispatcher without a last write (deleted while in flight).
    retries.scheduleWithFixedDelay(this::forgetGoneTasks, 60, 60, TimeUnit.SECONDS);
  }

  /** The dispatcher whose state is written; set once, before any task is tracked. */
  public void attach(TaskStatusSource dispatcher) {
    this.dispatcher = dispatcher;
  }

  /** Told after a finished task was marked so, with the state that was written. */
  public void onMarkedFinished(Consumer<TaskSnapshot> listener) {
    markedFinished.add(listener);
  }

  @Override
  public void statusChanged(TaskKey key) {
    boolean finalState = isFinal(key);
    boolean[] enqueue = {false};
    states.compute(
        key,
        (k, state) -> {
          if (state == null || state == WriteState.QUEUED && finalState) {
            enqueue[0] = true;
            return finalState ? WriteState.QUEUED_FINAL : WriteState.QUEUED;
          }
          return state == WriteState.IN_FLIGHT ? WriteState.IN_FLIGHT_DIRTY : state;
        });
    if (enqueue[0]) {
      enqueue(key, finalState);
    }
  }

  private void enqueue(TaskKey key, boolean finalState) {
    if (finalState) {
      unwrittenFinals.add(key);
    }
    queue.add(new Pending(key, finalState, System.nanoTime() + (finalState ? 0 : coalesceNanos)));
  }

  private boolean isFinal(TaskKey key) {
    TaskStatusSource source = dispatcher;
    return source != null
        && source.get(key).map(t -> t.phase() != null && t.phase().isFinished()).orElse(false);
  }

  /**
   * How a task in flight reads from what is stored: its latest written state; before its first
   * write, the task as submitted (queued, no attempt). Never ahead of the store, so a task answered
   * as finished (or running, with its attempts) is so after a crash too.
   */
  TaskSnapshot storedView(TaskSnapshot current) {
    TaskSnapshot stored = written.get(current.key());
    if (stored != null && stored.uid().equals(current.uid())) {
      return stored;
    }
    return asSubmitted(current);
  }

  /**
   * Completes once the finished state of a task is written, or once the task is no longer in flight
   * (written and marked, or deleted): then the stored state is its end.
   */
  CompletableFuture<Void> awaitFinalWritten(TaskKey key) {
    CompletableFuture<Void> future =
        finalWritten.computeIfAbsent(key, k -> new CompletableFuture<>());
    TaskStatusSource source = dispatcher;
    TaskSnapshot stored = written.get(key);
    if (source == null
        || source.get(key).isEmpty()
        || stored != null && stored.phase() != null && stored.phase().isFinished()) {
      releaseFinalWaiters(key);
    }
    return future;
  }

  private void releaseFinalWaiters(TaskKey key) {
    CompletableFuture<Void> waiting = finalWritten.remove(key);
    if (waiting != null) {
      waiting.complete(null);
    }
  }

  private void forgetGoneTasks() {
    TaskStatusSource source = dispatcher;
    if (source != null) {
      written.keySet().removeIf(key -> source.get(key).isEmpty());
    }
  }

  private static TaskSnapshot asSubmitted(TaskSnapshot t) {
    TaskPhase phase = t.phase() == TaskPhase.Pending ? TaskPhase.Pending : TaskPhase.Queued;
    return new TaskSnapshot(
        t.key(),
        t.uid(),
        t.handler(),
        t.priority(),
        t.taskType(),
        t.pool(),
        t.description(),
        t.payload(),
        t.context(),
        phase,
        t.pendingReason(),
        0,
        t.maxRetries(),
        t.timeoutSeconds(),
        null,
        null,
        null,
        t.createdAt(),
        t.queuedAt(),
        null,
        null,
        null,
        null,
        null,
        null,
        t.ttlSecondsAfterFinished(),
        t.observedGeneration(),
        null);
  }

  /** Number of tasks with a status change not yet written; zero once the writer caught up. */
  public int backlog() {
    return states.size();
  }

  /**
   * Number of finished tasks whose end is not stored yet: what an operator crash now would run
   * again. Workers hold back new leases while it is high.
   */
  public int unwrittenFinals() {
    return unwrittenFinals.size();
  }

  private void drain() {
    while (!closed) {
      Pending pending;
      try {
        pending = queue.poll(200, TimeUnit.MILLISECONDS);
        if (pending == null) {
          continue;
        }
      } catch (InterruptedException e) {
        return;
      }
      TaskKey key = pending.key();
      // A task has one write queued, except an intermediate one overtaken by its final state:
      // whichever entry comes out first writes the latest state, the other finds nothing to do.
      boolean[] claimed = {false};
      states.computeIfPresent(
          key,
          (k, state) -> {
            if (state == WriteState.QUEUED || state == WriteState.QUEUED_FINAL) {
              claimed[0] = true;
              return WriteState.IN_FLIGHT;
            }
            return state;
          });
      if (!claimed[0]) {
        continue;
      }
      if (!write(key)) {
        // Marked queued, so a change meanwhile adds no second entry before the retry's.
        long delay = Math.min(30_000, 250L << Math.min(7, failuresInARow.get()));
        boolean finalState = isFinal(key);
        states.put(key, finalState ? WriteState.QUEUED_FINAL : WriteState.QUEUED);
        try {
          retries.schedule(() -> enqueue(key, finalState), delay, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
          return; // Closed meanwhile: the change is lost like any unwritten one at shutdown.
        }
        continue;
      }
      boolean finalState = isFinal(key);
      WriteState after =
          states.compute(
              key,
              (k, state) ->
                  state == WriteState.IN_FLIGHT_DIRTY
                      ? finalState ? WriteState.QUEUED_FINAL : WriteState.QUEUED
                      : null);
      if (after != null) {
        enqueue(key, finalState);
      }
    }
  }

  private boolean write(TaskKey key) {
    TaskStatusSource source = dispatcher;
    TaskSnapshot task = source == null ? null : source.get(key).orElse(null);
    if (task == null) {
      unwrittenFinals.remove(key);
      written.remove(key);
      releaseFinalWaiters(key);
      return true;
    }
    var resource =
        client.resources(VeraTask.class).inNamespace(key.namespace()).resource(target(key));
    try {
      String status = mapper.writeValueAsString(TaskStatusMapper.toStatus(task));
      resource
          .subresource("status")
          .patch(PatchContext.of(PatchType.JSON), StatusWrites.replacing(status));
      written.put(key, task);
      if (task.phase() != null && task.phase().isFinished()) {
        releaseFinalWaiters(key);
        resource.patch(PatchContext.of(PatchType.JSON_MERGE), FinishedTaskLabels.mergePatch(task));
        unwrittenFinals.remove(key);
        source.stored(key, task.uid());
        written.remove(key, task);
        for (var listener : markedFinished) {
          try {
            listener.accept(task);
          } catch (RuntimeException e) {
            LOG.warn("listener of finished task {} failed", key, e);
          }
        }
      }
      failuresInARow.set(0);
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        unwrittenFinals.remove(key);
        source.forget(key, task.uid());
        written.remove(key);
        releaseFinalWaiters(key);
        return true;
      }
      int failures = failuresInARow.incrementAndGet();
      if (failures == 1 || failures % 100 == 0) {
        LOG.warn(
            "writing status of task {} failed ({} in a row); retrying: {}",
            key,
            failures,
            e.getMessage());
      }
      return false;
    } catch (Exception e) {
      LOG.error("writing status of task {} failed", key, e);
      return false;
    }
  }

  /**
   * The task a patch addresses, by name only: given an object, the client sends the patch straight
   * away; given just a name, it first reads the whole resource (a second request per write, a
   * quarter of this writer's time).
   */
  private static VeraTask target(TaskKey key) {
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder().withNamespace(key.namespace()).withName(key.name()).build());
    return task;
  }

  /** Waits until every pending status change is written, or the time is up; true if caught up. */
  public boolean flush(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!states.isEmpty()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(20);
    }
    return true;
  }

  @Override
  public void close() {
    closed = true;
    writers.shutdown();
    retries.shutdownNow();
  }
}
