package io.vera.operator.app;

import io.vera.operator.facade.auth.RestGuard;
import java.time.Duration;
import java.util.UUID;

/**
 * What a deployment in a cluster adds to {@link OperatorSettings}: REST authentication, leader
 * election and the worker pods' ServiceAccount. {@link #embedded()} turns all of it off, as
 * embedded mode (one process on 127.0.0.1) needs.
 *
 * @param auth how REST requests are authenticated and authorized
 * @param leaderElection whether, and with which Lease, replicas elect a leader
 * @param workerServiceAccount ServiceAccount of worker pods whose pool names none; null for the
 *     namespace's default
 */
public record ClusterSettings(
    RestGuard.Settings auth, LeaderElection leaderElection, String workerServiceAccount) {

  public static ClusterSettings embedded() {
    return new ClusterSettings(RestGuard.Settings.off(), LeaderElection.disabled(), null);
  }

  /**
   * Leader election with a coordination.k8s.io/v1 Lease: only the holder reconciles and dispatches.
   * The durations are those of client-go's defaults: a dead leader is replaced within {@code
   * leaseDuration} (plus one {@code retryPeriod}).
   *
   * @param leaseNamespace where the Lease lives; the operator's namespace by default
   * @param identity this replica's name in the Lease; the pod name ({@code HOSTNAME}) by default
   * @param exitOnStopLeading exit the process when leadership is lost (true in production, so a
   *     replica that cannot renew never dispatches beside the new leader; tests that run two
   *     operators in one JVM turn it off)
   * @param pod this replica's pod, labelled while it leads so a Service can select the leader while
   *     standbys are Ready ({@link LeaderPodLabel}); null: no label, and a standby is not Ready
   */
  public record LeaderElection(
      boolean enabled,
      String leaseName,
      String leaseNamespace,
      String identity,
      Duration leaseDuration,
      Duration renewDeadline,
      Duration retryPeriod,
      boolean exitOnStopLeading,
      PodRef pod) {
    public static final String DEFAULT_LEASE_NAME = "vera-operator-leader";

    /** Without a pod to label. */
    public LeaderElection(
        boolean enabled,
        String leaseName,
        String leaseNamespace,
        String identity,
        Duration leaseDuration,
        Duration renewDeadline,
        Duration retryPeriod,
        boolean exitOnStopLeading) {
      this(
          enabled,
          leaseName,
          leaseNamespace,
          identity,
          leaseDuration,
          renewDeadline,
          retryPeriod,
          exitOnStopLeading,
          null);
    }

    /** The same, labelling {@code pod} while it leads. */
    public LeaderElection withPod(PodRef pod) {
      return new LeaderElection(
          enabled,
          leaseName,
          leaseNamespace,
          identity,
          leaseDuration,
          renewDeadline,
          retryPeriod,
          exitOnStopLeading,
          pod);
    }

    public static LeaderElection disabled() {
      return new LeaderElection(false, DEFAULT_LEASE_NAME, null, null, null, null, null, true);
    }

    /** On, with the default durations (15 s lease, 10 s renew deadline, 2 s retry). */
    public static LeaderElection enabled(String leaseName, String leaseNamespace) {
      return new LeaderElection(
          true,
          leaseName,
          leaseNamespace,
          defaultIdentity(),
          Duration.ofSeconds(15),
          Duration.ofSeconds(10),
          Duration.ofSeconds(2),
          true);
    }

    static String defaultIdentity() {
      String host = System.getenv("HOSTNAME");
      return host != null && !host.isBlank()
          ? host
          : "vera-operator-" + UUID.randomUUID().toString().substring(0, 8);
    }
  }

  /** A pod by namespace and name. */
  public record PodRef(String namespace, String name) {
    /** {@code NAMESPACE/NAME}, as {@code --leader-pod} takes it. */
    public static PodRef parse(String text) {
      int slash = text.indexOf('/');
      if (slash <= 0 || slash == text.length() - 1 || text.indexOf('/', slash + 1) >= 0) {
        throw new IllegalArgumentException(
            "a pod is NAMESPACE/NAME (in a pod: $(POD_NAMESPACE)/$(HOSTNAME) from the downward"
                + " API), got "
                + text);
      }
      return new PodRef(text.substring(0, slash), text.substring(slash + 1));
    }

    @Override
    public String toString() {
      return "pod " + namespace + "/" + name;
    }
  }
}
