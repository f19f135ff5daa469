package io.vera.operator.task;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.TextNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.handler.HandlerRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The status writer against an API server that, as a cluster's does, keeps only the status of a
 * status write: the finished labels then go out as a second write of their own.
 */
@EnableKubernetesMockClient(crud = true)
class TaskStatusWriterLabelsTest {
  static KubernetesMockServer server;
  static KubernetesClient client;

  @Test
  void aFinishedTaskTheServerDidNotMarkIsMarkedByASecondWrite() throws Exception {
    PoolKey pool = new PoolKey("test", "general");
    TaskStatusWriter writer = new TaskStatusWriter(client, 1, Duration.ofSeconds(60));
    TaskDispatcher dispatcher =
        new TaskDispatcher(
            HandlerRegistry.loadDefault(),
            writer,
            new TaskDispatcher.Settings(1000, 300, 0, Duration.ofSeconds(10)),
            Clock.systemUTC());
    writer.attach(dispatcher);
    try {
      dispatcher.upsertPool(pool, new PoolSettings(TaskType.GENERAL, false, null, 30), 0, 0);
      VeraTask task = new VeraTask();
      task.setMetadata(new ObjectMetaBuilder().withName("marked").withNamespace("test").build());
      task.setSpec(new VeraTaskSpec());
      task.getSpec().handler = "echo";
      task.getSpec().ttlSecondsAfterFinished = 30;
      dispatcher.track(client.resource(task).create());
      Lease lease = dispatcher.lease(pool, "w", Duration.ZERO, () -> 0, null).orElseThrow();
      while (server.takeRequest(10, TimeUnit.MILLISECONDS) != null) {
        // Only the writes of the task's end are looked at below.
      }

      assertThat(dispatcher.complete(lease.id(), TextNode.valueOf("done"))).isTrue();
      assertThat(writer.flush(Duration.ofSeconds(20))).as("writer caught up").isTrue();

      List<String> requests = new ArrayList<>();
      for (RecordedRequest r; (r = server.takeRequest(10, TimeUnit.MILLISECONDS)) != null; ) {
        requests.add(r.getMethod() + " " + r.getPath());
      }
      assertThat(requests)
          .containsExactly(
              "PATCH /apis/vera.io/v1alpha1/namespaces/test/veratasks/marked/status",
              "PATCH /apis/vera.io/v1alpha1/namespaces/test/veratasks/marked");
      VeraTask stored =
          client.resources(VeraTask.class).inNamespace("test").withName("marked").get();
      assertThat(stored.getStatus().phase).isEqualTo(TaskPhase.Succeeded);
      Instant completed = Instant.parse(stored.getStatus().completionTime);
      assertThat(stored.getMetadata().getLabels())
          .containsEntry(FinishedTaskLabels.FINISHED, "true")
          .containsEntry(
              FinishedTaskLabels.EXPIRES_AT,
              Long.toString(completed.plusSeconds(30).plusNanos(999_999_999L).getEpochSecond()));
    } finally {
      dispatcher.close();
      writer.close();
    }
  }
}
