package io.vera.operator.embedded;

import io.fabric8.kubernetes.client.KubernetesClient;

/** Placeholder signature until the embedded API server branch is merged. */
public final class EmbeddedApiServer implements AutoCloseable {
  public static EmbeddedApiServer start(int port) {
    throw new UnsupportedOperationException();
  }

  public void installCrds() {}

  public KubernetesClient client() {
    return null;
  }

  public String url() {
    return null;
  }

  @Override
  public void close() {}
}
