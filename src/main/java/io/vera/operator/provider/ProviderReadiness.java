package io.vera.operator.provider;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code vera_provider_ready{namespace, name}}: 1 while a Provider's Ready condition is True, 0
 * while it is not, absent once the Provider is gone. Set by the {@link ProviderReconciler} on the
 * leader, so an alert on it means "the operator finds this provider unusable", whether or not
 * anyone is calling it.
 */
public final class ProviderReadiness {
  private final MeterRegistry metrics;
  private final Map<ProviderKey, Held> gauges = new ConcurrentHashMap<>();

  private record Held(AtomicInteger value, Gauge gauge) {}

  public ProviderReadiness(MeterRegistry metrics) {
    this.metrics = metrics;
  }

  void set(ProviderKey key, boolean ready) {
    gauges
        .computeIfAbsent(
            key,
            k -> {
              AtomicInteger value = new AtomicInteger();
              Gauge gauge =
                  Gauge.builder("vera.provider.ready", value, AtomicInteger::get)
                      .description("1 while the Provider's Ready condition is True, else 0")
                      .tags(Tags.of("namespace", k.namespace(), "name", k.name()))
                      .register(metrics);
              return new Held(value, gauge);
            })
        .value()
        .set(ready ? 1 : 0);
  }

  void forget(ProviderKey key) {
    Held held = gauges.remove(key);
    if (held != null) {
      metrics.remove(held.gauge());
    }
  }
}
