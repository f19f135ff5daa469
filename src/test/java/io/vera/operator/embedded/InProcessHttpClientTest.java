package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The embedded server's own client answers in-process, and a client sees no difference from the
 * same calls made over HTTP.
 */
class InProcessHttpClientTest {

  private final List<String> answeredOn = new CopyOnWriteArrayList<>();
  private final EmbeddedApiServer server =
      EmbeddedApiServer.start(
          0,
          request -> {
            answeredOn.add(
                request.getMethod()
                    + " "
                    + request.getPath()
                    + " on "
                    + Thread.currentThread().getName());
            return Optional.empty();
          });
  private final KubernetesClient inProcess = server.client();
  private final KubernetesClient overHttp =
      new KubernetesClientBuilder()
          .withHttpClientFactory(new JdkHttpClientFactory())
          .withConfig(
              new ConfigBuilder(Config.empty())
                  .withMasterUrl(server.url())
                  .withNamespace("default")
                  .withHttp2Disable(true)
                  .build())
          .build();

  @AfterEach
  void close() {
    overHttp.close();
    server.close();
  }

  @Test
  void answersOnTheCallingThreadWithoutTheNetwork() {
    server.installCrds();
    answeredOn.clear();
    inProcess.configMaps().resource(configMap("a")).create();
    assertThat(answeredOn)
        .singleElement()
        .asString()
        .startsWith("POST /api/v1/namespaces/default/configmaps")
        .endsWith(" on " + Thread.currentThread().getName());
    answeredOn.clear();
    overHttp.configMaps().withName("a").get();
    assertThat(answeredOn)
        .singleElement()
        .asString()
        .doesNotEndWith(Thread.currentThread().getName());
  }

  @Test
  void answersAsTheServerDoesOverHttp() {
    server.installCrds();
    ConfigMap created = inProcess.configMaps().resource(configMap("same")).create();
    ConfigMap read = overHttp.configMaps().withName("same").get();
    assertThat(read).isEqualTo(created);
    assertThat(inProcess.configMaps().withName("same").get()).isEqualTo(read);

    KubernetesClientException conflictInProcess =
        catchKubernetes(() -> inProcess.configMaps().resource(configMap("same")).create());
    KubernetesClientException conflictOverHttp =
        catchKubernetes(() -> overHttp.configMaps().resource(configMap("same")).create());
    assertThat(conflictInProcess.getCode()).isEqualTo(409).isEqualTo(conflictOverHttp.getCode());
    assertThat(conflictInProcess.getStatus()).isEqualTo(conflictOverHttp.getStatus());

    assertThat(inProcess.configMaps().withName("missing").get()).isNull();
    KubernetesClientException missing =
        catchKubernetes(
            () ->
                inProcess
                    .configMaps()
                    .withName("missing")
                    .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"data\":{\"k\":\"v\"}}"));
    assertThat(missing.getCode()).isEqualTo(404);

    // A merge patch of the status subresource: the content type travels with the request.
    VeraTask task = new VeraTask();
    task.getMetadata().setName("t");
    task.setSpec(new VeraTaskSpec());
    task.getSpec().handler = "echo";
    task.getSpec().poolRef = "p";
    inProcess.resource(task).create();
    VeraTask patched =
        inProcess
            .resources(VeraTask.class)
            .withName("t")
            .subresource("status")
            .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"status\":{\"phase\":\"Queued\"}}");
    assertThat(patched.getStatus().phase).isEqualTo(TaskPhase.Queued);
    assertThat(overHttp.resources(VeraTask.class).withName("t").get().getStatus().phase)
        .isEqualTo(TaskPhase.Queued);
  }

  @Test
  void watchesStillStreamOverTheNetwork() {
    List<String> seen = new CopyOnWriteArrayList<>();
    try (Watch watch =
        inProcess
            .configMaps()
            .watch(
                new Watcher<>() {
                  @Override
                  public void eventReceived(Action action, ConfigMap resource) {
                    seen.add(action + " " + resource.getMetadata().getName());
                  }

                  @Override
                  public void onClose(WatcherException cause) {}
                })) {
      inProcess.configMaps().resource(configMap("watched")).create();
      await().atMost(Duration.ofSeconds(10)).until(() -> seen.contains("ADDED watched"));
    }
    assertThat(answeredOn).anyMatch(line -> line.contains("watch=true"));
  }

  @Test
  void aSuspendedServerRefusesTheConnectionAndServesAgainAfterResume() {
    // No retries, so the refusal shows at once (fabric8 backs off for seconds otherwise).
    try (KubernetesClient once =
        new KubernetesClientBuilder()
            .withHttpClientFactory(new InProcessHttpClient.Factory(server))
            .withConfig(
                new ConfigBuilder(Config.empty())
                    .withMasterUrl(server.url())
                    .withNamespace("default")
                    .withRequestRetryBackoffLimit(0)
                    .build())
            .build()) {
      once.configMaps().resource(configMap("kept")).create();
      server.suspend();
      assertThatThrownBy(() -> once.configMaps().withName("kept").get())
          .isInstanceOf(KubernetesClientException.class)
          .hasStackTraceContaining("Connection refused");
      server.resume();
      assertThat(once.configMaps().withName("kept").get()).isNotNull();
    }
  }

  private static ConfigMap configMap(String name) {
    return new ConfigMapBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withData(Map.of("key", "value"))
        .build();
  }

  private static KubernetesClientException catchKubernetes(Runnable call) {
    try {
      call.run();
    } catch (KubernetesClientException e) {
      return e;
    }
    throw new AssertionError("expected a KubernetesClientException");
  }
}
