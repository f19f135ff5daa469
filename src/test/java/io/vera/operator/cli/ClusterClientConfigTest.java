package io.vera.operator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.http.BasicBuilder;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import io.fabric8.kubernetes.client.utils.TokenRefreshInterceptor;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's client config against fabric8's own token refresh, as it runs before each request
 * once a minute has passed since the last refresh.
 */
class ClusterClientConfigTest {
  @TempDir Path dir;
  private Path kubeconfig;
  private String previous;

  @BeforeEach
  void pointFabric8AtATemporaryKubeconfig() {
    kubeconfig = dir.resolve("kubeconfig");
    previous = System.setProperty(Config.KUBERNETES_KUBECONFIG_FILE, kubeconfig.toString());
  }

  @AfterEach
  void restore() {
    if (previous == null) {
      System.clearProperty(Config.KUBERNETES_KUBECONFIG_FILE);
    } else {
      System.setProperty(Config.KUBERNETES_KUBECONFIG_FILE, previous);
    }
  }

  @Test
  void withoutATokenRequestsNoLongerReReadTheKubeconfig() throws Exception {
    writeKubeconfig("{}");
    Config config = ClusterClientConfig.load();
    // Were the kubeconfig read again, the request would now carry this token.
    writeKubeconfig("{token: written-later}");

    assertThat(headersOfARequestAfterTheFirstMinute(config)).doesNotContainKey("Authorization");
  }

  @Test
  void aTokenFromTheKubeconfigIsStillRefreshed() throws Exception {
    writeKubeconfig("{token: first}");
    Config config = ClusterClientConfig.load();
    writeKubeconfig("{token: rotated}");

    assertThat(headersOfARequestAfterTheFirstMinute(config))
        .containsEntry("Authorization", "Bearer rotated");
  }

  private void writeKubeconfig(String user) throws Exception {
    Files.writeString(
        kubeconfig,
        """
        apiVersion: v1
        kind: Config
        clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
        users: [{name: u, user: %s}]
        contexts: [{name: x, context: {cluster: c, user: u}}]
        current-context: x
        """
            .formatted(user));
  }

  /** The headers fabric8's token refresh sets on a request made after its first minute. */
  private static Map<String, String> headersOfARequestAfterTheFirstMinute(Config config) {
    Map<String, String> headers = new LinkedHashMap<>();
    BasicBuilder request =
        new BasicBuilder() {
          @Override
          public BasicBuilder uri(URI uri) {
            return this;
          }

          @Override
          public BasicBuilder header(String name, String value) {
            headers.put(name, value);
            return this;
          }

          @Override
          public BasicBuilder setHeader(String name, String value) {
            headers.put(name, value);
            return this;
          }
        };
    new TokenRefreshInterceptor(
            config, new JdkHttpClientFactory(), Instant.now().minus(Duration.ofMinutes(2)))
        .before(request, null, null);
    return headers;
  }
}
