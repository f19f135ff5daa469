package io.vera.operator.task;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.fabric8.kubernetes.api.model.KubernetesResourceList;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.vera.operator.api.VeraTask;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Finished tasks, read from the API server: the dispatcher and the informers let them go once they
 * are marked finished ({@link FinishedTaskLabels}). Single reads go through a small cache bounded
 * by size (a result may be large), since a client that waited for a result often reads it again;
 * lists page through the API server and hold one page at a time. What history pages sort and filter
 * by is kept in a compact {@link FinishedTaskIndex}, so a page reads only the tasks it shows.
 */
public final class FinishedTasks {
  /**
   * How much of the cache a task takes beyond its payload and result, in bytes (measured ~1 KB).
   */
  private static final int ENTRY_OVERHEAD = 1024;

  private static final long PAGE_SIZE = 500;
  private static final int PARALLEL_READS = 8;

  private final KubernetesClient client;
  private final TaskQueueView dispatcher;
  private final Cache<TaskKey, TaskSnapshot> cache;
  private final FinishedTaskIndex index = new FinishedTaskIndex(this::forEach);

  /** Reads the tasks a page shows side by side; no threads while idle. */
  private final ThreadPoolExecutor readers =
      new ThreadPoolExecutor(
          PARALLEL_READS,
          PARALLEL_READS,
          10,
          TimeUnit.SECONDS,
          new LinkedBlockingQueue<>(),
          r -> {
            Thread t = new Thread(r, "finished-task-read");
            t.setDaemon(true);
            return t;
          });

  /**
   * @param cacheBytes about how much of the heap the cache of single reads may take
   */
  public FinishedTasks(KubernetesClient client, TaskQueueView dispatcher, long cacheBytes) {
    this.client = client;
    this.dispatcher = dispatcher;
    this.cache =
        Caffeine.newBuilder()
            .maximumWeight(cacheBytes)
            .weigher((TaskKey key, TaskSnapshot task) -> weight(task))
            // A task deleted by another client (kubectl) is seen gone this much later at most.
            .expireAfterWrite(Duration.ofSeconds(60))
            .build();
    readers.allowCoreThreadTimeOut(true);
  }

  /** What the history pages sort and filter finished tasks by, kept in memory. */
  public FinishedTaskIndex index() {
    return index;
  }

  /**
   * The tasks of {@code keys} (from the cache, else read side by side from the API server), in the
   * same order, with null for each one gone; a task found gone leaves the index.
   */
  public List<TaskSnapshot> getAll(List<TaskKey> keys) {
    List<CompletableFuture<Optional<TaskSnapshot>>> reads = new ArrayList<>(keys.size());
    for (TaskKey key : keys) {
      TaskSnapshot cached = cache.getIfPresent(key);
      reads.add(
          cached != null
              ? CompletableFuture.completedFuture(Optional.of(cached))
              : CompletableFuture.supplyAsync(() -> get(key), readers));
    }
    List<TaskSnapshot> tasks = new ArrayList<>(keys.size());
    for (int i = 0; i < keys.size(); i++) {
      Optional<TaskSnapshot> task = reads.get(i).join();
      if (task.isEmpty()) {
        index.remove(keys.get(i));
      }
      tasks.add(task.orElse(null));
    }
    return tasks;
  }

  /** A task that is not in flight: from the cache, else from the API server; empty if gone. */
  public Optional<TaskSnapshot> get(TaskKey key) {
    TaskSnapshot cached = cache.getIfPresent(key);
    if (cached != null) {
      return Optional.of(cached);
    }
    VeraTask resource =
        client.resources(VeraTask.class).inNamespace(key.namespace()).withName(key.name()).get();
    if (resource == null) {
      return Optional.empty();
    }
    TaskSnapshot task = dispatcher.view(resource);
    if (task.phase().isFinished() && FinishedTaskLabels.isMarked(resource)) {
      cache.put(key, task);
    }
    return Optional.of(task);
  }

  /**
   * A task was just marked finished with this state: cached, since a client that waited for it
   * usually reads it right after, and so that it stays readable for a while if the API server is
   * down.
   */
  public void markedFinished(TaskSnapshot task) {
    cache.put(task.key(), task);
    index.add(task);
  }

  /** The task was deleted: a read must not find it in the cache. */
  public void forget(TaskKey key) {
    cache.invalidate(key);
    index.remove(key);
  }

  /** Hands every task marked finished in a namespace to {@code each}, one page at a time. */
  public void forEach(String namespace, Consumer<TaskSnapshot> each) {
    String next = null;
    do {
      KubernetesResourceList<VeraTask> page =
          client
              .resources(VeraTask.class)
              .inNamespace(namespace)
              .withLabelSelector(FinishedTaskLabels.FINISHED_SELECTOR)
              .list(new ListOptionsBuilder().withLimit(PAGE_SIZE).withContinue(next).build());
      for (VeraTask resource : page.getItems()) {
        each.accept(dispatcher.view(resource));
      }
      next = page.getMetadata() == null ? null : page.getMetadata().getContinue();
    } while (next != null && !next.isEmpty());
  }

  private static int weight(TaskSnapshot task) {
    long bytes =
        ENTRY_OVERHEAD
            + (task.result() == null ? 0 : task.result().toString().length())
            + (task.payload() == null ? 0 : task.payload().toString().length());
    return (int) Math.min(Integer.MAX_VALUE, bytes);
  }
}
