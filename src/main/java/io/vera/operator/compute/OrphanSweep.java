package io.vera.operator.compute;

import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs {@link ComputeService#sweepOrphans} shortly after start (once the reconcilers have opened
 * the hosts of existing Providers) and then every few minutes, so machines whose ComputeResource
 * was deleted while the operator was down do not run forever.
 */
public final class OrphanSweep implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(OrphanSweep.class);
  static final long FIRST_AFTER_SECONDS = 5;
  static final long EVERY_SECONDS = 180;

  private final ComputeService compute;
  private final Set<String> watchNamespaces;
  private final BooleanSupplier leading;
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "compute-orphan-sweep");
            t.setDaemon(true);
            return t;
          });

  /**
   * @param watchNamespaces the namespaces this operator owns; empty for all
   * @param leading whether this replica leads; a standby never removes machines
   */
  public OrphanSweep(ComputeService compute, Set<String> watchNamespaces, BooleanSupplier leading) {
    this.compute = compute;
    this.watchNamespaces = Set.copyOf(watchNamespaces);
    this.leading = leading;
  }

  public void start() {
    timer.scheduleWithFixedDelay(this::sweep, FIRST_AFTER_SECONDS, EVERY_SECONDS, TimeUnit.SECONDS);
  }

  /** One pass; returns how many machines it removed. */
  public int sweep() {
    if (!leading.getAsBoolean()) {
      return 0;
    }
    try {
      return compute.sweepOrphans(watchNamespaces);
    } catch (RuntimeException e) {
      LOG.warn("orphan sweep failed: {}", e.getMessage());
      return 0;
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
