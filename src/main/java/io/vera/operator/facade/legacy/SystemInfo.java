package io.vera.operator.facade.legacy;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.management.GarbageCollectorMXBean;
import com.sun.management.GcInfo;
import com.sun.management.OperatingSystemMXBean;
import io.vera.operator.facade.JsonBody;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/** Machine and process figures for the legacy system/metrics and system/processes endpoints. */
final class SystemInfo {
  private static final double GIB = 1024.0 * 1024 * 1024;
  private static final double MIB = 1024.0 * 1024;

  private SystemInfo() {}

  static ObjectNode machine(double cpuPercent) {
    OperatingSystemMXBean os = ManagementFactory.getPlatformMXBean(OperatingSystemMXBean.class);
    long total = os.getTotalMemorySize();
    long free = os.getFreeMemorySize();
    MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
    ObjectNode metrics = JsonBody.MAPPER.createObjectNode();
    metrics.put("timestamp", LocalDateTime.now().withNano(0).toString());
    metrics.put("cpu_percent", round(cpuPercent));
    metrics.put("memory_percent", total == 0 ? 0 : round(100.0 * (total - free) / total));
    metrics.put("memory_used_gb", round((total - free) / GIB));
    metrics.put("memory_total_gb", round(total / GIB));
    metrics.put("heap_used_mb", round(heap.getUsed() / MIB));
    metrics.put("heap_max_mb", round(heap.getMax() / MIB));
    metrics.put("heap_after_gc_mb", round(heapAfterLastCollection() / MIB));
    return metrics;
  }

  /**
   * Heap in use right after the latest collection of any kind: the live data plus whatever the
   * collector has not yet found dead (an upper bound). Each pool's own after-collection figure is
   * not used: G1 updates its old generation's only on old and mixed collections, so under a steady
   * load that figure stays at its value from minutes before and understates the live data.
   */
  static long heapAfterLastCollection() {
    GcInfo latest = null;
    for (var collector : ManagementFactory.getGarbageCollectorMXBeans()) {
      if (collector instanceof GarbageCollectorMXBean withInfo) {
        GcInfo info = withInfo.getLastGcInfo();
        if (info != null && (latest == null || info.getEndTime() > latest.getEndTime())) {
          latest = info;
        }
      }
    }
    if (latest == null) {
      return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
    Map<String, MemoryUsage> after = latest.getMemoryUsageAfterGc();
    long used = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      MemoryUsage usage = after.get(pool.getName());
      if (pool.getType() == MemoryType.HEAP && usage != null) {
        used += usage.getUsed();
      }
    }
    return used;
  }

  /** The processes that used the most CPU time per second of their life, like {@code top}. */
  static ObjectNode topProcesses(int limit) {
    Instant now = Instant.now();
    int cores = Runtime.getRuntime().availableProcessors();
    record Row(long pid, String name, String user, double cpuPercent) {}
    List<Row> rows =
        ProcessHandle.allProcesses()
            .map(
                p -> {
                  ProcessHandle.Info info = p.info();
                  Duration cpu = info.totalCpuDuration().orElse(Duration.ZERO);
                  Duration age =
                      info.startInstant().map(s -> Duration.between(s, now)).orElse(Duration.ZERO);
                  double percent = age.isZero() ? 0 : 100.0 * cpu.toNanos() / age.toNanos() / cores;
                  String command = info.command().orElse("?");
                  String name = command.substring(command.lastIndexOf('/') + 1);
                  return new Row(p.pid(), name, info.user().orElse(null), round(percent));
                })
            .sorted(Comparator.comparingDouble(Row::cpuPercent).reversed())
            .limit(limit)
            .toList();
    ObjectNode response = JsonBody.MAPPER.createObjectNode();
    ArrayNode list = response.putArray("processes");
    for (Row row : rows) {
      ObjectNode item = list.addObject();
      item.put("pid", row.pid());
      item.put("name", row.name());
      item.put("username", row.user());
      item.put("cpu_percent", row.cpuPercent());
    }
    response.put("count", list.size());
    return response;
  }

  private static double round(double value) {
    return Math.round(value * 100.0) / 100.0;
  }
}
