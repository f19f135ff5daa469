package io.vera.operator.task;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.TextNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.api.VeraTaskStatus;
import io.vera.operator.embedded.EmbeddedApiServer;
import io.vera.operator.handler.HandlerRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The task table over finished tasks kept on the API server: sorted and filtered in their compact
 * index, shown in full, and in step with tasks marked, deleted by their TTL, or deleted by others.
 */
class FinishedTaskIndexTest {
  private static final String NS = "ns";
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  private final EmbeddedApiServer apiServer = EmbeddedApiServer.start(0);
  private final TaskDispatcher dispatcher =
      new TaskDispatcher(
          HandlerRegistry.loadDefault(),
          key -> {},
          new TaskDispatcher.Settings(1000, 300, 3, Duration.ofSeconds(1)),
          Clock.systemUTC());
  private final FinishedTasks finished = new FinishedTasks(apiServer.client(), dispatcher, 1 << 20);
  private final TaskQuery query = new TaskQuery(new TaskHistory(dispatcher, finished));

  @BeforeEach
  void installCrds() {
    apiServer.installCrds();
  }

  @AfterEach
  void close() {
    dispatcher.close();
    apiServer.close();
  }

  /** A task finished and marked by an earlier operator: on the API server only. */
  private VeraTask storeFinished(
      String name, String handler, TaskPriority priority, TaskPhase phase, int runSeconds) {
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace(NS)
            .withName(name)
            .withLabels(Map.of(FinishedTaskLabels.FINISHED, "true"))
            .build());
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.handler = handler;
    spec.priority = priority;
    spec.payload = JsonNodeFactory.instance.objectNode().put("name", name);
    task.setSpec(spec);
    VeraTask created = apiServer.client().resource(task).create();
    VeraTaskStatus status = new VeraTaskStatus();
    status.phase = phase;
    status.startTime = T0.toString();
    status.completionTime = T0.plusSeconds(runSeconds).toString();
    status.result = TextNode.valueOf("result of " + name);
    created.setStatus(status);
    return apiServer.client().resource(created).updateStatus();
  }

  private static TaskQuery.Filter filter(
      Set<TaskPhase> phases, String handler, TaskPriority priority, String text) {
    return new TaskQuery.Filter(NS, phases, null, handler, priority, text);
  }

  @Test
  void tasksFinishedBeforeThisProcessAreSortedFilteredAndShownInFull() {
    for (int n = 0; n < 30; n++) {
      storeFinished(
          String.format("old-%02d", n),
          n % 2 == 0 ? "echo" : "compute.sum",
          n % 3 == 0 ? TaskPriority.HIGH : TaskPriority.LOW,
          n % 5 == 0 ? TaskPhase.Failed : TaskPhase.Succeeded,
          n);
    }

    TaskQuery.Page longestEcho =
        query.page(
            filter(Set.of(TaskPhase.Succeeded), "echo", null, null),
            TaskQuery.Sort.DURATION,
            true,
            1,
            3);

    // echo and succeeded: even n not divisible by 5, longest first: 28, 26, 24, 22 ...
    assertThat(longestEcho.complete()).isTrue();
    assertThat(longestEcho.total()).isEqualTo(12);
    assertThat(longestEcho.tasks())
        .extracting(t -> t.key().name())
        .containsExactly("old-26", "old-24", "old-22");
    TaskSnapshot shown = longestEcho.tasks().get(0);
    assertThat(shown.payload().path("name").asText()).isEqualTo("old-26");
    assertThat(shown.result().asText()).isEqualTo("result of old-26");

    TaskQuery.Page highWithText =
        query.page(
            filter(Set.of(), null, TaskPriority.HIGH, "OLD-1"),
            TaskQuery.Sort.CREATED,
            false,
            0,
            10);
    assertThat(highWithText.tasks())
        .extracting(t -> t.key().name())
        .containsExactly("old-12", "old-15", "old-18");
  }

  @Test
  void aTaskMarkedFinishedIsFoundAndLeavesWhenItsTtlDeletesIt() {
    query.page(filter(Set.of(), null, null, null), TaskQuery.Sort.CREATED, true, 0, 10);
    VeraTask stored = storeFinished("fresh", "echo", TaskPriority.NORMAL, TaskPhase.Succeeded, 1);

    finished.markedFinished(dispatcher.view(stored));
    assertThat(
            query
                .page(filter(Set.of(), "echo", null, null), TaskQuery.Sort.CREATED, true, 0, 10)
                .tasks())
        .extracting(t -> t.key().name())
        .containsExactly("fresh");

    apiServer.client().resource(stored).delete();
    finished.forget(new TaskKey(NS, "fresh"));
    assertThat(
            query
                .page(filter(Set.of(), null, null, null), TaskQuery.Sort.CREATED, true, 0, 10)
                .total())
        .isZero();
  }

  @Test
  void aTaskDeletedByAnotherClientLeavesThePageThatWouldShowIt() {
    for (int n = 0; n < 5; n++) {
      storeFinished("task-" + n, "echo", TaskPriority.NORMAL, TaskPhase.Succeeded, n);
    }
    // Shortest first: reads (and caches for a minute) task-0 and task-1 only.
    assertThat(
            query
                .page(filter(Set.of(), null, null, null), TaskQuery.Sort.DURATION, false, 0, 2)
                .total())
        .isEqualTo(5);

    apiServer.client().resources(VeraTask.class).inNamespace(NS).withName("task-4").delete();

    TaskQuery.Page page =
        query.page(filter(Set.of(), null, null, null), TaskQuery.Sort.DURATION, true, 0, 2);
    assertThat(page.tasks()).extracting(t -> t.key().name()).containsExactly("task-3", "task-2");
    assertThat(page.total()).isEqualTo(4);
  }

  @Test
  void aFullIndexLetsTheTaskAddedEarliestGoAndKeepsTheRest() {
    FinishedTaskIndex index = new FinishedTaskIndex((ns, each) -> {}, 3);
    for (int i = 1; i <= 3; i++) {
      index.add(finishedSnapshot(NS, "t" + i));
    }
    index.add(finishedSnapshot("other", "o1"));
    index.add(finishedSnapshot(NS, "t2")); // its end again: still one row, not a second
    index.remove(new TaskKey(NS, "t3")); // deleted by its TTL
    index.add(finishedSnapshot(NS, "t4"));
    index.add(finishedSnapshot(NS, "t5"));

    assertThat(names(index, NS)).containsExactlyInAnyOrder("t2", "t4", "t5");
    assertThat(names(index, "other")).containsExactly("o1");

    // Many more, with removals between: the bound holds and the latest stay.
    for (int i = 6; i <= 5000; i++) {
      index.add(finishedSnapshot(NS, "t" + i));
      if (i % 3 == 0) {
        index.remove(new TaskKey(NS, "t" + i));
      }
    }
    assertThat(names(index, NS)).containsExactlyInAnyOrder("t4997", "t4999", "t5000");
    assertThat(index.size(NS)).isEqualTo(3);
  }

  private static java.util.List<String> names(FinishedTaskIndex index, String namespace) {
    java.util.List<String> names = new java.util.ArrayList<>();
    index.forEach(namespace, 1000, t -> names.add(t.key().name()));
    return names;
  }

  private static TaskSnapshot finishedSnapshot(String namespace, String name) {
    return new TaskSnapshot(
        new TaskKey(namespace, name),
        "uid-" + name,
        "echo",
        TaskPriority.NORMAL,
        null,
        null,
        null,
        null,
        null,
        TaskPhase.Succeeded,
        null,
        1,
        0,
        60,
        null,
        null,
        null,
        T0,
        T0,
        T0,
        T0.plusSeconds(1),
        null,
        null,
        null,
        null,
        null,
        null,
        null);
  }
}
