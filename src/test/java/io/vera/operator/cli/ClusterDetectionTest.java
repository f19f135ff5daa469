package io.vera.operator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.Config;
import org.junit.jupiter.api.Test;

/** Cluster mode names the cluster and kubeconfig context it attached to before reconciling. */
class ClusterDetectionTest {
  private static final String KUBECONFIG =
      """
      apiVersion: v1
      kind: Config
      clusters:
      - name: prod
        cluster: {server: "https://prod.example.internal:6443"}
      - name: lab
        cluster: {server: "https://127.0.0.1:6443"}
      contexts:
      - name: lab-admin
        context: {cluster: lab, user: me, namespace: vera-system}
      - name: prod-admin
        context: {cluster: prod, user: me, namespace: payments}
      current-context: prod-admin
      users:
      - name: me
        user: {token: not-used}
      """;

  @Test
  void theAttachedClusterIsDescribedByItsServerContextAndNamespace() {
    Config config = Config.fromKubeconfig(KUBECONFIG);

    assertThat(ClusterDetection.describe(config))
        .isEqualTo(
            "cluster https://prod.example.internal:6443/ (kubeconfig context prod-admin,"
                + " namespace payments)");
  }
}
