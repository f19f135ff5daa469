package io.vera.operator.app;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vera.operator.retry.Backoff;
import io.vera.operator.retry.Sleeper;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Labels this replica's own pod {@value #LABEL}{@code =<lease name>} while it leads, so that a
 * Service selecting the label sends REST, WebSockets and worker leases to the leader alone while
 * the standbys report Ready (they can take over). With standbys Ready, a PodDisruptionBudget of
 * {@code maxUnavailable: 1} lets a drain evict the leader: the standby takes over and labels its
 * own pod.
 *
 * <p>Who removes the label, so that no pod but the leader stays selected:
 *
 * <ul>
 *   <li>every replica, from its own pod, at start and before it reports Ready ({@link #cleared}): a
 *       container that restarts in its pod (it exits when it loses the Lease, crashes or is killed)
 *       finds the labels its pod had;
 *   <li>a replica that stops leading, from its own pod (it waits {@link #STEP_DOWN_WAIT} at most,
 *       since it usually exits next, and is then not Ready anyway);
 *   <li>a new leader, from every other pod labelled for the same Lease, right after labelling its
 *       own: a leader that died without removing it (its node lost, a partition) is no longer
 *       selected even while its pod still counts as Ready.
 * </ul>
 *
 * <p>The value is the Lease's name, so the pods of another installation in the namespace (another
 * Lease) are never touched. Changes run in order on one thread, each tried again with backoff until
 * it lands; labelling stops being tried once this replica no longer leads. A JSON merge patch needs
 * only {@code patch} on pods (the new leader also {@code list}s them), in the pod's namespace.
 */
public final class LeaderPodLabel implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LeaderPodLabel.class);

  /** The label's key; its value is the leader election Lease's name. */
  public static final String LABEL = "vera.io/leader";

  static final Duration STEP_DOWN_WAIT = Duration.ofSeconds(2);
  private static final Backoff RETRY =
      new Backoff(Duration.ofMillis(200), Duration.ofSeconds(5), 0.2);
  private static final Pattern LABEL_VALUE =
      Pattern.compile("(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?");

  private final KubernetesClient client;
  private final ClusterSettings.PodRef pod;
  private final String value;
  private final BooleanSupplier leading;
  private final Sleeper sleeper;
  private final ExecutorService serial;
  private volatile boolean cleared;
  private volatile boolean closed;

  /**
   * @param pod this replica's pod
   * @param leaseName the leader election Lease's name: the label's value, so at most 63 characters
   *     of a label value
   * @param leading whether this replica leads right now
   */
  public LeaderPodLabel(
      KubernetesClient client,
      ClusterSettings.PodRef pod,
      String leaseName,
      BooleanSupplier leading,
      Sleeper sleeper) {
    requireLabelValue(leaseName);
    this.client = client;
    this.pod = pod;
    this.value = leaseName;
    this.leading = leading;
    this.sleeper = sleeper;
    this.serial =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "leader-pod-label");
              t.setDaemon(true);
              return t;
            });
  }

  /** Refuses a Lease name that cannot be the label's value. */
  public static void requireLabelValue(String leaseName) {
    if (leaseName.length() > 63 || !LABEL_VALUE.matcher(leaseName).matches()) {
      throw new IllegalArgumentException(
          "the leader election Lease name "
              + leaseName
              + " is the value of the "
              + LABEL
              + " label on the leader's pod, so it must be a label value (at most 63 letters,"
              + " digits, '-', '_' or '.', beginning and ending with a letter or digit)");
    }
  }

  /** Removes the label from this replica's pod; {@link #cleared} once that landed. */
  public void start() {
    run(
        () -> {
          if (untilDone(
              "remove " + LABEL + " from " + pod + " at start", this::unlabelOwn, () -> true)) {
            cleared = true;
          }
        });
  }

  /**
   * Whether the label left at start is gone, so this replica may report Ready as a standby: only a
   * leader's pod carries it from then on.
   */
  public boolean cleared() {
    return cleared;
  }

  /** Leadership won: label this pod, then take the label off every other pod of the Lease. */
  public void startedLeading() {
    run(
        () -> {
          if (untilDone("label " + pod + " " + LABEL + "=" + value, this::labelOwn, leading)) {
            LOG.info("labelled {} {}={}: the Service now selects it", pod, LABEL, value);
            untilDone("remove " + LABEL + " from former leaders", this::unlabelOthers, leading);
          }
        });
  }

  /**
   * Leadership lost or given up: take the label off this pod, waiting {@link #STEP_DOWN_WAIT} at
   * most (the process usually exits next; it then is not Ready, and the next start removes it).
   */
  public void stoppedLeading() {
    Future<?> removed =
        run(
            () ->
                untilDone(
                    "remove " + LABEL + " from " + pod + " after leading",
                    this::unlabelOwn,
                    () -> !leading.getAsBoolean()));
    try {
      removed.get(STEP_DOWN_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      LOG.warn(
          "{} still carries {} after {}: the next leader removes it", pod, LABEL, STEP_DOWN_WAIT);
    } catch (CancellationException e) {
      // stopped meanwhile
    } catch (ExecutionException e) {
      LOG.warn("removing {} from {} failed", LABEL, pod, e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    closed = true;
    serial.shutdownNow();
  }

  /** Queues {@code change} behind the others; none once closed (the process is stopping). */
  private Future<?> run(Runnable change) {
    try {
      return serial.submit(change);
    } catch (RejectedExecutionException e) {
      return CompletableFuture.completedFuture(null);
    }
  }

  private void labelOwn() {
    patch(pod.name(), "{\"metadata\":{\"labels\":{\"" + LABEL + "\":\"" + value + "\"}}}");
  }

  private void unlabelOwn() {
    patch(pod.name(), "{\"metadata\":{\"labels\":{\"" + LABEL + "\":null}}}");
  }

  private void unlabelOthers() {
    for (Pod other :
        client.pods().inNamespace(pod.namespace()).withLabel(LABEL, value).list().getItems()) {
      String name = other.getMetadata().getName();
      if (!name.equals(pod.name())) {
        try {
          patch(name, "{\"metadata\":{\"labels\":{\"" + LABEL + "\":null}}}");
          LOG.info("removed {} from {}/{}, which led before", LABEL, pod.namespace(), name);
        } catch (KubernetesClientException e) {
          if (e.getCode() != 404) { // gone meanwhile: nothing selects it any more
            throw e;
          }
        }
      }
    }
  }

  /**
   * One PATCH request. (Through {@code withName(name)}, fabric8 would GET the pod first; named by a
   * stub it patches at once, so {@code patch} is the only verb needed.)
   */
  private void patch(String name, String mergePatch) {
    Pod named =
        new PodBuilder()
            .withNewMetadata()
            .withName(name)
            .withNamespace(pod.namespace())
            .endMetadata()
            .build();
    client
        .pods()
        .inNamespace(pod.namespace())
        .resource(named)
        .patch(PatchContext.of(PatchType.JSON_MERGE), mergePatch);
  }

  /**
   * Runs {@code step} until it succeeds, while {@code wanted} holds and this is not closed.
   *
   * @return whether it succeeded
   */
  private boolean untilDone(String what, Runnable step, BooleanSupplier wanted) {
    Backoff.Sequence waits = RETRY.sequence(Backoff.RANDOM);
    for (int failures = 0; !closed && wanted.getAsBoolean(); failures++) {
      try {
        step.run();
        return true;
      } catch (RuntimeException e) { // the API server's refusal, or no answer in time
        if (failures == 0 || failures % 10 == 0) {
          boolean forbidden = e instanceof KubernetesClientException k && k.getCode() == 403;
          LOG.warn(
              "could not {} (try {}): {}{}",
              what,
              failures + 1,
              e.getMessage(),
              forbidden ? " (the chart's Role grants list and patch on pods)" : "");
        }
      }
      try {
        sleeper.sleep(waits.next());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return false;
  }
}
