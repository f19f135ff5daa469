package io.vera.operator.facade;

import io.vera.operator.task.PoolKey;
import io.vera.operator.task.TaskQueueView;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The dashboard's short memory: every {@link #INTERVAL} the queued, running, succeeded and failed
 * counts of each pool, kept for {@link #SPAN}, from which it plots throughput and queue depth over
 * the last hour and computes each pool's recent success and failure rates. It lives in memory only:
 * after a restart the plots start empty, as a monitoring system's would not (Prometheus scrapes the
 * same counts from {@code /metrics} for longer views).
 */
final class DashboardSamples implements AutoCloseable {
  static final Duration INTERVAL = Duration.ofSeconds(10);
  static final Duration SPAN = Duration.ofHours(1);

  /** One pool's counts at one moment; succeeded and failed are totals since the pool appeared. */
  record Counts(int queued, int running, long succeeded, long failed) {}

  /** All pools' counts at one moment. */
  record Sample(Instant at, Map<PoolKey, Counts> pools) {}

  private final TaskQueueView dispatcher;
  private final Clock clock;
  private final ArrayDeque<Sample> samples = new ArrayDeque<>();
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "dashboard-samples");
            t.setDaemon(true);
            return t;
          });

  DashboardSamples(TaskQueueView dispatcher, Clock clock) {
    this.dispatcher = dispatcher;
    this.clock = clock;
    timer.scheduleAtFixedRate(this::sample, 0, INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void sample() {
    Map<PoolKey, Counts> counts = new LinkedHashMap<>();
    for (PoolKey pool : dispatcher.pools()) {
      dispatcher
          .poolStats(pool)
          .ifPresent(
              s ->
                  counts.put(pool, new Counts(s.queued(), s.running(), s.succeeded(), s.failed())));
    }
    Instant now = clock.instant();
    synchronized (samples) {
      samples.addLast(new Sample(now, counts));
      while (!samples.isEmpty() && samples.peekFirst().at().isBefore(now.minus(SPAN))) {
        samples.removeFirst();
      }
    }
  }

  /** The samples of the last hour, oldest first. */
  List<Sample> all() {
    synchronized (samples) {
      return new ArrayList<>(samples);
    }
  }

  /**
   * Tasks of a pool finished per minute over the last {@code window}, as {succeeded, failed}; zeros
   * until two samples span part of it.
   */
  double[] ratesPerMinute(PoolKey pool, Duration window) {
    List<Sample> all = all();
    if (all.size() < 2) {
      return new double[] {0, 0};
    }
    Sample last = all.get(all.size() - 1);
    Sample first = last;
    // The oldest sample within the window that knows the pool (it may have appeared since).
    for (int i = all.size() - 1; i >= 0; i--) {
      if (all.get(i).at().isBefore(last.at().minus(window))) {
        break;
      }
      if (all.get(i).pools().containsKey(pool)) {
        first = all.get(i);
      }
    }
    Counts from = first.pools().get(pool);
    Counts to = last.pools().get(pool);
    double minutes = Duration.between(first.at(), last.at()).toMillis() / 60_000.0;
    if (from == null || to == null || minutes <= 0) {
      return new double[] {0, 0};
    }
    return new double[] {
      Math.max(0, to.succeeded() - from.succeeded()) / minutes,
      Math.max(0, to.failed() - from.failed()) / minutes
    };
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
