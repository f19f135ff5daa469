package io.vera.operator.task;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.TextNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.embedded.EmbeddedApiServer;
import io.vera.operator.handler.HandlerRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class TaskQueryTest {
  private static final String NS = "ns";
  private static final PoolKey POOL = new PoolKey(NS, "general");
  private static final TaskPriority[] PRIORITIES = {
    TaskPriority.LOW, TaskPriority.NORMAL, TaskPriority.CRITICAL
  };

  private final TaskDispatcher dispatcher =
      new TaskDispatcher(
          HandlerRegistry.loadDefault(),
          key -> {},
          new TaskDispatcher.Settings(1000, 300, 3, Duration.ofSeconds(1)),
          Clock.systemUTC());

  /** Where finished tasks are read from once the dispatcher has let them go; none here. */
  private final EmbeddedApiServer apiServer = EmbeddedApiServer.start(0);

  private final TaskHistory history =
      new TaskHistory(dispatcher, new FinishedTasks(apiServer.client(), dispatcher, 1 << 20));
  private final TaskQuery query = new TaskQuery(history);

  @BeforeEach
  void installCrds() {
    apiServer.installCrds();
  }

  @AfterEach
  void close() {
    dispatcher.close();
    apiServer.close();
  }

  private void track(int n, String handler) {
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace(NS)
            .withName(String.format("task-%03d", n))
            .withUid(UUID.randomUUID().toString())
            .withGeneration(1L)
            .withCreationTimestamp(Instant.parse("2026-01-01T00:00:00Z").plusSeconds(n).toString())
            .build());
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.handler = handler;
    spec.priority = PRIORITIES[n % PRIORITIES.length];
    spec.payload = TextNode.valueOf("x");
    task.setSpec(spec);
    dispatcher.track(task);
  }

  private static TaskQuery.Filter all() {
    return new TaskQuery.Filter(NS, Set.of(), null, null, null, null);
  }

  @Test
  void pagesCoverEveryMatchingTaskOnceInTheAskedOrder() {
    for (int n = 0; n < 95; n++) {
      track(n, n % 2 == 0 ? "echo" : "compute.sum");
    }
    List<String> seen = new ArrayList<>();
    TaskQuery.Page page;
    int offset = 0;
    do {
      page = query.page(all(), TaskQuery.Sort.PRIORITY, true, offset, 20);
      page.tasks().forEach(t -> seen.add(t.key().name()));
      offset += 20;
    } while (offset < page.total());
    assertThat(page.total()).isEqualTo(95);
    assertThat(new HashSet<>(seen)).hasSize(95);
    List<TaskPriority> order =
        seen.stream()
            .map(name -> dispatcher.get(new TaskKey(NS, name)).orElseThrow().priority())
            .toList();
    assertThat(order.subList(0, 31)).containsOnly(TaskPriority.CRITICAL);
    assertThat(order.subList(64, 95)).containsOnly(TaskPriority.LOW);

    TaskQuery.Page newest = query.page(all(), TaskQuery.Sort.CREATED, true, 0, 3);
    assertThat(newest.tasks())
        .extracting(t -> t.key().name())
        .containsExactly("task-094", "task-093", "task-092");
  }

  @Test
  void filtersByHandlerPriorityStateAndTextTogether() {
    for (int n = 0; n < 30; n++) {
      track(n, n % 2 == 0 ? "echo" : "compute.sum");
    }
    TaskQuery.Page page =
        query.page(
            new TaskQuery.Filter(
                NS, Set.of(TaskPhase.Pending), null, "echo", TaskPriority.LOW, "-01"),
            TaskQuery.Sort.CREATED,
            false,
            0,
            50);
    // echo: even n; LOW: n % 3 == 0; "-01": task-010 .. task-019.
    assertThat(page.tasks())
        .extracting(t -> t.key().name())
        .containsExactly("task-012", "task-018");
    assertThat(
            query
                .page(
                    new TaskQuery.Filter("other", null, null, null, null, null),
                    TaskQuery.Sort.CREATED,
                    true,
                    0,
                    50)
                .total())
        .isZero();
  }

  @Test
  void finishedListsTheMostRecentlyFinishedFirst() throws Exception {
    dispatcher.upsertPool(POOL, new PoolSettings(TaskType.GENERAL, false, null, 30), 0, 0);
    for (int n = 0; n < 3; n++) {
      track(n, "echo");
    }
    List<String> finishedOrder = new ArrayList<>();
    for (int n = 0; n < 3; n++) {
      Lease lease = dispatcher.lease(POOL, "w", Duration.ZERO, () -> 0, null).orElseThrow();
      dispatcher.complete(lease.id(), TextNode.valueOf("done"));
      finishedOrder.add(0, lease.task().key().name());
      Thread.sleep(5);
    }
    track(9, "echo");
    TaskHistory.Page page = history.finished(NS, 0, 10);
    assertThat(page.total()).isEqualTo(3);
    assertThat(page.tasks())
        .extracting(t -> t.key().name())
        .containsExactlyElementsOf(finishedOrder);
  }
}
