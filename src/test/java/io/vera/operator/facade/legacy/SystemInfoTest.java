package io.vera.operator.facade.legacy;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The heap figure {@code bench} and {@code system/metrics} report as "after last GC". */
class SystemInfoTest {

  private static final int MIB = 1024 * 1024;

  /** Keeps the allocations of the test reachable until it ends. */
  private final List<byte[]> kept = new ArrayList<>();

  @Test
  void heapAfterTheLatestCollectionCountsWhatSurvivedAYoungCollectionToo() {
    keep(64);
    System.gc();
    assertThat(SystemInfo.heapAfterLastCollection()).isGreaterThanOrEqualTo(64L * MIB);

    // More data kept, then only young collections: an old generation's own after-collection
    // figure would still say 64 MB.
    keep(64);
    long collections = totalCollections();
    for (int round = 0; round < 100_000 && totalCollections() == collections; round++) {
      byte[] garbage = new byte[64 * 1024];
      assertThat(garbage).hasSize(64 * 1024);
    }

    long afterGc = SystemInfo.heapAfterLastCollection();

    assertThat(totalCollections()).isGreaterThan(collections);
    assertThat(afterGc).isGreaterThanOrEqualTo(128L * MIB);
    assertThat(afterGc)
        .isLessThanOrEqualTo(ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getMax());
  }

  private void keep(int mebibytes) {
    for (int i = 0; i < mebibytes; i++) {
      kept.add(new byte[MIB]);
    }
  }

  private static long totalCollections() {
    return ManagementFactory.getGarbageCollectorMXBeans().stream()
        .mapToLong(GarbageCollectorMXBean::getCollectionCount)
        .sum();
  }
}
