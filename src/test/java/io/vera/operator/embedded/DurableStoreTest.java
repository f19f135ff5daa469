package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.api.VeraTaskStatus;
import io.vera.operator.task.FinishedTaskLabels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded API server with a state directory: what it held is served again after a restart,
 * resourceVersions and UIDs go on from where they were, finished tasks are kept on disk rather than
 * in memory, and a state directory serves one server at a time.
 */
class DurableStoreTest {

  private static final String NS = "default";

  @TempDir Path state;
  private final List<EmbeddedApiServer> servers = new ArrayList<>();

  @AfterEach
  void stop() {
    servers.forEach(EmbeddedApiServer::close);
  }

  private EmbeddedApiServer start(Path directory) {
    EmbeddedApiServer server = EmbeddedApiServer.startDurable(0, directory, false);
    servers.add(server);
    server.installCrds();
    return server;
  }

  private void stop(EmbeddedApiServer server) {
    servers.remove(server);
    server.close();
  }

  @Test
  void objectsResourceVersionsAndUidsGoOnAfterARestart() {
    EmbeddedApiServer first = start(state);
    KubernetesClient client = first.client();
    client.resource(task("a")).create();
    VeraTask b = client.resource(task("b")).create();
    b.setStatus(status(TaskPhase.Running, 1));
    long versionBefore =
        Long.parseLong(client.resource(b).updateStatus().getMetadata().getResourceVersion());
    client
        .configMaps()
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("settings")
                .withNamespace(NS)
                .endMetadata()
                .addToData("k", "v")
                .build())
        .create();
    client.resources(VeraTask.class).inNamespace(NS).withName("a").delete();
    Set<String> uidsBefore = new HashSet<>();
    client
        .resources(VeraTask.class)
        .inNamespace(NS)
        .list()
        .getItems()
        .forEach(t -> uidsBefore.add(t.getMetadata().getUid()));
    stop(first);

    EmbeddedApiServer second = start(state);
    KubernetesClient after = second.client();
    assertThat(after.resources(VeraTask.class).inNamespace(NS).withName("a").get()).isNull();
    VeraTask kept = after.resources(VeraTask.class).inNamespace(NS).withName("b").get();
    assertThat(kept.getStatus().phase).isEqualTo(TaskPhase.Running);
    assertThat(kept.getStatus().attempts).isEqualTo(1);
    assertThat(after.configMaps().inNamespace(NS).withName("settings").get().getData())
        .containsEntry("k", "v");

    VeraTask created = after.resources(VeraTask.class).resource(task("c")).create();
    assertThat(Long.parseLong(created.getMetadata().getResourceVersion()))
        .isGreaterThan(versionBefore);
    assertThat(uidsBefore).doesNotContain(created.getMetadata().getUid());

    // The status subresource is still one: the mock learnt the stored CRDs again.
    kept.getSpec().timeoutSeconds = 77;
    kept.getStatus().phase = TaskPhase.Failed;
    VeraTask replaced = after.resource(kept).update();
    assertThat(replaced.getStatus().phase).isEqualTo(TaskPhase.Running);
  }

  @Test
  void finishedTasksAreServedFromDiskNotMemory() throws Exception {
    EmbeddedApiServer server = start(state);
    KubernetesClient client = server.client();
    int finished = 300;
    int running = 20;
    IndexedStore store = server.dispatcher().store();
    int others = store.sizeInMemory();
    for (int i = 0; i < finished + running; i++) {
      VeraTask task = client.resource(task(String.format("t-%04d", i))).create();
      task.setStatus(status(i < finished ? TaskPhase.Succeeded : TaskPhase.Running, 1 + i % 3));
      if (i < finished) {
        task.getStatus().result = JsonNodeFactory.instance.objectNode().put("n", i);
      }
      client.resource(task).updateStatus();
    }
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              server.dispatcher().spillFinished(0);
              assertThat(store.onDiskOnly()).isEqualTo(finished);
            });
    assertThat(store.sizeInMemory() - others).as("tasks held in memory").isEqualTo(running);

    VeraTask read = client.resources(VeraTask.class).inNamespace(NS).withName("t-0042").get();
    assertThat(read.getStatus().result.path("n").asInt()).isEqualTo(42);
    List<VeraTask> all = client.resources(VeraTask.class).inNamespace(NS).list().getItems();
    assertThat(all).hasSize(finished + running);
    assertThat(all.get(0).getMetadata().getName()).isEqualTo("t-0000");

    List<String> paged = new ArrayList<>();
    String next = null;
    int pages = 0;
    do {
      var page =
          client
              .resources(VeraTask.class)
              .inNamespace(NS)
              .list(new ListOptionsBuilder().withLimit(64L).withContinue(next).build());
      page.getItems().forEach(t -> paged.add(t.getMetadata().getName()));
      next = page.getMetadata().getContinue();
      pages++;
    } while (next != null && !next.isEmpty());
    assertThat(pages).isGreaterThan(1);
    assertThat(paged)
        .containsExactlyElementsOf(all.stream().map(t -> t.getMetadata().getName()).toList());

    // A finished task on disk can still change and be deleted.
    read.getMetadata().setLabels(new java.util.HashMap<>(java.util.Map.of("seen", "yes")));
    client.resource(read).update();
    assertThat(
            client
                .resources(VeraTask.class)
                .inNamespace(NS)
                .withLabel("seen", "yes")
                .list()
                .getItems())
        .hasSize(1);
    client.resources(VeraTask.class).inNamespace(NS).withName("t-0043").delete();
    assertThat(client.resources(VeraTask.class).inNamespace(NS).withName("t-0043").get()).isNull();
    assertThat(client.resources(VeraTask.class).inNamespace(NS).list().getItems())
        .hasSize(finished + running - 1);

    stop(server);
    EmbeddedApiServer again = start(state);
    assertThat(again.dispatcher().store().onDiskOnly()).isEqualTo(finished - 1);
    assertThat(
            again
                .client()
                .resources(VeraTask.class)
                .inNamespace(NS)
                .withName("t-0042")
                .get()
                .getMetadata()
                .getLabels())
        .containsEntry("seen", "yes");
    assertThat(again.client().resources(VeraTask.class).inNamespace(NS).list().getItems())
        .hasSize(finished + running - 1);
  }

  @Test
  void selectorsOnTheFinishedLabelsReadOnlyTheTasksTheyAnswer() {
    EmbeddedApiServer server = start(state);
    KubernetesClient client = server.client();
    storeFinishedTasks(client, 120);
    spillAll(server, 120);
    IndexedStore store = server.dispatcher().store();

    long before = store.examinedKeys();
    assertThat(names(client, "!" + FinishedTaskLabels.FINISHED)).hasSize(40);
    assertThat(store.examinedKeys() - before).as("tasks read to answer !finished").isEqualTo(40);

    before = store.examinedKeys();
    assertThat(names(client, FinishedTaskLabels.FINISHED + "=true,vera.io/expires-at=1001"))
        .hasSize(10)
        .allMatch(name -> name.compareTo("t-0030") > 0 && name.compareTo("t-0060") < 0);
    assertThat(store.examinedKeys() - before).as("tasks read to answer one expiry").isEqualTo(10);

    assertThat(names(client, FinishedTaskLabels.FINISHED + "=true")).hasSize(80);
    assertThat(names(client, FinishedTaskLabels.FINISHED + ",!vera.io/expires-at")).hasSize(40);
  }

  @Test
  void aStateDirectoryOfThePreviousVersionOpensWithItsLabelsIndexed() throws Exception {
    EmbeddedApiServer first = start(state);
    storeFinishedTasks(first.client(), 60);
    stop(first);
    // The previous version's file: no label columns, none of their indexes.
    try (Connection c =
            DriverManager.getConnection(
                "jdbc:sqlite:" + state.resolve("store.db").toAbsolutePath());
        Statement s = c.createStatement()) {
      for (String index :
          List.of("objects_by_finished_label", "objects_by_expiry", "objects_unfinished")) {
        s.execute("DROP INDEX " + index);
      }
      s.execute("ALTER TABLE objects DROP COLUMN finished_label");
      s.execute("ALTER TABLE objects DROP COLUMN expires_at");
      List<String> columns = new ArrayList<>();
      try (ResultSet r = s.executeQuery("PRAGMA table_xinfo(objects)")) {
        while (r.next()) {
          columns.add(r.getString("name"));
        }
      }
      assertThat(columns)
          .containsExactly("id", "plural", "namespace", "name", "ord", "finished", "attrs", "json");
    }

    EmbeddedApiServer again = start(state);
    KubernetesClient client = again.client();
    assertThat(names(client, "!" + FinishedTaskLabels.FINISHED)).hasSize(20);
    assertThat(names(client, FinishedTaskLabels.FINISHED + "=true,vera.io/expires-at=1001"))
        .containsExactly(
            "t-0031", "t-0035", "t-0037", "t-0041", "t-0043", "t-0047", "t-0049", "t-0053",
            "t-0055", "t-0059");
    long before = again.dispatcher().store().examinedKeys();
    assertThat(names(client, FinishedTaskLabels.FINISHED + "=true")).hasSize(40);
    assertThat(again.dispatcher().store().examinedKeys() - before).isEqualTo(40);
  }

  /**
   * Stores {@code count} finished tasks {@code t-0000}, ...: of every three, two marked finished
   * and one not yet; of those marked, the odd-numbered expire at second 1000 + number / 30.
   */
  private static void storeFinishedTasks(KubernetesClient client, int count) {
    for (int i = 0; i < count; i++) {
      VeraTask task = task(String.format("t-%04d", i));
      Map<String, String> labels = new HashMap<>();
      if (i % 3 != 0) {
        labels.put(FinishedTaskLabels.FINISHED, "true");
      }
      if (i % 3 != 0 && i % 2 != 0) {
        labels.put(FinishedTaskLabels.EXPIRES_AT, String.valueOf(1000 + i / 30));
      }
      task.getMetadata().setLabels(labels);
      VeraTask stored = client.resource(task).create();
      stored.setStatus(status(TaskPhase.Succeeded, 1));
      client.resource(stored).updateStatus();
    }
  }

  private static void spillAll(EmbeddedApiServer server, int finished) {
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              server.dispatcher().spillFinished(0);
              assertThat(server.dispatcher().store().onDiskOnly()).isEqualTo(finished);
            });
  }

  private static List<String> names(KubernetesClient client, String selector) {
    return client
        .resources(VeraTask.class)
        .inNamespace(NS)
        .withLabelSelector(selector)
        .list()
        .getItems()
        .stream()
        .map(t -> t.getMetadata().getName())
        .toList();
  }

  /**
   * Lists run side by side under the shared lock; each page's "there is more on disk" is its own.
   * It was a field of the store, which a concurrent list reset: a list then ended after a few pages
   * (the dashboard's index of 100,000 finished tasks held 500 or 2,000 of them).
   */
  @Test
  void concurrentListsOfFinishedTasksEachReadEveryPage() throws Exception {
    EmbeddedApiServer server = start(state);
    KubernetesClient client = server.client();
    storeFinishedTasks(client, 900);
    spillAll(server, 900);
    List<CompletableFuture<Integer>> lists = new ArrayList<>();
    for (int reader = 0; reader < 6; reader++) {
      lists.add(
          CompletableFuture.supplyAsync(
              () -> {
                int fewest = Integer.MAX_VALUE;
                for (int round = 0; round < 5; round++) {
                  int read = 0;
                  String next = null;
                  do {
                    var page =
                        client
                            .resources(VeraTask.class)
                            .inNamespace(NS)
                            .withLabelSelector(FinishedTaskLabels.FINISHED + "=true")
                            .list(
                                new ListOptionsBuilder().withLimit(50L).withContinue(next).build());
                    read += page.getItems().size();
                    next = page.getMetadata().getContinue();
                  } while (next != null && !next.isEmpty());
                  fewest = Math.min(fewest, read);
                }
                return fewest;
              }));
    }
    for (CompletableFuture<Integer> list : lists) {
      assertThat(list.get(120, TimeUnit.SECONDS)).as("tasks a paged list read").isEqualTo(600);
    }
  }

  /**
   * The mock stores an update as the removal of the old object and the put of the new one; a commit
   * between the two would leave a kill at that moment with the object gone. Another connection,
   * which sees what a restart would, finds the object after every commit.
   */
  @Test
  void anObjectIsInTheDatabaseAtEveryCommitWhileItIsUpdated() throws Exception {
    EmbeddedApiServer server = start(state);
    KubernetesClient client = server.client();
    VeraTask stored = client.resource(task("updated")).create();
    String url = "jdbc:sqlite:" + state.resolve("store.db").toAbsolutePath();
    AtomicBoolean updated = new AtomicBoolean();
    CompletableFuture<int[]> reads =
        CompletableFuture.supplyAsync(
            () -> {
              int[] seen = new int[2]; // reads, reads that found no object
              try (Connection c = DriverManager.getConnection(url);
                  Statement s = c.createStatement()) {
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (!Thread.currentThread().isInterrupted() && System.nanoTime() < until) {
                  try (ResultSet r =
                      s.executeQuery("SELECT count(*) FROM objects WHERE name = 'updated'")) {
                    r.next();
                    seen[0]++;
                    if (r.getInt(1) == 0) {
                      seen[1]++;
                    }
                  }
                  if (updated.get()) {
                    break;
                  }
                }
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
              return seen;
            });
    for (int i = 0; i < 400; i++) {
      stored.setStatus(status(TaskPhase.Running, i + 1));
      stored = client.resource(stored).updateStatus();
      // A label change gives the object a new key in the mock's store, as finishing a task does.
      stored.getMetadata().setLabels(Map.of("round", String.valueOf(i)));
      stored = client.resource(stored).update();
    }
    updated.set(true);
    int[] seen = reads.get(90, TimeUnit.SECONDS);
    assertThat(seen[0]).as("reads while the object was updated").isGreaterThan(100);
    assertThat(seen[1]).as("reads that found the object missing").isZero();
  }

  @Test
  void aWatchFromBeforeTheRestartIsToldToListAgain() throws Exception {
    EmbeddedApiServer first = start(state);
    String oldVersion =
        first.client().resource(task("w")).create().getMetadata().getResourceVersion();
    first.client().resource(task("x")).create();
    stop(first);
    EmbeddedApiServer second = start(state);
    CompletableFuture<WatcherException> closed = new CompletableFuture<>();
    try (Watch ignored =
        second
            .client()
            .resources(VeraTask.class)
            .inNamespace(NS)
            .watch(
                new ListOptionsBuilder().withResourceVersion(oldVersion).build(),
                new Watcher<>() {
                  @Override
                  public void eventReceived(Action action, VeraTask resource) {}

                  @Override
                  public void onClose(WatcherException cause) {
                    closed.complete(cause);
                  }
                })) {
      WatcherException cause = closed.get(20, TimeUnit.SECONDS);
      assertThat(cause.isHttpGone()).isTrue();
    }
  }

  @Test
  void aSecondServerOnTheSameStateDirectoryIsRefused() {
    start(state);
    assertThatThrownBy(() -> EmbeddedApiServer.startDurable(0, state, false))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("Another Vera operator")
        .hasMessageContaining(state.toAbsolutePath().normalize().toString());
  }

  @Test
  void theInstallationIdIsKeptPerStateDirectory(@TempDir Path other) {
    EmbeddedApiServer first = start(state);
    String id = first.installationId();
    stop(first);
    EmbeddedApiServer again = start(state);
    assertThat(again.installationId()).isEqualTo(id);
    EmbeddedApiServer elsewhere = start(other);
    assertThat(elsewhere.installationId()).isNotEqualTo(id);
  }

  @Test
  void aReadOnlyStateDirectoryFailsAtStart() throws Exception {
    Path readOnly = Files.createDirectory(state.resolve("ro"));
    assertThat(readOnly.toFile().setWritable(false)).isTrue();
    try {
      if (Files.isWritable(readOnly)) {
        return; // Running as a user who may write anyway (root): nothing to prove here.
      }
      assertThatThrownBy(() -> EmbeddedApiServer.startDurable(0, readOnly, false))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("cannot be written");
    } finally {
      readOnly.toFile().setWritable(true);
    }
  }

  @Test
  void aStateDirectoryThatCannotBeCreatedFailsAtStart() throws Exception {
    Path file = Files.writeString(state.resolve("a-file"), "not a directory");
    assertThatThrownBy(() -> EmbeddedApiServer.startDurable(0, file.resolve("state"), false))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("Cannot create the state directory");
  }

  @Test
  void deletedTasksGiveTheirSpaceBack() {
    EmbeddedApiServer server = start(state);
    KubernetesClient client = server.client();
    String big = "y".repeat(20_000);
    for (int i = 0; i < 300; i++) {
      VeraTask task = task("big-" + i);
      task.getSpec().payload = JsonNodeFactory.instance.objectNode().put("text", big);
      client.resource(task).create();
    }
    long[] full = server.database().pages();
    for (int i = 0; i < 300; i++) {
      client.resources(VeraTask.class).inNamespace(NS).withName("big-" + i).delete();
    }
    server.database().vacuumNow();
    server.database().vacuumNow();
    long[] after = server.database().pages();
    assertThat(after[0])
        .as("pages in the database file after deleting about %d pages' worth", full[0])
        .isLessThan(full[0] / 2);
    assertThat(after[1]).as("free pages left").isLessThan(1024);
  }

  static VeraTask task(String name) {
    VeraTask task = new VeraTask();
    task.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.handler = "echo";
    spec.poolRef = "pool";
    spec.payload = JsonNodeFactory.instance.objectNode().put("text", "x".repeat(200));
    task.setSpec(spec);
    return task;
  }

  static VeraTaskStatus status(TaskPhase phase, int attempts) {
    VeraTaskStatus status = new VeraTaskStatus();
    status.phase = phase;
    status.attempts = attempts;
    return status;
  }
}
