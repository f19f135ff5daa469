package io.vera.operator.pool;

import com.sun.management.OperatingSystemMXBean;
import java.lang.management.ManagementFactory;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;

/**
 * The machine's CPU use in percent, sampled once a second so that checking it on every lease costs
 * nothing. Feeds the pools' cpuThresholdPercent.
 */
public final class CpuSampler implements DoubleSupplier, AutoCloseable {
  private final OperatingSystemMXBean os =
      ManagementFactory.getPlatformMXBean(OperatingSystemMXBean.class);
  private final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "cpu-sampler");
            t.setDaemon(true);
            return t;
          });
  private volatile double percent;

  public CpuSampler() {
    scheduler.scheduleAtFixedRate(this::sample, 0, 1, TimeUnit.SECONDS);
  }

  private void sample() {
    double load = os.getCpuLoad();
    if (load >= 0) {
      percent = load * 100.0;
    }
  }

  @Override
  public double getAsDouble() {
    return percent;
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
