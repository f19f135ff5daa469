package io.vera.operator.task;

import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Finds tasks for people: filtered, sorted and paged on the server, for the REST history and the
 * dashboard's task table alike. It is the one place that reads many tasks at once, so where they
 * are read from ({@link TaskHistory}: the dispatcher for tasks in flight, the API server for
 * finished ones) is decided there and nowhere else.
 */
public final class TaskQuery {
  /** Orders a page can be sorted by. */
  public enum Sort {
    CREATED,
    COMPLETED,
    HANDLER,
    PHASE,
    PRIORITY,
    DURATION;

    /** The sort of a query parameter, e.g. {@code completed}; empty for an unknown one. */
    public static java.util.Optional<Sort> parse(String value) {
      for (Sort sort : values()) {
        if (sort.name().equalsIgnoreCase(value)) {
          return java.util.Optional.of(sort);
        }
      }
      return java.util.Optional.empty();
    }
  }

  /**
   * Which tasks to find; a null or empty field matches every task.
   *
   * @param text a case-insensitive part of the task's id, handler or description
   */
  public record Filter(
      String namespace,
      Set<TaskPhase> phases,
      String pool,
      String handler,
      TaskPriority priority,
      String text) {

    boolean matches(TaskSnapshot t) {
      return (namespace == null || namespace.equals(t.key().namespace()))
          && (phases == null || phases.isEmpty() || phases.contains(t.phase()))
          && (pool == null || (t.pool() != null && pool.equals(t.pool().name())))
          && (handler == null || handler.equals(t.handler()))
          && (priority == null || priority == t.priority())
          && (text == null || text.isBlank() || containsText(t, text.toLowerCase(Locale.ROOT)));
    }

    /** Whether a finished task could match, so the finished ones must be read at all. */
    boolean mayMatchFinished() {
      return phases == null || phases.isEmpty() || phases.stream().anyMatch(TaskPhase::isFinished);
    }

    private static boolean containsText(TaskSnapshot t, String needle) {
      return t.key().name().contains(needle)
          || t.handler().toLowerCase(Locale.ROOT).contains(needle)
          || (t.description() != null && t.description().toLowerCase(Locale.ROOT).contains(needle));
    }
  }

  /**
   * One page of matching tasks and how many matched in all.
   *
   * @param complete false while the finished tasks are still being read for the first time
   */
  public record Page(
      List<TaskSnapshot> tasks, int total, int offset, int limit, boolean complete) {}

  private final TaskHistory history;

  public TaskQuery(TaskHistory history) {
    this.history = history;
  }

  /**
   * The tasks matching {@code filter}, in {@code sort} order ({@code descending} puts the newest,
   * latest, longest or most urgent first), from {@code offset}, at most {@code limit}. Tasks in
   * flight come from the dispatcher, finished ones from their index (only when the filter can match
   * them), and only the tasks on the page are read in full.
   */
  public Page page(Filter filter, Sort sort, boolean descending, int offset, int limit) {
    Comparator<TaskSnapshot> order = comparator(sort);
    TaskHistory.Page page =
        history.page(
            filter, sort, descending, descending ? order : order.reversed(), offset, limit);
    return new Page(
        page.tasks(),
        (int) Math.min(Integer.MAX_VALUE, page.total()),
        offset,
        limit,
        page.complete());
  }

  /** Ascending order of a sort; ties go by creation, then id, so pages never overlap. */
  private static Comparator<TaskSnapshot> comparator(Sort sort) {
    Comparator<TaskSnapshot> created =
        Comparator.comparing(TaskSnapshot::createdAt).thenComparing(t -> t.key().name());
    Comparator<TaskSnapshot> first =
        switch (sort) {
          case CREATED -> created;
          case COMPLETED ->
              Comparator.comparing(
                  TaskSnapshot::completedAt, Comparator.nullsFirst(Comparator.naturalOrder()));
          case HANDLER -> Comparator.comparing(TaskSnapshot::handler);
          case PHASE -> Comparator.comparing(TaskSnapshot::phase);
          // Enum order runs from critical to background; ascending means least urgent first.
          case PRIORITY -> Comparator.comparing(TaskSnapshot::priority).reversed();
          case DURATION ->
              Comparator.comparing(
                  TaskQuery::duration, Comparator.nullsFirst(Comparator.naturalOrder()));
        };
    return first.thenComparing(created);
  }

  private static Duration duration(TaskSnapshot t) {
    return t.startedAt() == null || t.completedAt() == null
        ? null
        : Duration.between(t.startedAt(), t.completedAt());
  }
}
