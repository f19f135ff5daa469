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
 * Prometheus figures of the task flow: transitions by pool and state, queue depth, running tasks
 * and the oldest queued task's age per pool, and histograms of queue wait and run time. Every
 * series carries the pool as {@code pool} ("namespace/name") and as separate {@code namespace} and
 * {@code name} labels, which dashboards and alerts join on.
 */
public final class TaskMetrics implements TaskListener {
  /**
   * Histogram buckets of queue wait and run time, 5 ms to 1 h: 15 series per pool instead of the 69
   * of Micrometer's percentile histogram.
   */
  private static final Duration[] TASK_BUCKETS = {
    Duration.ofMillis(5),
    Duration.ofMillis(25),
    Duration.ofMillis(100),
    Duration.ofMillis(250),
    Duration.ofMillis(500),
    Duration.ofSeconds(1),
    Duration.ofSeconds(2),
    Duration.ofSeconds(5),
    Duration.ofSeconds(10),
    Duration.ofSeconds(30),
    Duration.ofMinutes(1),
    Duration.ofMinutes(5),
    Duration.ofMinutes(15),
    Duration.ofMinutes(30),
    Duration.ofHours(1)
  };

  private final MeterRegistry registry;
  private final TaskQueueView dispatcher;
  private final Map<String, Counter> counters = new ConcurrentHashMap<>();
  private final Map<String, Timer> timers = new ConcurrentHashMap<>();
  private final Set<PoolKey> gauged = ConcurrentHashMap.newKeySet();

  public TaskMetrics(MeterRegistry registry, TaskQueueView dispatcher) {
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
    String namespace = task.pool() == null ? task.key().namespace() : task.pool().namespace();
    String name = task.pool() == null ? "none" : task.pool().name();
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
                    .tag("namespace", namespace)
                    .tag("name", name)
                    .tag("state", state)
                    .register(registry))
        .increment();
    if (event.type() == TaskEvent.Type.STARTED
        && task.queuedAt() != null
        && task.startedAt() != null) {
      timer("vera.task.queue.wait", "Time from queued to started", pool, namespace, name)
          .record(Duration.between(task.queuedAt(), task.startedAt()));
    }
    if (task.phase().isFinished() && task.startedAt() != null && task.completedAt() != null) {
      timer("vera.task.run", "Time from started to finished", pool, namespace, name)
          .record(Duration.between(task.startedAt(), task.completedAt()));
    }
  }

  private Timer timer(
      String metric, String description, String pool, String namespace, String name) {
    return timers.computeIfAbsent(
        metric + "|" + pool,
        k ->
            Timer.builder(metric)
                .description(description)
                .tag("pool", pool)
                .tag("namespace", namespace)
                .tag("name", name)
                .serviceLevelObjectives(TASK_BUCKETS)
                .register(registry));
  }

  private void registerGauges(PoolKey pool) {
    Gauge.builder(
            "vera.queue.depth", () -> dispatcher.poolStats(pool).map(s -> s.queued()).orElse(0))
        .description("Tasks waiting in a pool's queue")
        .tag("pool", pool.toString())
        .tag("namespace", pool.namespace())
        .tag("name", pool.name())
        .register(registry);
    Gauge.builder(
            "vera.queue.oldest.age",
            () ->
                dispatcher
                    .poolStats(pool)
                    .map(s -> s.oldestQueuedAgeSeconds())
                    .map(Long::doubleValue)
                    .orElse(0.0))
        .description("Age of the oldest task waiting in a pool's queue; 0 when it is empty")
        .baseUnit("seconds")
        .tag("pool", pool.toString())
        .tag("namespace", pool.namespace())
        .tag("name", pool.name())
        .register(registry);
    Gauge.builder(
            "vera.tasks.running", () -> dispatcher.poolStats(pool).map(s -> s.running()).orElse(0))
        .description("Tasks running in a pool")
        .tag("pool", pool.toString())
        .tag("namespace", pool.namespace())
        .tag("name", pool.name())
        .register(registry);
  }
}
