package io.vera.operator.task;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the dispatcher tells others of its transitions: events for the {@link TaskListener}s, and
 * answers for callers waiting on a task's end. Both are queued under the dispatcher's lock, in the
 * order the transitions happened, and delivered by {@link #deliver} after it is released: a
 * listener or an answer (a REST response being written) must not hold up every lease and completion
 * meanwhile.
 */
final class TaskOutbox {
  private static final Logger LOG = LoggerFactory.getLogger(TaskOutbox.class);

  private final List<TaskListener> listeners = new CopyOnWriteArrayList<>();
  private final Queue<TaskEvent> events = new ConcurrentLinkedQueue<>();
  private final Queue<Runnable> answers = new ConcurrentLinkedQueue<>();
  private final ReentrantLock publishing = new ReentrantLock();

  /** Callers waiting on a task's end; guarded by the dispatcher's lock. */
  private final Map<TaskKey, List<CompletableFuture<TaskSnapshot>>> waiters = new HashMap<>();

  void addListener(TaskListener listener) {
    listeners.add(listener);
  }

  /** Queues an event of a transition; call under the dispatcher's lock. */
  void event(TaskEvent.Type type, TaskSnapshot task) {
    events.add(new TaskEvent(type, task));
  }

  /** A future completed with the task's last state when it finishes or leaves; under the lock. */
  CompletableFuture<TaskSnapshot> awaitEnd(TaskKey key) {
    List<CompletableFuture<TaskSnapshot>> list =
        waiters.computeIfAbsent(key, k -> new ArrayList<>());
    list.removeIf(CompletableFuture::isDone);
    CompletableFuture<TaskSnapshot> future = new CompletableFuture<>();
    list.add(future);
    return future;
  }

  /** Queues the answer to everyone waiting on a task's end; call under the dispatcher's lock. */
  void ended(TaskEntry entry) {
    List<CompletableFuture<TaskSnapshot>> pending = waiters.remove(entry.key);
    if (pending != null) {
      TaskSnapshot last = entry.snapshot();
      answers.add(() -> pending.forEach(f -> f.complete(last)));
    }
  }

  /**
   * Gives the queued answers, then the queued events to the listeners. Call without the lock.
   * Events leave in the order they entered, whichever thread drains them.
   */
  void deliver() {
    Runnable answer;
    while ((answer = answers.poll()) != null) {
      answer.run();
    }
    while (!events.isEmpty()) {
      if (!publishing.tryLock()) {
        return; // the thread holding it drains, and checks again after letting go
      }
      try {
        TaskEvent event;
        while ((event = events.poll()) != null) {
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
}
