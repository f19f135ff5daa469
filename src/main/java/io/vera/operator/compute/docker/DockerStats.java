package io.vera.operator.compute.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.CpuStatsConfig;
import com.github.dockerjava.api.model.MemoryStatsConfig;
import com.github.dockerjava.api.model.StatisticNetworksConfig;
import com.github.dockerjava.api.model.Statistics;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.compute.Machine;
import io.vera.operator.compute.MachineStats;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Live usage of a container, as {@code docker stats --no-stream} shows it. */
final class DockerStats {
  private final String host;
  private final DockerClient streams;
  private final Duration timeout;

  /**
   * @param streams the client without a read timeout; each sample is bounded by {@code timeout}
   */
  DockerStats(String host, DockerClient streams, Duration timeout) {
    this.host = host;
    this.streams = streams;
    this.timeout = timeout;
  }

  /**
   * One sample of {@code docker stats --no-stream}: CPU percent as the CLI computes it (container
   * CPU time delta over host CPU time delta, times online CPUs), memory usage without the page
   * cache, and network bytes summed over the container's interfaces (0 with network {@code none}).
   * Figures the engine does not report for a stopped container are -1.
   */
  MachineStats stats(Machine machine) throws ComputeException {
    String id = ContainerMachines.containerId(machine);
    StatsCollector collector = new StatsCollector();
    try {
      streams.statsCmd(id).withNoStream(true).exec(collector);
      if (!collector.awaitCompletion(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new ComputeException(
            Reason.UNAVAILABLE, "container " + id + " stats did not arrive in time");
      }
      collector.rethrow();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ComputeException(Reason.UNAVAILABLE, "interrupted while reading stats", e);
    } catch (NotFoundException e) {
      throw new ComputeException(Reason.NOT_FOUND, "container " + id + " no longer exists", e);
    } catch (RuntimeException e) {
      throw DockerErrors.unavailableOr(host, "read stats of container " + id, e);
    } finally {
      DockerErrors.closeQuietly(collector);
    }
    Statistics stats = collector.stats;
    if (stats == null) {
      throw new ComputeException(Reason.FAILED, "the engine sent no stats for container " + id);
    }
    return toStats(stats);
  }

  static MachineStats toStats(Statistics stats) {
    return new MachineStats(
        cpuPercent(stats.getCpuStats(), stats.getPreCpuStats()),
        memoryUsage(stats.getMemoryStats()),
        memoryLimit(stats.getMemoryStats()),
        network(stats, true),
        network(stats, false),
        Instant.now());
  }

  static double cpuPercent(CpuStatsConfig now, CpuStatsConfig before) {
    if (now == null || now.getCpuUsage() == null || now.getSystemCpuUsage() == null) {
      return -1;
    }
    long total = nz(now.getCpuUsage().getTotalUsage());
    long system = nz(now.getSystemCpuUsage());
    long previousTotal =
        before == null || before.getCpuUsage() == null
            ? 0
            : nz(before.getCpuUsage().getTotalUsage());
    long previousSystem = before == null ? 0 : nz(before.getSystemCpuUsage());
    long cpuDelta = total - previousTotal;
    long systemDelta = system - previousSystem;
    long online = nz(now.getOnlineCpus());
    if (online == 0 && now.getCpuUsage().getPercpuUsage() != null) {
      online = now.getCpuUsage().getPercpuUsage().size();
    }
    if (online == 0) {
      online = 1;
    }
    if (systemDelta <= 0 || cpuDelta < 0) {
      return 0;
    }
    return (double) cpuDelta / systemDelta * online * 100.0;
  }

  static long memoryUsage(MemoryStatsConfig memory) {
    if (memory == null || memory.getUsage() == null) {
      return -1;
    }
    long usage = memory.getUsage();
    if (memory.getStats() != null) {
      // What docker stats shows: cgroup v1 subtracts total_inactive_file, v2 inactive_file.
      Long inactive = memory.getStats().getTotalInactiveFile();
      if (inactive == null) {
        inactive = memory.getStats().getInactiveFile();
      }
      if (inactive != null && inactive < usage) {
        usage -= inactive;
      }
    }
    return usage;
  }

  static long memoryLimit(MemoryStatsConfig memory) {
    return memory == null || memory.getLimit() == null ? -1 : memory.getLimit();
  }

  static long network(Statistics stats, boolean rx) {
    Map<String, StatisticNetworksConfig> networks = stats.getNetworks();
    if (networks == null) {
      return 0;
    }
    long sum = 0;
    for (StatisticNetworksConfig net : networks.values()) {
      sum += nz(rx ? net.getRxBytes() : net.getTxBytes());
    }
    return sum;
  }

  private static final class StatsCollector extends ResultCallback.Adapter<Statistics> {
    private volatile Statistics stats;
    private volatile Throwable failure;

    @Override
    public void onNext(Statistics statistics) {
      if (stats == null) {
        stats = statistics;
      }
    }

    @Override
    public void onError(Throwable throwable) {
      failure = throwable;
      super.onError(throwable);
    }

    void rethrow() {
      Throwable t = failure;
      if (t instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (t != null) {
        throw new IllegalStateException(t.getMessage(), t);
      }
    }
  }

  private static long nz(Long value) {
    return value == null ? 0 : value;
  }
}
