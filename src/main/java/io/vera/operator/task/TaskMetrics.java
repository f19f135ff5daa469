package io.vera.operator.task;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Prometheus figures of the task flow: transitions by pool and state, queue depth and running tasks
 * per pool, and histograms of queue wait and run time.
 */
public final class TaskMetrics implements TaskListener {
  private final MeterRegistry registry;
  private final TaskDispatcher dispatcher;
  private final Map<String, Counter> counters = new ConcurrentHashMap<>();
  private final Map<String, Timer> timers = new ConcurrentHashMap<>();
  private final Set<PoolKey> gauged = ConcurrentHashMap.newKeySet();

  public TaskMetrics(MeterRegistry registry, TaskDispatcher dispatcher) {
    this.registry = registry;
    this.dispatcher = dispatcher;
  }

  @Override
  public void onTaskEvent(TaskEvent event) {
    if (event.type() == TaskEvent.Type.PROGRESS) {
      return; // not a transition
    }
    TaskSnapshot task = event.task();
    String pool = task.pool() == null ? "none" : task.pool().toString();
    if (task.pool() != null && gauged.add(task.pool())) {
      registerGauges(task.pool());
    }
    String state = event.type().name().toLowerCase();
    counters
        .computeIfAbsent(
            pool + "|" + state,
            k ->
                Counter.builder("vera.tasks")
                    .description("Task transitions by pool and state")
                    .tag("pool", pool)
                    .tag("state", state)
                    .register(registry))
        .increment();
    if (event.type() == TaskEvent.Type.STARTED
        && task.queuedAt() != null
        && task.startedAt() != null) {
      timer("vera.task.queue.wait", "Time from queued to started", pool)
          .record(Duration.between(task.queuedAt(), task.startedAt()));
    }
    if (task.phase().isFinished() && task.startedAt() != null && task.completedAt() != null) {
      timer("vera.task.run", "Time from started to finished", pool)
          .record(Duration.between(task.startedAt(), task.completedAt()));
    }
  }

  private Timer timer(String name, String description, String pool) {
    return timers.computeIfAbsent(
        name + "|" + pool,
        k ->
            Timer.builder(name)
                .description(description)
                .tag("pool", pool)
                .publishPercentileHistogram()
                .register(registry));
  }

  private void registerGauges(PoolKey pool) {
    Gauge.builder(
            "vera.queue.depth", () -> dispatcher.poolStats(pool).map(s -> s.queued()).orElse(0))
        .description("Tasks waiting in a pool's queue")
        .tag("pool", pool.toString())
        .register(registry);
    Gauge.builder(
            "vera.tasks.running", () -> dispatcher.poolStats(pool).map(s -> s.running()).orElse(0))
        .description("Tasks running in a pool")
        .tag("pool", pool.toString())
        .register(registry);
  }
}
