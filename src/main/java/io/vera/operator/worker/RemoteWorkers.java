package io.vera.operator.worker;

import io.vera.operator.task.PoolKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The worker pods that recently asked for work, per pool, with the handlers they offer. A pool's
 * status lists those handlers, and the REST facade accepts tasks for them.
 */
public final class RemoteWorkers implements OfferedHandlers {
  private static final Duration FORGET_AFTER = Duration.ofMinutes(2);

  private record Seen(List<String> handlers, Instant at) {}

  private final Clock clock;
  private final Map<PoolKey, Map<String, Seen>> byPool = new ConcurrentHashMap<>();

  public RemoteWorkers(Clock clock) {
    this.clock = clock;
  }

  public void seen(PoolKey pool, String workerId, List<String> handlers) {
    byPool
        .computeIfAbsent(pool, k -> new ConcurrentHashMap<>())
        .put(workerId, new Seen(List.copyOf(handlers), clock.instant()));
  }

  /** Handlers offered by a pool's workers seen in the last two minutes. */
  public Set<String> handlers(PoolKey pool) {
    Set<String> names = new TreeSet<>();
    Map<String, Seen> workers = byPool.get(pool);
    if (workers != null) {
      Instant cutoff = clock.instant().minus(FORGET_AFTER);
      workers.values().removeIf(s -> s.at().isBefore(cutoff));
      workers.values().forEach(s -> names.addAll(s.handlers()));
    }
    return names;
  }

  @Override
  public List<PoolKey> poolsOffering(String handler) {
    return byPool.keySet().stream()
        .filter(pool -> handlers(pool).contains(handler))
        .sorted(java.util.Comparator.comparing(PoolKey::toString))
        .toList();
  }

  @Override
  public Set<String> allHandlers() {
    Set<String> names = new TreeSet<>();
    byPool.keySet().forEach(pool -> names.addAll(handlers(pool)));
    return names;
  }

  public void forget(PoolKey pool) {
    byPool.remove(pool);
  }
}
