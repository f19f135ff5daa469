package io.vera.operator.compute;

import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceStatus;
import io.vera.operator.provider.ProviderKey;
import io.vera.operator.retry.Backoff;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * When auto-provisioning may make the next container on a Provider: after a container it made
 * failed to start (phase {@code Failed}: the engine refused it, its image cannot be had), the next
 * waits {@link #FIRST} doubling to {@link #MAX}, since the same template fails the same way until
 * someone changes it. A container of that Provider that starts afterwards, or a change of the
 * Provider's {@code autoProvision} template, ends the backoff.
 *
 * <p>Held in memory: after an operator restart the failed resources still present count again as
 * failures in a row, so the backoff resumes from their number rather than from zero.
 */
final class AutoProvisionBackoff {
  static final Duration FIRST = Duration.ofSeconds(30);
  static final Duration MAX = Duration.ofMinutes(10);
  private static final Backoff BACKOFF = new Backoff(FIRST, MAX);

  /** A Provider's failures in a row and when the next attempt may be made. */
  private static final class State {
    final Set<String> counted = new HashSet<>();
    int failures;
    Instant failedAt;
    Instant retryAt;
    String template;
    String lastFailure;
  }

  /** What changed for one Provider in one look at its auto-provisioned resources. */
  record Change(ProviderKey provider, Kind kind, String message) {}

  enum Kind {
    /** A container failed to start; the next attempt waits. */
    FAILED,
    /** A container started after failures: auto-provisioning goes on as normal. */
    RECOVERED
  }

  private final Map<ProviderKey, State> states = new ConcurrentHashMap<>();

  /** {@code FIRST}, doubling per failure in a row, at most {@code MAX}. */
  static Duration delay(int failures) {
    return BACKOFF.step(Math.max(failures - 1, 0));
  }

  /**
   * Looks at the auto-provisioned resources of one namespace and returns the failures and
   * recoveries not seen before, one per Provider at most.
   */
  List<Change> observe(String namespace, List<ComputeResource> autoProvisioned, Instant now) {
    Map<ProviderKey, Change> changes = new LinkedHashMap<>();
    for (ComputeResource r : autoProvisioned) {
      if (r.getSpec() == null || r.getSpec().providerRef == null) {
        continue;
      }
      ProviderKey key = new ProviderKey(namespace, r.getSpec().providerRef);
      ComputeResourceStatus.Phase phase = r.getStatus() == null ? null : r.getStatus().phase;
      String uid = r.getMetadata().getUid();
      if (phase == ComputeResourceStatus.Phase.Failed) {
        State state = states.computeIfAbsent(key, k -> new State());
        if (!state.counted.add(uid)) {
          continue;
        }
        state.failures++;
        state.failedAt = now;
        Duration wait = delay(state.failures);
        state.retryAt = now.plus(wait);
        state.lastFailure =
            "auto-provisioned "
                + r.getMetadata().getName()
                + " failed to start ("
                + readyMessage(r)
                + "); "
                + state.failures
                + (state.failures == 1 ? " failure" : " failures in a row")
                + ", next attempt in "
                + wait.toSeconds()
                + " s, at "
                + state.retryAt
                + " (fix the Provider's docker.autoProvision template to retry at once)";
        changes.put(key, new Change(key, Kind.FAILED, state.lastFailure));
      } else if (phase == ComputeResourceStatus.Phase.Available
          || phase == ComputeResourceStatus.Phase.InUse) {
        State state = states.get(key);
        if (state != null && state.failures > 0 && createdAfter(r, state.failedAt)) {
          reset(state);
          changes.putIfAbsent(
              key,
              new Change(
                  key,
                  Kind.RECOVERED,
                  "auto-provisioned " + r.getMetadata().getName() + " started"));
        }
      }
    }
    return List.copyOf(changes.values());
  }

  /**
   * Whether the Provider's {@code autoProvision} template differs from the one that failed; if so
   * the backoff ends at once (someone fixed it) and this returns true, once.
   *
   * @param template the Provider's {@code autoProvision} as JSON
   */
  boolean templateChanged(ProviderKey provider, String template) {
    State state = states.get(provider);
    if (state == null) {
      return false;
    }
    String before = state.template;
    state.template = template;
    if (state.failures == 0 || before == null || before.equals(template)) {
      return false;
    }
    reset(state);
    return true;
  }

  /** Notes the template a container was just made from, to tell a later fix from a retry. */
  void made(ProviderKey provider, String template) {
    states.computeIfAbsent(provider, k -> new State()).template = template;
  }

  /** Why no container may be made on this Provider now, or empty when one may. */
  Optional<String> blocked(ProviderKey provider, Instant now) {
    State state = states.get(provider);
    if (state == null || state.failures == 0 || !now.isBefore(state.retryAt)) {
      return Optional.empty();
    }
    return Optional.of(state.lastFailure);
  }

  /** The message of a Provider's current backoff, while it has failures in a row. */
  Optional<String> backingOff(ProviderKey provider) {
    State state = states.get(provider);
    return state == null || state.failures == 0
        ? Optional.empty()
        : Optional.ofNullable(state.lastFailure);
  }

  /** Providers with failures in a row, whose condition must stay said. */
  Set<ProviderKey> failing() {
    Set<ProviderKey> keys = new HashSet<>();
    states.forEach(
        (k, s) -> {
          if (s.failures > 0) {
            keys.add(k);
          }
        });
    return keys;
  }

  /** Forgets a Provider that is gone. */
  void forget(ProviderKey provider) {
    states.remove(provider);
  }

  private static void reset(State state) {
    state.failures = 0;
    state.retryAt = null;
    state.lastFailure = null;
  }

  private static boolean createdAfter(ComputeResource r, Instant instant) {
    String created = r.getMetadata().getCreationTimestamp();
    if (created == null || instant == null) {
      return false;
    }
    // creationTimestamp has whole seconds: a resource made in the second of the failure counts.
    return !Instant.parse(created).isBefore(instant.truncatedTo(ChronoUnit.SECONDS));
  }

  private static String readyMessage(ComputeResource r) {
    if (r.getStatus() == null || r.getStatus().conditions == null) {
      return "no reason given";
    }
    return r.getStatus().conditions.stream()
        .filter(c -> Objects.equals(c.getType(), "Ready"))
        .map(c -> c.getReason() + ": " + c.getMessage())
        .findFirst()
        .orElse("no reason given");
  }
}
