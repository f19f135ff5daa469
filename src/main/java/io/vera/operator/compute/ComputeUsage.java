package io.vera.operator.compute;

import io.vera.operator.api.ComputeResourceStatus;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What each resource is doing and has done: the task running in it, its task count and when it was
 * last used. Kept here rather than read back from status because two writers (the reconciler and
 * the exec path) publish it; both take the figures from this one place. Seeded from the status a
 * previous operator process wrote, so counts survive restarts.
 */
public final class ComputeUsage {
  /** One resource's figures. */
  public record Snapshot(String currentTask, long totalTasks, Instant lastUsed, int running) {}

  private final Clock clock;
  private final Map<String, Snapshot> byUid = new ConcurrentHashMap<>();

  public ComputeUsage(Clock clock) {
    this.clock = clock;
  }

  /** Takes the figures of a status written before, the first time a resource is seen. */
  public void seed(String uid, ComputeResourceStatus status) {
    byUid.computeIfAbsent(
        uid,
        u ->
            new Snapshot(
                null,
                status == null || status.totalTasks == null ? 0 : status.totalTasks,
                status == null || status.lastUsedTime == null
                    ? null
                    : Instant.parse(status.lastUsedTime),
                0));
  }

  public Optional<Snapshot> get(String uid) {
    return Optional.ofNullable(byUid.get(uid));
  }

  /** A command starts in the resource. */
  public Snapshot started(String uid, String taskId) {
    return byUid.compute(
        uid,
        (u, s) ->
            s == null
                ? new Snapshot(taskId, 0, clock.instant(), 1)
                : new Snapshot(taskId, s.totalTasks(), clock.instant(), s.running() + 1));
  }

  /** A command ended (whatever its outcome); it counts as a task and as use. */
  public Snapshot finished(String uid) {
    return byUid.compute(
        uid,
        (u, s) -> {
          long total = s == null ? 1 : s.totalTasks() + 1;
          int running = s == null ? 0 : Math.max(0, s.running() - 1);
          String current = running == 0 || s == null ? null : s.currentTask();
          return new Snapshot(current, total, clock.instant(), running);
        });
  }

  public void forget(String uid) {
    byUid.remove(uid);
  }

  /** When a resource's idle time started: its last use, or when it became ready if never used. */
  public static Instant idleSince(ComputeResourceStatus status) {
    String since = status.lastUsedTime != null ? status.lastUsedTime : status.readyTime;
    return since == null ? null : Instant.parse(since);
  }
}
