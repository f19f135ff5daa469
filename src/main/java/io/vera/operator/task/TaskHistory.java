package io.vera.operator.task;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * The history queries of the REST API over tasks kept on the API server: one pass through the
 * finished tasks a page at a time, keeping only as many as the answer shows (the newest), plus the
 * tasks in flight from the dispatcher. Never a copy of the whole history in memory.
 */
public final class TaskHistory {
  private static final Comparator<TaskSnapshot> BY_COMPLETION =
      Comparator.comparing(
              TaskSnapshot::completedAt, Comparator.nullsFirst(Comparator.naturalOrder()))
          .thenComparing(t -> t.key().name());
  private static final Comparator<TaskSnapshot> BY_CREATION =
      Comparator.comparing(TaskSnapshot::createdAt).thenComparing(t -> t.key().name());

  private final TaskDispatcher dispatcher;
  private final FinishedTasks finished;

  public TaskHistory(TaskDispatcher dispatcher, FinishedTasks finished) {
    this.dispatcher = dispatcher;
    this.finished = finished;
  }

  /** Some tasks, newest first, and how many matched in all. */
  public record Page(List<TaskSnapshot> tasks, long total) {}

  /** Finished tasks of a namespace, latest completion first, from {@code offset}. */
  public Page finished(String namespace, int offset, int limit) {
    return newest(namespace, t -> t.phase().isFinished(), true, offset + limit, BY_COMPLETION)
        .skip(offset);
  }

  /**
   * Tasks of a namespace that match, finished or not, newest created first.
   *
   * @param finishedMayMatch false when the filter matches no finished task, so the finished ones
   *     need not be read
   */
  public Page matching(
      String namespace, Predicate<TaskSnapshot> filter, boolean finishedMayMatch, int limit) {
    return newest(namespace, filter, finishedMayMatch, limit, BY_CREATION).skip(0);
  }

  /**
   * Tasks of a namespace that match, greatest first in {@code order}, from {@code offset}: the
   * dashboard's sorted and filtered pages. Costs one pass like the others and keeps offset + limit
   * tasks, so callers bound the offset.
   *
   * @param finishedMayMatch false when the filter matches no finished task, so the finished ones
   *     need not be read
   */
  public Page page(
      String namespace,
      Predicate<TaskSnapshot> filter,
      boolean finishedMayMatch,
      Comparator<TaskSnapshot> order,
      int offset,
      int limit) {
    return newest(namespace, filter, finishedMayMatch, offset + limit, order).skip(offset);
  }

  private Ranking newest(
      String namespace,
      Predicate<TaskSnapshot> filter,
      boolean readFinished,
      int keep,
      Comparator<TaskSnapshot> order) {
    Ranking ranking = new Ranking(keep, order);
    List<TaskSnapshot> inFlight = dispatcher.list(t -> t.key().namespace().equals(namespace));
    inFlight.stream().filter(filter).forEach(ranking::offer);
    if (readFinished) {
      // Tasks just finished are in the dispatcher until marked, then only on the API server.
      Set<String> held = inFlight.stream().map(t -> t.key().name()).collect(Collectors.toSet());
      finished.forEach(
          namespace,
          t -> {
            if (!held.contains(t.key().name()) && filter.test(t)) {
              ranking.offer(t);
            }
          });
    }
    return ranking;
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

    Page skip(int offset) {
      List<TaskSnapshot> newestFirst = new ArrayList<>(kept);
      newestFirst.sort(order.reversed());
      List<TaskSnapshot> shown =
          offset >= newestFirst.size()
              ? List.of()
              : newestFirst.subList(offset, newestFirst.size());
      return new Page(List.copyOf(shown), seen);
    }
  }
}
