package io.vera.operator.task;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.function.Predicate;

/**
 * The history queries of the REST API and the dashboard over tasks in flight (from the dispatcher)
 * and finished tasks kept on the API server. Finished tasks are filtered and sorted in their
 * compact index ({@link FinishedTaskIndex}) and only the rows an answer shows are read in full, so
 * a page costs one pass over a few dozen bytes per task, never a copy of the whole history.
 */
public final class TaskHistory {
  private static final Comparator<TaskSnapshot> BY_COMPLETION =
      Comparator.comparing(
              TaskSnapshot::completedAt, Comparator.nullsFirst(Comparator.naturalOrder()))
          .thenComparing(t -> t.key().name());
  private static final Comparator<TaskSnapshot> BY_CREATION =
      Comparator.comparing(TaskSnapshot::createdAt).thenComparing(t -> t.key().name());

  /**
   * How long the REST history waits for the first read of a namespace's finished tasks: its clients
   * expect every task, as before the index, when each answer read them all.
   */
  private static final long REST_WAIT_MILLIS = 60_000;

  /** How long a dashboard page waits for it before it shows what was read so far. */
  private static final long PAGE_WAIT_MILLIS = 2_000;

  /** How often a page is ranked again when rows it picked turned out deleted meanwhile. */
  private static final int ATTEMPTS = 3;

  private final TaskQueueView dispatcher;
  private final FinishedTasks finished;

  TaskHistory(TaskQueueView dispatcher, FinishedTasks finished) {
    this.dispatcher = dispatcher;
    this.finished = finished;
  }

  /**
   * Some tasks, newest first, and how many matched in all.
   *
   * @param complete false when the finished tasks were still being read for the first time, so some
   *     may be missing
   */
  public record Page(List<TaskSnapshot> tasks, long total, boolean complete) {}

  /** Starts reading a namespace's finished tasks into the index, so the first page is quick. */
  public void prepare(String namespace) {
    finished.index().load(namespace);
  }

  /** Finished tasks of a namespace, latest completion first, from {@code offset}. */
  public Page finished(String namespace, int offset, int limit) {
    return newest(
        namespace,
        t -> t.phase().isFinished(),
        true,
        offset,
        limit,
        BY_COMPLETION,
        REST_WAIT_MILLIS);
  }

  /**
   * Tasks of a namespace that match, finished or not, newest created first.
   *
   * @param finishedMayMatch false when the filter matches no finished task, so the finished ones
   *     need not be read
   */
  public Page matching(
      String namespace, Predicate<TaskSnapshot> filter, boolean finishedMayMatch, int limit) {
    return newest(namespace, filter, finishedMayMatch, 0, limit, BY_CREATION, REST_WAIT_MILLIS);
  }

  /**
   * Tasks that match a filter, greatest first in {@code order} (which must order them as {@code
   * sort} does), from {@code offset}: the dashboard's sorted and filtered pages. Finished tasks are
   * filtered and ranked in their index; the answer has them in full. Keeps offset + limit tasks, so
   * callers bound the offset.
   */
  Page page(
      TaskQuery.Filter filter,
      TaskQuery.Sort sort,
      boolean descending,
      Comparator<TaskSnapshot> order,
      int offset,
      int limit) {
    String namespace = filter.namespace();
    for (int attempt = 1; ; attempt++) {
      Ranking ranking = new Ranking(offset + limit, order);
      Map<String, TaskSnapshot> inFlight = inFlight(namespace, filter::matches, ranking);
      boolean complete = true;
      if (filter.mayMatchFinished()) {
        FinishedTaskIndex.Top top =
            finished
                .index()
                .top(filter, sort, descending, inFlight.keySet(), offset + limit, PAGE_WAIT_MILLIS);
        top.greatestFirst().forEach(ranking::offer);
        ranking.seen += top.matched() - top.greatestFirst().size();
        complete = top.complete();
      }
      Page page = read(ranking, inFlight, offset, complete, attempt);
      if (page != null) {
        return page;
      }
    }
  }

  /** Offers the matching tasks the dispatcher holds in a namespace; returns all it holds there. */
  private Map<String, TaskSnapshot> inFlight(
      String namespace, Predicate<TaskSnapshot> filter, Ranking ranking) {
    Map<String, TaskSnapshot> inFlight = new HashMap<>();
    for (TaskSnapshot t : dispatcher.list(t -> t.key().namespace().equals(namespace))) {
      inFlight.put(t.key().name(), t);
      if (filter.test(t)) {
        ranking.offer(t);
      }
    }
    return inFlight;
  }

  /**
   * The page of a ranking with finished tasks read in full; null when some turned out deleted
   * meanwhile (they left the index) and the page is to be ranked again.
   */
  private Page read(
      Ranking ranking,
      Map<String, TaskSnapshot> inFlight,
      int offset,
      boolean complete,
      int attempt) {
    List<TaskSnapshot> shown = ranking.skip(offset);
    List<TaskKey> toRead = new ArrayList<>();
    for (TaskSnapshot t : shown) {
      if (!inFlight.containsKey(t.key().name())) {
        toRead.add(t.key());
      }
    }
    List<TaskSnapshot> read = finished.getAll(toRead);
    if (read.contains(null) && attempt < ATTEMPTS) {
      return null;
    }
    List<TaskSnapshot> full = new ArrayList<>(shown.size());
    int next = 0;
    for (TaskSnapshot t : shown) {
      TaskSnapshot task = inFlight.get(t.key().name());
      if (task == null) {
        task = read.get(next++);
      }
      if (task != null) {
        full.add(task);
      }
    }
    return new Page(List.copyOf(full), ranking.seen, complete);
  }

  private Page newest(
      String namespace,
      Predicate<TaskSnapshot> filter,
      boolean readFinished,
      int offset,
      int limit,
      Comparator<TaskSnapshot> order,
      long waitMillis) {
    for (int attempt = 1; ; attempt++) {
      Ranking ranking = new Ranking(offset + limit, order);
      Map<String, TaskSnapshot> inFlight = inFlight(namespace, filter, ranking);
      boolean complete = true;
      if (readFinished) {
        // Tasks just finished are in the dispatcher until marked, then in the index.
        complete =
            finished
                .index()
                .forEach(
                    namespace,
                    waitMillis,
                    t -> {
                      if (!inFlight.containsKey(t.key().name()) && filter.test(t)) {
                        ranking.offer(t);
                      }
                    });
      }
      Page page = read(ranking, inFlight, offset, complete, attempt);
      if (page != null) {
        return page;
      }
    }
  }

  /** The {@code keep} greatest tasks in an order seen so far, and how many were seen. */
  private static final class Ranking {
    private final int keep;
    private final Comparator<TaskSnapshot> order;
    private final PriorityQueue<TaskSnapshot> kept;
    private long seen;

    Ranking(int keep, Comparator<TaskSnapshot> order) {
      this.keep = keep;
      this.order = order;
      this.kept = new PriorityQueue<>(order);
    }

    void offer(TaskSnapshot task) {
      seen++;
      if (kept.size() < keep) {
        kept.add(task);
      } else if (keep > 0 && order.compare(task, kept.peek()) > 0) {
        kept.poll();
        kept.add(task);
      }
    }

    /** The kept tasks greatest first, from {@code offset}. */
    List<TaskSnapshot> skip(int offset) {
      List<TaskSnapshot> greatestFirst = new ArrayList<>(kept);
      greatestFirst.sort(order.reversed());
      return offset >= greatestFirst.size()
          ? List.of()
          : greatestFirst.subList(offset, greatestFirst.size());
    }
  }
}
