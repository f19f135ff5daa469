package io.vera.operator.compute;

import io.vera.operator.api.Provider;
import io.vera.operator.provider.ProviderKey;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Whether the host behind a Docker or Proxmox Provider answers now, within a short deadline of the
 * caller's choosing rather than the Provider's own (often a minute): a REST call that is about to
 * create a machine asks here first, so a host that is down or silent is refused within seconds and
 * nothing is created.
 *
 * <p>At most one probe per host runs at a time; callers arriving meanwhile share it, and a finished
 * answer is reused for {@link #REMEMBER}. A probe that has already run longer than a caller's
 * deadline answers {@link Verdict#SILENT} at once, so a silent host costs one thread (until the
 * Provider's own timeout ends the probe), not one per request. Probe threads are daemons and end
 * after a minute idle.
 */
public final class HostReachability {
  /** How long a finished probe's answer is reused. */
  static final Duration REMEMBER = Duration.ofSeconds(3);

  /** What a check found. */
  public enum Verdict {
    /** The host answered the probe. */
    REACHABLE,
    /** The host refused or failed the probe: connection refused, no such socket, an error. */
    UNREACHABLE,
    /** The host did not answer within the caller's deadline. */
    SILENT
  }

  /** A verdict with what a person needs to know about it. */
  public record Answer(Verdict verdict, String detail) {}

  /** One probe of one host: when it started and, once done, when it finished. */
  private record Probe(
      long startedNanos, AtomicLong finishedNanos, CompletableFuture<Answer> answer) {}

  private final ComputeHosts hosts;

  /** A Provider at one generation: a changed spec is a different host to ask. */
  private record HostKey(ProviderKey provider, Long generation) {}

  private final Map<HostKey, Probe> probes = new ConcurrentHashMap<>();
  private final ExecutorService probing =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "host-reachability");
            t.setDaemon(true);
            return t;
          });

  HostReachability(ComputeHosts hosts) {
    this.hosts = hosts;
  }

  /**
   * Probes the Provider's host, or shares a probe in flight or just finished, and waits for it at
   * most {@code deadline} counted from when that probe started.
   */
  public Answer check(Provider provider, Duration deadline) throws InterruptedException {
    ProviderKey key =
        new ProviderKey(provider.getMetadata().getNamespace(), provider.getMetadata().getName());
    probes
        .keySet()
        .removeIf(k -> k.provider().equals(key) && !k.generation().equals(generation(provider)));
    Probe probe =
        probes.compute(
            new HostKey(key, generation(provider)),
            (k, current) -> fresh(current) ? current : start(provider));
    long left = probe.startedNanos() + deadline.toNanos() - System.nanoTime();
    try {
      return probe.answer().get(Math.max(0, left), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      return new Answer(
          Verdict.SILENT,
          "the host of Provider "
              + key.name()
              + " did not answer within "
              + deadline.toSeconds()
              + " s");
    } catch (ExecutionException e) {
      return new Answer(Verdict.UNREACHABLE, String.valueOf(e.getCause()));
    }
  }

  private static Long generation(Provider provider) {
    Long generation = provider.getMetadata().getGeneration();
    return generation == null ? 0L : generation;
  }

  private static boolean fresh(Probe probe) {
    if (probe == null) {
      return false;
    }
    long finished = probe.finishedNanos().get();
    return finished == 0 || System.nanoTime() - finished < REMEMBER.toNanos();
  }

  private Probe start(Provider provider) {
    Probe probe = new Probe(System.nanoTime(), new AtomicLong(), new CompletableFuture<>());
    probing.execute(
        () -> {
          Answer answer;
          try {
            hosts.hostOf(provider).probe();
            answer = new Answer(Verdict.REACHABLE, "the host answered");
          } catch (ComputeException | RuntimeException e) {
            answer = new Answer(Verdict.UNREACHABLE, e.getMessage());
          }
          probe.finishedNanos().set(Math.max(1, System.nanoTime()));
          probe.answer().complete(answer);
        });
    return probe;
  }
}
