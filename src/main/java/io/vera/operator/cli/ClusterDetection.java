package io.vera.operator.cli;

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
}
