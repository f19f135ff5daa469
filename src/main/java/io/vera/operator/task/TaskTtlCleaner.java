package io.vera.operator.task;

import io.fabric8.kubernetes.api.model.KubernetesResourceList;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.FilterWatchListDeletable;
import io.vera.operator.api.VeraTask;
import java.time.Clock;
import java.util.Comparator;
import java.util.NavigableSet;
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes finished tasks {@code ttlSecondsAfterFinished} after they finish, without a timer or any
 * other state per task: a finished task carries the second it expires at as a label ({@link
 * FinishedTaskLabels#EXPIRES_AT}), and this cleaner keeps only the distinct (namespace, second)
 * pairs still to sweep, at most one per second of the longest TTL. Each second it lists the tasks
 * of the seconds that have passed by that label, a page at a time, and deletes them.
 *
 * <p>Pairs come from the tasks this process marks finished, and, once when it first leads, from one
 * paged pass over the tasks marked finished before (by an earlier process).
 */
public final class TaskTtlCleaner implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TaskTtlCleaner.class);
  private static final long PAGE_SIZE = 500;

  /** The tasks of one namespace that expire at one epoch second. */
  private record Due(long epochSecond, String namespace) {}

  private final KubernetesClient client;
  private final Clock clock;
  private final BooleanSupplier leading;
  private final Consumer<TaskKey> deleted;
  private final NavigableSet<Due> due =
      new ConcurrentSkipListSet<>(
          Comparator.comparingLong(Due::epochSecond).thenComparing(Due::namespace));
  private final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "task-ttl-cleaner");
            t.setDaemon(true);
            return t;
          });
  private final Set<String> namespaces;
  private volatile boolean earlierTasksFound;
  private int failuresInARow;

  /**
   * @param namespaces the namespaces this operator owns, empty for all: with namespaced RBAC it may
   *     list tasks in no other
   * @param leading whether this replica leads; only the leader deletes
   * @param deleted told of each task deleted, so caches of finished tasks can let it go
   */
  public TaskTtlCleaner(
      KubernetesClient client,
      Set<String> namespaces,
      Clock clock,
      BooleanSupplier leading,
      Consumer<TaskKey> deleted) {
    this.client = client;
    this.namespaces = Set.copyOf(namespaces);
    this.clock = clock;
    this.leading = leading;
    this.deleted = deleted;
  }

  /** Starts sweeping once a second. */
  public TaskTtlCleaner start() {
    scheduler.scheduleWithFixedDelay(this::sweep, 1, 1, TimeUnit.SECONDS);
    return this;
  }

  /** A task was marked finished with this state; its expiry second is swept when it comes. */
  public void markedFinished(TaskSnapshot task) {
    Long expiry = FinishedTaskLabels.expiresAt(task);
    if (expiry != null) {
      due.add(new Due(expiry, task.key().namespace()));
    }
  }

  /** Seconds still to sweep, for tests and figures. */
  int pending() {
    return due.size();
  }

  private void sweep() {
    if (!leading.getAsBoolean()) {
      return;
    }
    try {
      if (!earlierTasksFound) {
        findEarlierTasks();
        earlierTasksFound = true;
      }
      long now = clock.instant().getEpochSecond();
      for (Due next = first(); next != null && next.epochSecond() <= now; next = first()) {
        delete(next);
        due.remove(next);
      }
      failuresInARow = 0;
    } catch (RuntimeException e) {
      if (failuresInARow++ % 60 == 0) {
        LOG.warn("deleting finished tasks after their TTL failed; retrying: {}", e.getMessage());
      }
    }
  }

  private Due first() {
    return due.isEmpty() ? null : due.first();
  }

  /** One paged pass over the tasks marked finished before this process, for their expiries. */
  private void findEarlierTasks() {
    if (namespaces.isEmpty()) {
      findEarlierTasks(client.resources(VeraTask.class).inAnyNamespace());
    } else {
      namespaces.forEach(ns -> findEarlierTasks(client.resources(VeraTask.class).inNamespace(ns)));
    }
  }

  private void findEarlierTasks(
      FilterWatchListDeletable<VeraTask, KubernetesResourceList<VeraTask>, ?> tasks) {
    String next = null;
    do {
      KubernetesResourceList<VeraTask> page =
          tasks
              // Only tasks with an expiry: those without are never swept, and the embedded
              // store answers both labels from an index.
              .withLabelSelector(
                  FinishedTaskLabels.FINISHED_SELECTOR + "," + FinishedTaskLabels.EXPIRES_AT)
              .list(new ListOptionsBuilder().withLimit(PAGE_SIZE).withContinue(next).build());
      for (VeraTask task : page.getItems()) {
        String expiry = task.getMetadata().getLabels().get(FinishedTaskLabels.EXPIRES_AT);
        if (expiry != null) {
          try {
            due.add(new Due(Long.parseLong(expiry), task.getMetadata().getNamespace()));
          } catch (NumberFormatException e) {
            LOG.warn(
                "task {}/{} has label {}={}, not an epoch second; it is not deleted by TTL",
                task.getMetadata().getNamespace(),
                task.getMetadata().getName(),
                FinishedTaskLabels.EXPIRES_AT,
                expiry);
          }
        }
      }
      next = page.getMetadata() == null ? null : page.getMetadata().getContinue();
    } while (next != null && !next.isEmpty());
  }

  /** Deletes the finished tasks of one namespace that expire at one second, a page at a time. */
  private void delete(Due expired) {
    String next = null;
    do {
      KubernetesResourceList<VeraTask> page =
          client
              .resources(VeraTask.class)
              .inNamespace(expired.namespace())
              .withLabel(FinishedTaskLabels.FINISHED, "true")
              .withLabel(FinishedTaskLabels.EXPIRES_AT, Long.toString(expired.epochSecond()))
              .list(new ListOptionsBuilder().withLimit(PAGE_SIZE).withContinue(next).build());
      for (VeraTask task : page.getItems()) {
        String name = task.getMetadata().getName();
        client.resources(VeraTask.class).inNamespace(expired.namespace()).withName(name).delete();
        deleted.accept(new TaskKey(expired.namespace(), name));
      }
      next = page.getMetadata() == null ? null : page.getMetadata().getContinue();
    } while (next != null && !next.isEmpty());
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
