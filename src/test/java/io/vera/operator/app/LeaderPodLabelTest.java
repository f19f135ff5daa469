package io.vera.operator.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.vera.operator.embedded.EmbeddedApiServer;
import io.vera.operator.retry.Sleeper;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The leader's pod label that a Service selects: only the leader's pod carries it, whatever the
 * pods carried before (a restarted container, a former leader that died labelled), and pods of
 * another Lease are left alone.
 */
class LeaderPodLabelTest {
  private static final String NS = "vera-system";
  private static final String LEASE = "vera-operator-leader";
  // generous: at load average 39 on 2 cores one patch round trip took over 10 s
  private static final Duration WAIT = Duration.ofSeconds(60);

  private static final String LABELLER = "leader-pod-label";

  /** What the labeller asked the API server, as "METHOD path". */
  private final List<String> labellerRequests = new CopyOnWriteArrayList<>();

  private final EmbeddedApiServer server =
      EmbeddedApiServer.start(
          0,
          request -> {
            if (LABELLER.equals(request.getHeader("User-Agent"))) {
              labellerRequests.add(request.getMethod() + " " + request.getPath());
            }
            return Optional.empty();
          });
  private final KubernetesClient client = server.client();
  private final KubernetesClient labellerClient =
      new KubernetesClientBuilder()
          .withConfig(
              new ConfigBuilder(Config.empty())
                  .withMasterUrl(server.url())
                  .withUserAgent(LABELLER)
                  .withHttp2Disable(true)
                  .withRequestRetryBackoffLimit(0)
                  .build())
          .build();
  private final AtomicBoolean leading = new AtomicBoolean();
  private final AtomicInteger retries = new AtomicInteger();
  private final Sleeper countingSleeper =
      d -> {
        retries.incrementAndGet();
        Thread.sleep(10);
      };
  private LeaderPodLabel label;

  @AfterEach
  void close() {
    if (label != null) {
      label.close();
    }
    labellerClient.close();
    server.close();
  }

  @Test
  void aLabelTheContainerFindsOnItsPodAtStartIsRemovedBeforeItMayBeReady() {
    pod("op-a", LEASE);
    label = labeller("op-a");
    assertThat(label.cleared()).isFalse();

    label.start();

    await().atMost(WAIT).until(label::cleared);
    assertThat(labelOf("op-a")).isNull();
  }

  @Test
  void theLeaderLabelsItsPodAndTakesTheLabelOffFormerLeadersOfItsLeaseOnly() {
    pod("op-a", null);
    pod("op-old", LEASE); // led before and died without removing it
    pod("other-install", "another-lease");
    pod("unrelated", null);
    label = labeller("op-a");
    label.start();

    leading.set(true);
    label.startedLeading();

    await().atMost(WAIT).until(() -> labelOf("op-old") == null);
    assertThat(labelOf("op-a")).isEqualTo(LEASE);
    assertThat(labelOf("other-install")).isEqualTo("another-lease");
    assertThat(labelOf("unrelated")).isNull();
    assertThat(podsSelectedByTheService()).isEqualTo(1);
    // Only the verbs the chart grants: list pods, patch pods (never a get before the patch).
    String pods = "/api/v1/namespaces/" + NS + "/pods";
    assertThat(labellerRequests)
        .allSatisfy(
            r ->
                assertThat(r)
                    .matches("PATCH " + pods + "/[a-z-]+|GET " + pods + "\\?labelSelector=.*"))
        .contains("PATCH " + pods + "/op-a", "PATCH " + pods + "/op-old")
        .doesNotContain("PATCH " + pods + "/other-install", "PATCH " + pods + "/unrelated");
  }

  @Test
  void steppingDownRemovesTheLabelBeforeItReturns() {
    pod("op-a", null);
    label = labeller("op-a");
    label.start();
    leading.set(true);
    label.startedLeading();
    await().atMost(WAIT).until(() -> LEASE.equals(labelOf("op-a")));

    leading.set(false);
    label.stoppedLeading();

    assertThat(labelOf("op-a")).isNull();
    assertThat(podsSelectedByTheService()).isZero();
  }

  @Test
  void untilItsPodCanBePatchedAReplicaIsNotClearedAndKeepsTrying() {
    label = labeller("op-late"); // the pod does not exist yet: every patch is a 404
    label.start();
    await().atMost(WAIT).until(() -> retries.get() >= 3);
    assertThat(label.cleared()).isFalse();

    pod("op-late", LEASE);

    await().atMost(WAIT).until(label::cleared);
    assertThat(labelOf("op-late")).isNull();
  }

  @Test
  void aReplicaThatStoppedLeadingBeforeItsLabelLandedEndsUnlabelled() {
    label = labeller("op-a"); // no pod yet: labelling fails and is tried again
    leading.set(true);
    label.startedLeading();
    await().atMost(WAIT).until(() -> retries.get() >= 2);

    leading.set(false);
    pod("op-a", null); // a labelling try already under way may land now
    label.stoppedLeading(); // runs after the labelling gave up, on the same thread

    assertThat(labelOf("op-a")).isNull();
  }

  @Test
  void theLeaseNameMustBeALabelValue() {
    assertThatThrownBy(() -> LeaderPodLabel.requireLabelValue("x".repeat(64)))
        .hasMessageContaining("at most 63");
    assertThatThrownBy(() -> LeaderPodLabel.requireLabelValue("-lease"))
        .hasMessageContaining("vera.io/leader");
    LeaderPodLabel.requireLabelValue("vera-operator-leader");
  }

  private LeaderPodLabel labeller(String pod) {
    return new LeaderPodLabel(
        labellerClient, new ClusterSettings.PodRef(NS, pod), LEASE, leading::get, countingSleeper);
  }

  private void pod(String name, String leaderLabel) {
    PodBuilder pod =
        new PodBuilder()
            .withNewMetadata()
            .withName(name)
            .withNamespace(NS)
            .addToLabels("app.kubernetes.io/name", "vera-operator")
            .endMetadata()
            .withNewSpec()
            .addNewContainer()
            .withName("operator")
            .withImage("vera-operator:test")
            .endContainer()
            .endSpec();
    if (leaderLabel != null) {
      pod.editMetadata().addToLabels(LeaderPodLabel.LABEL, leaderLabel).endMetadata();
    }
    client.resource(pod.build()).create();
  }

  private String labelOf(String name) {
    Pod pod = client.pods().inNamespace(NS).withName(name).get();
    Map<String, String> labels = pod.getMetadata().getLabels();
    return labels == null ? null : labels.get(LeaderPodLabel.LABEL);
  }

  /** What the chart's Service selector picks: the operator's labels and the leader label. */
  private int podsSelectedByTheService() {
    return client
        .pods()
        .inNamespace(NS)
        .withLabel("app.kubernetes.io/name", "vera-operator")
        .withLabel(LeaderPodLabel.LABEL, LEASE)
        .list()
        .getItems()
        .size();
  }
}
