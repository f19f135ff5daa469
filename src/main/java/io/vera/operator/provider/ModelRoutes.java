package io.vera.operator.provider;

import io.vera.operator.api.ProviderSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The gateway's routes: public model names that Providers declare in {@code spec.routes}, each with
 * ordered targets (a Provider and its model) and weights, and the health of every target.
 *
 * <p>A call's {@link #plan} starts with a target drawn by weight among the healthy ones (weight 0:
 * a fallback only), then the other healthy targets in declared order, then those taken out of
 * rotation, so a call is never refused while some target might answer. A target that fails {@link
 * #FAILURES_TO_EJECT} calls in a row is out of rotation for a cooldown that starts at {@link
 * #BASE_COOLDOWN} and doubles with each failed probe up to {@link #MAX_COOLDOWN}; after it, the
 * next call probes it in its place, and one success puts it back.
 */
public final class ModelRoutes {
  static final int FAILURES_TO_EJECT = 3;
  static final Duration BASE_COOLDOWN = Duration.ofSeconds(10);
  static final Duration MAX_COOLDOWN = Duration.ofMinutes(5);

  /** One place a route sends calls. */
  public record Target(ProviderKey provider, String model, int weight) {
    @Override
    public String toString() {
      return provider.name() + "/" + model;
    }
  }

  /** A public model name and where it goes, as the Provider {@code declaredBy} declares it. */
  public record Route(String name, ProviderKey declaredBy, List<Target> targets) {}

  /** A target's recent failures, or its time out of rotation. */
  private static final class Health {
    int failuresInARow;
    Duration cooldown = Duration.ZERO;
    Instant ejectedUntil;
  }

  private final Clock clock;
  private final Map<ProviderKey, List<Route>> declared = new ConcurrentHashMap<>();

  /** Health by Provider and model, shared by every route that sends calls there. */
  private final Map<Endpoint, Health> health = new ConcurrentHashMap<>();

  private record Endpoint(ProviderKey provider, String model) {
    static Endpoint of(Target target) {
      return new Endpoint(target.provider(), target.model());
    }
  }

  private volatile Map<String, Route> byName = Map.of();

  ModelRoutes(Clock clock) {
    this.clock = clock;
  }

  /** Takes the routes a Provider declares (none: its routes go), its targets in its namespace. */
  synchronized void declare(ProviderKey provider, List<ProviderSpec.Route> routes) {
    List<Route> list = new ArrayList<>();
    if (routes != null) {
      for (ProviderSpec.Route route : routes) {
        if (route == null || route.name == null || route.targets == null) {
          continue;
        }
        List<Target> targets = new ArrayList<>();
        for (ProviderSpec.RouteTarget target : route.targets) {
          if (target != null && target.provider != null && target.model != null) {
            targets.add(
                new Target(
                    new ProviderKey(provider.namespace(), target.provider),
                    target.model,
                    target.weight == null ? 1 : Math.max(0, target.weight)));
          }
        }
        if (!targets.isEmpty()) {
          list.add(new Route(route.name, provider, List.copyOf(targets)));
        }
      }
    }
    if (list.isEmpty()) {
      declared.remove(provider);
    } else {
      declared.put(provider, List.copyOf(list));
    }
    rebuild();
  }

  /** Routes by name; when two Providers declare one name, the first by namespace and name wins. */
  private void rebuild() {
    Map<String, List<Route>> sorted = new TreeMap<>();
    declared.forEach((provider, routes) -> sorted.put(provider.toString(), routes));
    Map<String, Route> names = new TreeMap<>();
    sorted.values().forEach(routes -> routes.forEach(r -> names.putIfAbsent(r.name(), r)));
    byName = Map.copyOf(names);
  }

  public Optional<Route> route(String name) {
    return Optional.ofNullable(byName.get(name));
  }

  public Collection<Route> all() {
    return byName.values();
  }

  /** The order in which one call tries the route's targets. */
  public List<Target> plan(Route route) {
    Instant now = clock.instant();
    List<Target> healthy = new ArrayList<>();
    List<Target> ejected = new ArrayList<>();
    for (Target target : route.targets()) {
      (inRotation(target, now) ? healthy : ejected).add(target);
    }
    List<Target> plan = new ArrayList<>(route.targets().size());
    Target first = drawByWeight(healthy);
    if (first != null) {
      plan.add(first);
    }
    for (Target target : healthy) {
      if (target != first) {
        plan.add(target);
      }
    }
    plan.addAll(ejected);
    return plan;
  }

  private boolean inRotation(Target target, Instant now) {
    Health state = health.get(Endpoint.of(target));
    if (state == null) {
      return true;
    }
    synchronized (state) {
      if (state.ejectedUntil == null) {
        return true;
      }
      if (now.isBefore(state.ejectedUntil)) {
        return false;
      }
      // The cooldown is over: this call probes the target; others wait for its answer.
      state.ejectedUntil = now.plus(state.cooldown);
      return true;
    }
  }

  private static Target drawByWeight(List<Target> targets) {
    int total = targets.stream().mapToInt(Target::weight).sum();
    if (total <= 0) {
      return null;
    }
    int ticket = ThreadLocalRandom.current().nextInt(total);
    for (Target target : targets) {
      ticket -= target.weight();
      if (ticket < 0) {
        return target;
      }
    }
    return null;
  }

  /** A call the target answered: it is healthy again. */
  public void succeeded(Target target) {
    Health state = health.get(Endpoint.of(target));
    if (state != null) {
      synchronized (state) {
        state.failuresInARow = 0;
        state.cooldown = Duration.ZERO;
        state.ejectedUntil = null;
      }
    }
  }

  /** A call the target failed (an upstream failure, not one of Vera's own refusals). */
  public void failed(Target target) {
    Health state = health.computeIfAbsent(Endpoint.of(target), t -> new Health());
    synchronized (state) {
      state.failuresInARow++;
      boolean probing = state.ejectedUntil != null;
      if (probing || state.failuresInARow >= FAILURES_TO_EJECT) {
        Duration doubled = state.cooldown.isZero() ? BASE_COOLDOWN : state.cooldown.multipliedBy(2);
        state.cooldown = doubled.compareTo(MAX_COOLDOWN) > 0 ? MAX_COOLDOWN : doubled;
        state.ejectedUntil = clock.instant().plus(state.cooldown);
      }
    }
  }

  /** Whether the target is out of rotation now. */
  boolean ejected(Target target) {
    Health state = health.get(Endpoint.of(target));
    if (state == null) {
      return false;
    }
    synchronized (state) {
      return state.ejectedUntil != null && clock.instant().isBefore(state.ejectedUntil);
    }
  }

  /**
   * Whether a call that failed with {@code e} before its first byte may go to the next target: a
   * rate limit or spent budget (429), an upstream failure (5xx, Anthropic's 529), a timeout (504)
   * or a connection error (502), or a target Provider that is not ready (404). A refused request
   * (other 4xx) would be refused by every target alike.
   */
  public static boolean fallsBack(ProviderException e) {
    return e.status() == 429 || e.status() >= 500 || e.status() == 404;
  }

  /** Whether {@code e} says something about the target's health (not one of Vera's refusals). */
  public static boolean countsAgainstHealth(ProviderException e) {
    return !(e instanceof RefusedCallException) && e.status() != 404 && fallsBack(e);
  }
}
