package io.vera.operator.task;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.vera.operator.api.VeraTask;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes a task {@code ttlSecondsAfterFinished} after it finishes. Live transitions arrive here as
 * events; tasks that finished before a restart are scheduled by the reconciler when it first sees
 * them. Our own status writes therefore never need to wake the reconciler.
 */
public final class TaskTtlCleaner implements TaskListener, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TaskTtlCleaner.class);

  private final KubernetesClient client;
  private final Clock clock;
  private final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "task-ttl-cleaner");
            t.setDaemon(true);
            return t;
          });

  public TaskTtlCleaner(KubernetesClient client, Clock clock) {
    this.client = client;
    this.clock = clock;
  }

  @Override
  public void onTaskEvent(TaskEvent event) {
    TaskSnapshot task = event.task();
    if (task.phase().isFinished()) {
      schedule(task);
    }
  }

  /** Schedules the deletion of a finished task that has a TTL; does nothing otherwise. */
  public void schedule(TaskSnapshot task) {
    Integer ttl = task.ttlSecondsAfterFinished();
    if (ttl == null || task.completedAt() == null) {
      return;
    }
    long delay =
        Math.max(
            0, Duration.between(clock.instant(), task.completedAt().plusSeconds(ttl)).toMillis());
    scheduler.schedule(() -> delete(task), delay, TimeUnit.MILLISECONDS);
  }

  private void delete(TaskSnapshot task) {
    try {
      var resource =
          client
              .resources(VeraTask.class)
              .inNamespace(task.key().namespace())
              .withName(task.key().name());
      VeraTask live = resource.get();
      // A task recreated under the same name since is not ours to delete.
      if (live != null && live.getMetadata().getUid().equals(task.uid())) {
        resource.delete();
      }
    } catch (RuntimeException e) {
      LOG.warn(
          "could not delete finished task {} after its TTL; retrying in a minute: {}",
          task.key(),
          e.getMessage());
      scheduler.schedule(() -> delete(task), 1, TimeUnit.MINUTES);
    }
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
