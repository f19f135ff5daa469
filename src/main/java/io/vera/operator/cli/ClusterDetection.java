package io.vera.operator.cli;

import io.fabric8.kubernetes.client.Config;
import java.nio.file.Files;
import java.nio.file.Path;

/** Decides whether a cluster is configured, by the rules kubectl and fabric8 use to find one. */
final class ClusterDetection {
  private static final Path SERVICE_ACCOUNT_TOKEN =
      Path.of("/var/run/secrets/kubernetes.io/serviceaccount/token");

  private ClusterDetection() {}

  static boolean clusterConfigured() {
    if (System.getenv("KUBERNETES_SERVICE_HOST") != null && Files.exists(SERVICE_ACCOUNT_TOKEN)) {
      return true;
    }
    String kubeconfig = System.getenv("KUBECONFIG");
    if (kubeconfig != null && !kubeconfig.isBlank()) {
      for (String path : kubeconfig.split(java.io.File.pathSeparator)) {
        if (!path.isBlank() && Files.isRegularFile(Path.of(path))) {
          return true;
        }
      }
      return false;
    }
    return Files.isRegularFile(Path.of(System.getProperty("user.home"), ".kube", "config"));
  }

  /**
   * Which cluster a client attached to, for the log line cluster mode starts with: a workstation
   * whose kubeconfig names a production context must see that before anything is reconciled.
   */
  static String describe(Config config) {
    String context =
        config.getCurrentContext() == null ? "none" : config.getCurrentContext().getName();
    return "cluster "
        + config.getMasterUrl()
        + " (kubeconfig context "
        + context
        + ", namespace "
        + (config.getNamespace() == null ? "default" : config.getNamespace())
        + ")";
  }
}
