package io.vera.operator.provider;

import java.util.function.Supplier;

/**
 * A meter found in the registry on its first use and kept: building a meter's id and looking it up
 * on every call cost more than recording into it, and a meter that was never used stays out of the
 * scrape as before.
 */
final class LazyMeter<M> {
  private final Supplier<M> lookup;
  private volatile M meter;

  LazyMeter(Supplier<M> lookup) {
    this.lookup = lookup;
  }

  M get() {
    M found = meter;
    if (found == null) {
      found = lookup.get();
      meter = found;
    }
    return found;
  }
}
