package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.KubernetesResourceList;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.NonNamespaceOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The embedded API server through a client, with more objects stored than the tests look at:
 * lookups, lists, label selectors and watches still see exactly the right ones.
 */
class ManyObjectsTest {

  private static final int TASKS = 1000;

  private static EmbeddedApiServer server;
  private static KubernetesClient client;

  @BeforeAll
  static void start() {
    server = EmbeddedApiServer.start(0);
    server.installCrds();
    client = server.client();
    for (int i = 0; i < TASKS; i++) {
      VeraTask task = task("many-" + (i % 2), "task-" + i, i % 10 == 0 ? "odd" : "even");
      task.getMetadata().getLabels().put("bulk", "yes");
      client.resource(task).create();
    }
    for (int i = 0; i < 50; i++) {
      client
          .resource(
              new ConfigMapBuilder()
                  .withNewMetadata()
                  .withName("task-" + i)
                  .withNamespace("many-0")
                  .endMetadata()
                  .build())
          .create();
    }
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void getsEachObjectByNameAndNamespace() {
    assertThat(tasks("many-1").withName("task-777").get().getMetadata().getName())
        .isEqualTo("task-777");
    assertThat(tasks("many-0").withName("task-777").get()).isNull();
    assertThat(client.configMaps().inNamespace("many-0").withName("task-2").get()).isNotNull();
    assertThat(client.configMaps().inNamespace("many-0").withName("task-51").get()).isNull();
  }

  @Test
  void listsOneKindInOneNamespace() {
    assertThat(tasks("many-0").list().getItems())
        .hasSize(TASKS / 2)
        .allSatisfy(task -> assertThat(task.getMetadata().getNamespace()).isEqualTo("many-0"));
    assertThat(
            client.resources(VeraTask.class).inAnyNamespace().withLabel("bulk").list().getItems())
        .hasSize(TASKS);
    assertThat(client.configMaps().inAnyNamespace().list().getItems())
        .extracting(ConfigMap::getKind)
        .hasSize(50)
        .containsOnly("ConfigMap");
  }

  @Test
  void listsByLabelSelector() {
    assertThat(tasks("many-0").withLabel("parity", "odd").list().getItems())
        .hasSize(TASKS / 10)
        .allSatisfy(
            task -> assertThat(task.getMetadata().getLabels()).containsEntry("parity", "odd"));
    assertThat(tasks("many-1").withLabel("parity", "odd").list().getItems()).isEmpty();
    assertThat(
            client
                .resources(VeraTask.class)
                .inAnyNamespace()
                .withLabel("bulk")
                .withoutLabel("parity", "odd")
                .list()
                .getItems())
        .hasSize(TASKS - TASKS / 10);
  }

  @Test
  void watchesSeeTheChangesOfTheirSelectionOnly() {
    client.resource(task("watched", "before", "w")).create();
    List<String> events = new CopyOnWriteArrayList<>();
    try (Watch watch =
        tasks("watched")
            .withLabel("parity", "w")
            .watch(
                new Watcher<>() {
                  @Override
                  public void eventReceived(Action action, VeraTask task) {
                    String phase = task.getStatus() == null ? "" : " " + task.getStatus().phase;
                    events.add(action + " " + task.getMetadata().getName() + phase);
                  }

                  @Override
                  public void onClose(WatcherException cause) {}
                })) {
      client.resource(task("watched", "other", "x")).create();
      client.resource(task("watched", "after", "w")).create();
      tasks("watched")
          .withName("after")
          .subresource("status")
          .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"status\":{\"phase\":\"Running\"}}");
      tasks("watched").withName("after").delete();

      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () ->
                  assertThat(events)
                      .containsExactly(
                          "ADDED before",
                          "ADDED after",
                          "MODIFIED after " + TaskPhase.Running,
                          "DELETED after " + TaskPhase.Running));
    }
  }

  @Test
  void deletedObjectsAreGoneFromGetsListsAndSelectors() {
    client.resource(task("deleting", "gone", "d")).create();
    client.resource(task("deleting", "kept", "d")).create();

    tasks("deleting").withName("gone").delete();

    assertThat(tasks("deleting").withName("gone").get()).isNull();
    assertThat(tasks("deleting").list().getItems())
        .extracting(task -> task.getMetadata().getName())
        .containsExactly("kept");
    assertThat(tasks("deleting").withLabel("parity", "d").list().getItems()).hasSize(1);
    client.resource(task("deleting", "gone", "d")).create();
    assertThat(tasks("deleting").list().getItems()).hasSize(2);
  }

  private static NonNamespaceOperation<
          VeraTask, KubernetesResourceList<VeraTask>, Resource<VeraTask>>
      tasks(String namespace) {
    return client.resources(VeraTask.class).inNamespace(namespace);
  }

  private static VeraTask task(String namespace, String name, String parity) {
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace(namespace)
            .withLabels(new HashMap<>(Map.of("parity", parity)))
            .build());
    task.setSpec(new VeraTaskSpec());
    task.getSpec().handler = "echo";
    return task;
  }
}
