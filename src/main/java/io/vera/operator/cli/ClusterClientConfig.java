package io.vera.operator.cli;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.utils.Utils;

/**
 * The Kubernetes client configuration of an operator that runs against a cluster: fabric8's
 * auto-configuration (kubeconfig or in-cluster service account), made cheap for clusters that
 * authenticate with something other than a bearer token.
 */
final class ClusterClientConfig {
  private ClusterClientConfig() {}

  /**
   * The auto-configured config. When it found no bearer token (client certificates, as kind,
   * minikube and k3s kubeconfigs use, or no authentication), it gets a token provider that has
   * none: fabric8's token refresh re-reads and re-parses the kubeconfig on every request once its
   * first minute has passed, and only stops after it found a token, which never happens there
   * (measured: a third of the operator's CPU in cluster mode). With a token, from a kubeconfig, an
   * exec plugin or a service account, the refresh stays as it is: once a minute, picking up rotated
   * tokens.
   */
  static Config load() {
    Config config = Config.autoConfigure(null);
    if (config.getOauthTokenProvider() == null
        && Utils.isNullOrEmpty(config.getOauthToken())
        && Utils.isNullOrEmpty(config.getAutoOAuthToken())
        && config.getAuthProvider() == null) {
      config.setOauthTokenProvider(() -> null);
    }
    return config;
  }
}
