package io.vera.operator.task;

import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.TaskType;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the task table sorts and filters finished tasks by, and nothing more: id, handler, pool,
 * phase, priority, type, created/started/completed times and the start of the description, in a few
 * dozen bytes per task (measured in docs/dashboard.md). With it a page of 100,000 finished tasks is
 * one pass in memory instead of one read of every task from the API server; the full tasks are read
 * only for the rows a page shows.
 *
 * <p>Kept in step by the code that changes the set of finished tasks: a task is added when it is
 * marked finished ({@link FinishedTasks#markedFinished}), removed when the TTL cleaner deletes it
 * ({@link FinishedTasks#forget}) or when a page finds it gone from the API server (deleted by
 * another client). A namespace's tasks marked before this process started are read once, a page at
 * a time, the first time the namespace is asked about.
 *
 * <p>It holds at most {@link #CAPACITY} tasks per namespace (about 25 MB): beyond that the task
 * added earliest leaves it. Without a bound the index grew with every task kept, 250 bytes each: at
 * a sustained 1,000 tasks/s with the default one-hour retention, 900 MB. A task that left the index
 * is still read by its id until its TTL; it is no longer listed by history pages.
 */
public final class FinishedTaskIndex {
  private static final Logger LOG = LoggerFactory.getLogger(FinishedTaskIndex.class);

  /** Longest start of a description kept for text search; the rest is not searched. */
  static final int DESCRIPTION_CHARS = 64;

  /** Distinct handler and pool names shared between rows; beyond it each row keeps its own. */
  private static final int MAX_SHARED_NAMES = 10_000;

  /** Most finished tasks indexed per namespace. */
  static final int CAPACITY = 100_000;

  private static final long NONE = Long.MIN_VALUE;
  private static final TaskPhase[] PHASES = TaskPhase.values();
  private static final TaskPriority[] PRIORITIES = TaskPriority.values();
  private static final TaskType[] TYPES = TaskType.values();

  /** One finished task: primitives and shared strings only; the description in lower case. */
  private record Row(
      String name,
      String handler,
      String pool,
      String description,
      byte phase,
      byte priority,
      byte taskType,
      long createdMillis,
      long startedMillis,
      long completedMillis) {}

  /** Reads every task marked finished in a namespace, a page at a time. */
  @FunctionalInterface
  public interface Source {
    void forEach(String namespace, Consumer<TaskSnapshot> each);
  }

  /**
   * One namespace's rows, and the same rows in the order they were added (to leave first when the
   * index is full). A row replaced or removed stays in {@code added} until it comes up or the queue
   * is compacted; {@code rows.get(name) == row} tells a live one.
   */
  private static final class Rows {
    final Map<String, Row> rows = new ConcurrentHashMap<>();
    final ArrayDeque<Row> added = new ArrayDeque<>();
  }

  private final Source source;
  private final int capacity;
  private final Map<String, Rows> byNamespace = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<Void>> loads = new ConcurrentHashMap<>();
  private final Map<String, String> sharedNames = new ConcurrentHashMap<>();

  /** One thread while a namespace is read, none once idle. */
  private final ExecutorService loader =
      new ThreadPoolExecutor(
          0,
          1,
          10,
          TimeUnit.SECONDS,
          new LinkedBlockingQueue<>(),
          r -> {
            Thread t = new Thread(r, "finished-task-index");
            t.setDaemon(true);
            return t;
          });

  public FinishedTaskIndex(Source source) {
    this(source, CAPACITY);
  }

  FinishedTaskIndex(Source source, int capacity) {
    this.source = source;
    this.capacity = capacity;
  }

  /** A task marked finished with this state. */
  public void add(TaskSnapshot task) {
    if (task.phase() == null || !task.phase().isFinished()) {
      return;
    }
    Row row = row(task);
    Rows namespace = byNamespace.computeIfAbsent(task.key().namespace(), ns -> new Rows());
    synchronized (namespace) {
      namespace.rows.put(row.name(), row);
      namespace.added.addLast(row);
      while (namespace.rows.size() > capacity) {
        Row eldest = namespace.added.pollFirst();
        namespace.rows.remove(eldest.name(), eldest);
      }
      if (namespace.added.size() > 2 * namespace.rows.size() + 1024) {
        // Rows removed or replaced since they were added: drop them, keep the order.
        namespace.added.removeIf(r -> namespace.rows.get(r.name()) != r);
      }
    }
  }

  /** A task deleted, or found gone. */
  public void remove(TaskKey key) {
    Rows namespace = byNamespace.get(key.namespace());
    if (namespace != null) {
      synchronized (namespace) {
        namespace.rows.remove(key.name());
      }
    }
  }

  /**
   * Hands every finished task of a namespace to {@code each}, as a snapshot with only the indexed
   * fields (no payload, result, error, worker or queue time): enough to filter and sort, not to
   * show. The first call for a namespace reads its finished tasks from the API server; it waits for
   * that up to {@code wait}, then answers from what was read so far.
   *
   * @return whether every finished task was seen (false while the first read goes on)
   */
  public boolean forEach(String namespace, long waitMillis, Consumer<TaskSnapshot> each) {
    boolean complete = awaitLoaded(namespace, waitMillis);
    Map<String, Row> rows = rowsOf(namespace);
    if (rows != null) {
      for (Row row : rows.values()) {
        each.accept(snapshot(namespace, row));
      }
    }
    return complete;
  }

  /** The greatest finished tasks of a query, as indexed snapshots, and how many matched. */
  public record Top(List<TaskSnapshot> greatestFirst, long matched, boolean complete) {}

  /**
   * The {@code keep} greatest finished tasks of a namespace that match {@code filter}, in {@code
   * sort} order, leaving out {@code excluded} names (tasks the dispatcher still holds). Filters and
   * ranks the compact rows themselves, so only the kept ones become snapshots (with the indexed
   * fields only, as {@link #forEach} gives them); their order agrees with {@link TaskQuery}'s.
   */
  public Top top(
      TaskQuery.Filter filter,
      TaskQuery.Sort sort,
      boolean descending,
      Set<String> excluded,
      int keep,
      long waitMillis) {
    String namespace = filter.namespace();
    boolean complete = awaitLoaded(namespace, waitMillis);
    Map<String, Row> rows = rowsOf(namespace);
    if (rows == null) {
      return new Top(List.of(), 0, complete);
    }
    Comparator<Row> ascending = order(sort);
    Comparator<Row> order = descending ? ascending : ascending.reversed();
    int phases = 0;
    if (filter.phases() != null) {
      for (TaskPhase phase : filter.phases()) {
        phases |= 1 << phase.ordinal();
      }
    }
    int priority = filter.priority() == null ? -1 : filter.priority().ordinal();
    // Names are lower case (Kubernetes names) and descriptions are kept so; handlers are few.
    String text =
        filter.text() == null || filter.text().isBlank()
            ? null
            : filter.text().toLowerCase(Locale.ROOT);
    Map<String, Boolean> handlerMatches = new HashMap<>();
    PriorityQueue<Row> kept = new PriorityQueue<>(order);
    long matched = 0;
    for (Row row : rows.values()) {
      if ((phases != 0 && (phases & (1 << row.phase())) == 0)
          || (priority >= 0 && row.priority() != priority)
          || (filter.handler() != null && !filter.handler().equals(row.handler()))
          || (filter.pool() != null && !filter.pool().equals(row.pool()))
          || (text != null
              && !row.name().contains(text)
              && !handlerMatches.computeIfAbsent(
                  row.handler(), h -> h.toLowerCase(Locale.ROOT).contains(text))
              && (row.description() == null || !row.description().contains(text)))
          || excluded.contains(row.name())) {
        continue;
      }
      matched++;
      if (kept.size() < keep) {
        kept.add(row);
      } else if (keep > 0 && order.compare(row, kept.peek()) > 0) {
        kept.poll();
        kept.add(row);
      }
    }
    List<Row> greatestFirst = new ArrayList<>(kept);
    greatestFirst.sort(order.reversed());
    List<TaskSnapshot> snapshots = new ArrayList<>(greatestFirst.size());
    greatestFirst.forEach(row -> snapshots.add(snapshot(namespace, row)));
    return new Top(snapshots, matched, complete);
  }

  /** Ascending order of a sort over rows, as {@link TaskQuery} orders snapshots. */
  private static Comparator<Row> order(TaskQuery.Sort sort) {
    Comparator<Row> created = Comparator.comparingLong(Row::createdMillis).thenComparing(Row::name);
    Comparator<Row> first =
        switch (sort) {
          case CREATED -> created;
          case COMPLETED -> Comparator.comparingLong(Row::completedMillis);
          case HANDLER -> Comparator.comparing(Row::handler);
          case PHASE -> Comparator.comparingInt(Row::phase);
          case PRIORITY -> Comparator.comparingInt(Row::priority).reversed();
          case DURATION -> Comparator.comparingLong(FinishedTaskIndex::durationMillis);
        };
    return first.thenComparing(created);
  }

  /** Run time; a task that never started sorts first, as a null duration does. */
  private static long durationMillis(Row row) {
    return row.startedMillis() == NONE || row.completedMillis() == NONE
        ? NONE
        : row.completedMillis() - row.startedMillis();
  }

  /** How many finished tasks of a namespace are indexed. */
  public int size(String namespace) {
    Map<String, Row> rows = rowsOf(namespace);
    return rows == null ? 0 : rows.size();
  }

  /** Starts the first read of a namespace's finished tasks, if not yet started. */
  public void load(String namespace) {
    loads.computeIfAbsent(
        namespace,
        ns ->
            CompletableFuture.runAsync(
                () -> {
                  try {
                    source.forEach(ns, this::add);
                  } catch (RuntimeException e) {
                    // Read again on the next question; what was read stays.
                    loads.remove(ns);
                    LOG.warn("reading the finished tasks of {} failed: {}", ns, e.getMessage());
                    throw e;
                  }
                },
                loader));
  }

  private boolean awaitLoaded(String namespace, long waitMillis) {
    load(namespace);
    CompletableFuture<Void> load = loads.get(namespace);
    if (load == null) {
      return false;
    }
    try {
      load.get(waitMillis, TimeUnit.MILLISECONDS);
      return true;
    } catch (TimeoutException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (java.util.concurrent.ExecutionException e) {
      return false;
    }
  }

  private Map<String, Row> rowsOf(String namespace) {
    Rows rows = byNamespace.get(namespace);
    return rows == null ? null : rows.rows;
  }

  private Row row(TaskSnapshot task) {
    String description = task.description();
    if (description != null) {
      description =
          description
              .substring(0, Math.min(description.length(), DESCRIPTION_CHARS))
              .toLowerCase(Locale.ROOT);
    }
    return new Row(
        task.key().name(),
        shared(task.handler()),
        task.pool() == null ? null : shared(task.pool().name()),
        description,
        (byte) task.phase().ordinal(),
        (byte) task.priority().ordinal(),
        (byte) (task.taskType() == null ? -1 : task.taskType().ordinal()),
        millis(task.createdAt()),
        millis(task.startedAt()),
        millis(task.completedAt()));
  }

  private String shared(String name) {
    if (name == null) {
      return null;
    }
    String known = sharedNames.get(name);
    if (known != null) {
      return known;
    }
    if (sharedNames.size() >= MAX_SHARED_NAMES) {
      return name;
    }
    known = sharedNames.putIfAbsent(name, name);
    return known == null ? name : known;
  }

  private static TaskSnapshot snapshot(String namespace, Row row) {
    return new TaskSnapshot(
        new TaskKey(namespace, row.name()),
        null,
        row.handler(),
        PRIORITIES[row.priority()],
        row.taskType() < 0 ? null : TYPES[row.taskType()],
        row.pool() == null ? null : new PoolKey(namespace, row.pool()),
        row.description(),
        null,
        null,
        PHASES[row.phase()],
        null,
        0,
        0,
        0,
        null,
        null,
        null,
        instant(row.createdMillis()),
        null,
        instant(row.startedMillis()),
        instant(row.completedMillis()),
        null,
        null,
        null,
        null,
        null,
        null,
        null);
  }

  private static long millis(Instant instant) {
    return instant == null ? NONE : instant.toEpochMilli();
  }

  private static Instant instant(long millis) {
    return millis == NONE ? null : Instant.ofEpochMilli(millis);
  }
}
