package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The embedded server's own watches send what fabric8's mock sends: the same events, in the same
 * order, for the same selections, as one sequence of writes runs against each.
 */
@EnableKubernetesMockClient(crud = true)
class StoreWatchTest {
  private static final String NS = "watched";

  static KubernetesMockServer mockServer;

  private EmbeddedApiServer embedded;
  private KubernetesClient embeddedClient;
  private KubernetesClient mockClient;
  private final List<Watch> watches = new ArrayList<>();

  @BeforeEach
  void start() {
    embedded = EmbeddedApiServer.start(0);
    // Over HTTP, as kubectl and the operator's informers watch.
    embeddedClient =
        new KubernetesClientBuilder()
            .withConfig(
                new io.fabric8.kubernetes.client.ConfigBuilder()
                    .withMasterUrl(embedded.url())
                    .withNamespace(NS)
                    .build())
            .build();
    mockClient = mockServer.createClient();
  }

  @AfterEach
  void stop() {
    watches.forEach(Watch::close);
    embeddedClient.close();
    mockClient.close();
    embedded.close();
  }

  @Test
  void sendsTheMocksEventsForEverySelection() {
    Map<String, List<String>> mine = run(embeddedClient);
    Map<String, List<String>> theirs = run(mockClient);

    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              assertThat(theirs.get("all")).hasSize(9);
              assertThat(mine.get("all")).hasSize(9);
            });
    // Let any late event of the narrower watches arrive before comparing.
    await()
        .pollDelay(Duration.ofMillis(500))
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(mine).isEqualTo(theirs));
    assertThat(mine.get("label app=x"))
        .containsExactly(
            "ADDED a x 1",
            "ADDED c x 1",
            "MODIFIED a x 2",
            "DELETED a x 2",
            "ADDED b x 1",
            "MODIFIED c x 3",
            "DELETED b x 1",
            "DELETED c x 3");
    assertThat(mine.get("name c"))
        .containsExactly("ADDED c x 1", "MODIFIED c x 3", "DELETED c x 3");
  }

  /** Opens the watches, runs the writes, and returns each watch's events as they arrive. */
  private Map<String, List<String>> run(KubernetesClient client) {
    client.resource(configMap("a", "x", "1")).create();
    client.resource(configMap("b", "y", "1")).create();
    Map<String, List<String>> events =
        Map.of(
            "all", new CopyOnWriteArrayList<>(),
            "label app=x", new CopyOnWriteArrayList<>(),
            "name c", new CopyOnWriteArrayList<>(),
            "other namespace", new CopyOnWriteArrayList<>());
    watches.add(client.configMaps().inNamespace(NS).watch(recorder(events.get("all"))));
    watches.add(
        client
            .configMaps()
            .inNamespace(NS)
            .withLabel("app", "x")
            .watch(recorder(events.get("label app=x"))));
    watches.add(
        client.configMaps().inNamespace(NS).withName("c").watch(recorder(events.get("name c"))));
    watches.add(
        client
            .configMaps()
            .inNamespace("elsewhere")
            .watch(recorder(events.get("other namespace"))));
    // Initial ADDED events first, so that they are not mixed with the writes' events.
    await().atMost(Duration.ofSeconds(10)).until(() -> events.get("all").size() == 2);

    client.resource(configMap("c", "x", "1")).create();
    client.configMaps().inNamespace(NS).withName("a").edit(cm -> withData(cm, "2"));
    client.configMaps().inNamespace(NS).withName("a").edit(cm -> withLabel(cm, "y"));
    client.configMaps().inNamespace(NS).withName("b").edit(cm -> withLabel(cm, "x"));
    client.resource(configMap("c", "x", "3")).update();
    client.configMaps().inNamespace(NS).withName("b").delete();
    client.configMaps().inNamespace(NS).withName("c").delete();
    return events;
  }

  private static Watcher<ConfigMap> recorder(List<String> events) {
    return new Watcher<>() {
      @Override
      public void eventReceived(Action action, ConfigMap cm) {
        events.add(
            action
                + " "
                + cm.getMetadata().getName()
                + " "
                + cm.getMetadata().getLabels().get("app")
                + " "
                + cm.getData().get("v"));
      }

      @Override
      public void onClose(WatcherException cause) {}
    };
  }

  private static ConfigMap configMap(String name, String app, String value) {
    return new ConfigMapBuilder()
        .withNewMetadata()
        .withNamespace(NS)
        .withName(name)
        .addToLabels("app", app)
        .endMetadata()
        .addToData("v", value)
        .build();
  }

  private static ConfigMap withData(ConfigMap cm, String value) {
    return new ConfigMapBuilder(cm).addToData("v", value).build();
  }

  private static ConfigMap withLabel(ConfigMap cm, String app) {
    return new ConfigMapBuilder(cm).editMetadata().addToLabels("app", app).endMetadata().build();
  }
}
