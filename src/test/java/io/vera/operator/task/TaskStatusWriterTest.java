package io.vera.operator.task;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.TextNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.mockwebserver.http.MockResponse;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.embedded.EmbeddedApiServer;
import io.vera.operator.handler.HandlerRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The status writer against the embedded API server: final states jump the queue. */
class TaskStatusWriterTest {
  private static final String NS = "default";
  private static final PoolKey POOL = new PoolKey(NS, "general");

  /** Long enough that no intermediate write can go out while the test looks. */
  private static final Duration COALESCE = Duration.ofSeconds(60);

  /** Method and path of each request the embedded API server answered. */
  private final List<String> requests = new CopyOnWriteArrayList<>();

  /** How many status patches the server refuses with a 500 before it takes them. */
  private final AtomicInteger statusRefusals = new AtomicInteger();

  private EmbeddedApiServer server;
  private KubernetesClient client;
  private TaskStatusWriter writer;
  private TaskDispatcher dispatcher;

  @BeforeEach
  void start() {
    server =
        EmbeddedApiServer.start(
            0,
            request -> {
              requests.add(request.getMethod() + " " + request.getPath());
              if (request.getMethod().equals("PATCH")
                  && request.getPath().endsWith("/status")
                  && statusRefusals.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                return Optional.of(
                    new MockResponse()
                        .setResponseCode(500)
                        .setBody(
                            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                                + "\"message\":\"etcdserver: request timed out\",\"code\":500}"));
              }
              return Optional.empty();
            });
    server.installCrds();
    client = server.client();
    writer = new TaskStatusWriter(client, 1, COALESCE);
    dispatcher =
        new TaskDispatcher(
            HandlerRegistry.loadDefault(),
            writer,
            new TaskDispatcher.Settings(1000, 300, 0, Duration.ofSeconds(10)),
            Clock.systemUTC());
    writer.attach(dispatcher);
    dispatcher.upsertPool(POOL, new PoolSettings(TaskType.GENERAL, false, null, 30), 0, 0);
  }

  @AfterEach
  void stop() {
    dispatcher.close();
    writer.close();
    server.close();
  }

  @Test
  void finalStatesOvertakeIntermediateWritesWaitingInTheQueue() throws Exception {
    List<String> names = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      String name = "task-" + i;
      names.add(name);
      dispatcher.track(client.resource(task(name)).create());
    }
    // Every task now has a Queued write waiting out the coalescing window; finish and cancel two.
    Lease lease = dispatcher.lease(POOL, "w", Duration.ZERO, () -> 0, null).orElseThrow();
    String finished = lease.task().key().name();
    assertThat(dispatcher.complete(lease.id(), TextNode.valueOf("done"))).isTrue();
    String cancelled = names.get(names.size() - 1);
    dispatcher.cancel(new TaskKey(NS, cancelled), "test");

    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              assertThat(phase(finished)).isEqualTo(TaskPhase.Succeeded);
              assertThat(phase(cancelled)).isEqualTo(TaskPhase.Cancelled);
            });
    assertThat(stored(finished).getStatus().result.asText()).isEqualTo("done");
    for (String name : names) {
      if (!name.equals(finished) && !name.equals(cancelled)) {
        assertThat(stored(name).getStatus()).as("%s still waits for its write", name).isNull();
      }
    }
    assertThat(writer.backlog()).isEqualTo(names.size() - 2);
    assertThat(writer.unwrittenFinals()).as("finished tasks not yet stored").isZero();
  }

  @Test
  void aFinalStatusIsOnePatchThenTheFinishedLabelWithNoReadBefore() throws Exception {
    dispatcher.track(client.resource(task("one-request")).create());
    Lease lease = dispatcher.lease(POOL, "w", Duration.ZERO, () -> 0, null).orElseThrow();
    requests.clear();
    assertThat(dispatcher.complete(lease.id(), TextNode.valueOf("done"))).isTrue();
    assertThat(writer.flush(Duration.ofSeconds(20))).as("writer caught up").isTrue();

    assertThat(requests)
        .containsExactly(
            "PATCH /apis/vera.io/v1alpha1/namespaces/default/veratasks/one-request/status",
            "PATCH /apis/vera.io/v1alpha1/namespaces/default/veratasks/one-request");
    assertThat(phase("one-request")).isEqualTo(TaskPhase.Succeeded);
    assertThat(stored("one-request").getMetadata().getLabels())
        .containsEntry(FinishedTaskLabels.FINISHED, "true");
    assertThat(dispatcher.get(new TaskKey(NS, "one-request")))
        .as("a stored finished task leaves the dispatcher")
        .isEmpty();
  }

  @Test
  void aRefusedStatusWriteIsRetriedUntilTheServerTakesIt() throws Exception {
    dispatcher.track(client.resource(task("refused-twice")).create());
    Lease lease = dispatcher.lease(POOL, "w", Duration.ZERO, () -> 0, null).orElseThrow();
    statusRefusals.set(2);
    requests.clear();
    assertThat(dispatcher.complete(lease.id(), TextNode.valueOf("done"))).isTrue();

    assertThat(writer.flush(Duration.ofSeconds(30))).as("writer caught up").isTrue();
    String statusPatch =
        "PATCH /apis/vera.io/v1alpha1/namespaces/default/veratasks/refused-twice/status";
    assertThat(requests.stream().filter(statusPatch::equals)).hasSize(3);
    assertThat(statusRefusals).hasValue(0);
    assertThat(phase("refused-twice")).isEqualTo(TaskPhase.Succeeded);
    assertThat(stored("refused-twice").getStatus().result.asText()).isEqualTo("done");
    assertThat(writer.unwrittenFinals()).isZero();
  }

  @Test
  void aStatusWriteOfADeletedTaskForgetsIt() throws Exception {
    dispatcher.track(client.resource(task("deleted-meanwhile")).create());
    Lease lease = dispatcher.lease(POOL, "w", Duration.ZERO, () -> 0, null).orElseThrow();
    client.resources(VeraTask.class).inNamespace(NS).withName("deleted-meanwhile").delete();
    assertThat(dispatcher.complete(lease.id(), TextNode.valueOf("done"))).isTrue();

    assertThat(writer.flush(Duration.ofSeconds(20))).as("writer caught up").isTrue();
    assertThat(writer.unwrittenFinals()).isZero();
    assertThat(dispatcher.get(new TaskKey(NS, "deleted-meanwhile"))).isEmpty();
  }

  @Test
  void answersShowATaskAsStoredNotAheadOfItsStatusWrite() throws Exception {
    TaskService service = serviceAnsweringFromStore();
    TaskKey key = new TaskKey(NS, "not-yet-stored");
    Lease lease = running(key);
    java.util.concurrent.CompletableFuture<?> end = service.awaitFinished(key);

    server.suspend(); // the API server is down: the finished state cannot be written
    assertThat(dispatcher.complete(lease.id(), TextNode.valueOf("done"))).isTrue();
    assertThat(dispatcher.get(key).orElseThrow().phase()).isEqualTo(TaskPhase.Succeeded);
    TaskSnapshot answered = service.find(key).orElseThrow();
    assertThat(answered.phase()).as("as stored: submitted, never run").isEqualTo(TaskPhase.Queued);
    assertThat(answered.attempts()).isZero();
    assertThat(answered.result()).isNull();
    Thread.sleep(500);
    assertThat(end).as("the end is not stored yet").isNotDone();

    server.resume();
    end.get(30, java.util.concurrent.TimeUnit.SECONDS);
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              TaskSnapshot after = service.find(key).orElseThrow();
              assertThat(after.phase()).isEqualTo(TaskPhase.Succeeded);
              assertThat(after.result().asText()).isEqualTo("done");
            });
    assertThat(phase(key.name())).isEqualTo(TaskPhase.Succeeded);
  }

  @Test
  void aSettledAnswerWaitsBrieflyForAnEndTheDispatcherKnows() throws Exception {
    TaskService service = serviceAnsweringFromStore();
    TaskKey key = new TaskKey(NS, "settling");
    Lease lease = running(key);

    server.suspend();
    assertThat(dispatcher.complete(lease.id(), TextNode.valueOf("done"))).isTrue();
    long before = System.nanoTime();
    TaskSnapshot stale = service.findSettled(key, Duration.ofMillis(300)).orElseThrow();
    assertThat(Duration.ofNanos(System.nanoTime() - before))
        .isGreaterThanOrEqualTo(Duration.ofMillis(300));
    assertThat(stale.phase()).as("past the bound: what is stored").isEqualTo(TaskPhase.Queued);

    Thread resume =
        new Thread(
            () -> {
              try {
                Thread.sleep(300);
              } catch (InterruptedException e) {
                return;
              }
              server.resume();
            });
    resume.start();
    TaskSnapshot settled = service.findSettled(key, Duration.ofSeconds(30)).orElseThrow();
    resume.join();
    assertThat(settled.phase()).as("the end, once stored").isEqualTo(TaskPhase.Succeeded);
    assertThat(settled.result().asText()).isEqualTo("done");
  }

  private TaskService serviceAnsweringFromStore() {
    TaskService service = new TaskService(client, dispatcher, NS, 3600);
    service.answerFromStore(writer);
    return service;
  }

  /** Creates the task and leases it: it runs, and its first status write is queued. */
  private Lease running(TaskKey key) throws InterruptedException {
    dispatcher.track(client.resource(task(key.name())).create());
    return dispatcher.lease(POOL, "w", Duration.ZERO, () -> 0, null).orElseThrow();
  }

  private VeraTask stored(String name) {
    return client.resources(VeraTask.class).inNamespace(NS).withName(name).get();
  }

  private TaskPhase phase(String name) {
    VeraTask task = stored(name);
    return task.getStatus() == null ? null : task.getStatus().phase;
  }

  private static VeraTask task(String name) {
    VeraTask task = new VeraTask();
    task.setMetadata(new ObjectMetaBuilder().withNamespace(NS).withName(name).build());
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.handler = "echo";
    spec.poolRef = POOL.name();
    spec.payload = TextNode.valueOf(name);
    task.setSpec(spec);
    return task;
  }
}
