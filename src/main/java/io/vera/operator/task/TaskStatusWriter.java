package io.vera.operator.task;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.vera.operator.api.VeraTask;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes task status back to the VeraTask resources, asynchronously and coalesced: a task that
 * changes several times before its write goes out gets one write of its latest state, and two
 * writes of one task never race. Writes are JSON merge patches of the status subresource, so they
 * never conflict with a user's edits of the spec.
 */
public final class TaskStatusWriter implements TaskStatusSink, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TaskStatusWriter.class);

  /** Per task: whether a write is queued, in flight, or in flight with a newer change waiting. */
  private enum WriteState {
    QUEUED,
    IN_FLIGHT,
    IN_FLIGHT_DIRTY
  }

  private final KubernetesClient client;
  private final ObjectMapper mapper = Serialization.jsonMapper();
  private final Map<TaskKey, WriteState> states = new ConcurrentHashMap<>();

  /** A task whose status should be written once {@code notBeforeNanos} has passed. */
  private record Pending(TaskKey key, long notBeforeNanos) {}

  private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
  private final long coalesceNanos;
  private final ExecutorService writers;
  private final ScheduledExecutorService retries;
  private final AtomicInteger failuresInARow = new AtomicInteger();
  private volatile TaskDispatcher dispatcher;
  private volatile boolean closed;

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
  }

  /** The dispatcher whose state is written; set once, before any task is tracked. */
  public void attach(TaskDispatcher dispatcher) {
    this.dispatcher = dispatcher;
  }

  @Override
  public void statusChanged(TaskKey key) {
    boolean[] enqueue = {false};
    states.compute(
        key,
        (k, state) -> {
          if (state == null) {
            enqueue[0] = true;
            return WriteState.QUEUED;
          }
          return state == WriteState.IN_FLIGHT ? WriteState.IN_FLIGHT_DIRTY : state;
        });
    if (enqueue[0]) {
      queue.add(new Pending(key, System.nanoTime() + coalesceNanos));
    }
  }

  /** Number of tasks with a status change not yet written; zero once the writer caught up. */
  public int backlog() {
    return states.size();
  }

  private void drain() {
    while (!closed) {
      Pending pending;
      try {
        pending = queue.poll(200, TimeUnit.MILLISECONDS);
        if (pending == null) {
          continue;
        }
        long wait = pending.notBeforeNanos() - System.nanoTime();
        if (wait > 0) {
          TimeUnit.NANOSECONDS.sleep(wait);
        }
      } catch (InterruptedException e) {
        return;
      }
      TaskKey key = pending.key();
      states.put(key, WriteState.IN_FLIGHT);
      if (!write(key)) {
        // Still marked in flight, so no other writer picks the task up before the retry.
        long delay = Math.min(30_000, 250L << Math.min(7, failuresInARow.get()));
        states.put(key, WriteState.QUEUED);
        try {
          retries.schedule(() -> queue.add(new Pending(key, 0)), delay, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
          return; // Closed meanwhile: the change is lost like any unwritten one at shutdown.
        }
        continue;
      }
      WriteState after =
          states.compute(
              key, (k, state) -> state == WriteState.IN_FLIGHT_DIRTY ? WriteState.QUEUED : null);
      if (after == WriteState.QUEUED) {
        queue.add(new Pending(key, System.nanoTime() + coalesceNanos));
      }
    }
  }

  private boolean write(TaskKey key) {
    TaskDispatcher source = dispatcher;
    TaskSnapshot task = source == null ? null : source.get(key).orElse(null);
    if (task == null) {
      return true;
    }
    // A JSON patch that adds /status replaces the whole status, as the real API server and the
    // mock agree on; a merge patch would need explicit nulls and merges lists differently.
    ArrayNode patch = mapper.createArrayNode();
    patch
        .addObject()
        .put("op", "add")
        .put("path", "/status")
        .set("value", mapper.valueToTree(TaskStatusMapper.toStatus(task)));
    try {
      client
          .resources(VeraTask.class)
          .inNamespace(key.namespace())
          .withName(key.name())
          .subresource("status")
          .patch(PatchContext.of(PatchType.JSON), mapper.writeValueAsString(patch));
      failuresInARow.set(0);
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        source.forget(key, task.uid());
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
