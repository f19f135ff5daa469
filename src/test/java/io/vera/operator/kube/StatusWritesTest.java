package io.vera.operator.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.api.WorkerPoolStatus;
import io.vera.operator.embedded.EmbeddedApiServer;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A reconciler's status write from a cached copy older than the stored resource. */
class StatusWritesTest {
  private EmbeddedApiServer server;
  private KubernetesClient client;

  @BeforeEach
  void start() {
    server = EmbeddedApiServer.start(0);
    server.installCrds();
    client = server.client();
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void theWholeStatusIsWrittenOverAStoredVersionNewerThanTheCopy() {
    WorkerPool pool = new WorkerPool();
    pool.setMetadata(new ObjectMetaBuilder().withNamespace("default").withName("general").build());
    pool.setSpec(new WorkerPoolSpec());
    pool.getSpec().taskType = TaskType.GENERAL;
    pool = client.resource(pool).create();
    StatusWrites.replaceStatus(client, pool, status(List.of("echo", "sleep", "compute.sum"), 3));
    WorkerPool cached = client.resource(pool).get();
    // Meanwhile the stored pool moved on: the cached copy is one version behind.
    StatusWrites.replaceStatus(client, client.resource(pool).get(), status(List.of("echo"), 1));

    // What JOSDK sends without server-side apply: a JSON Patch diffed against the cached copy.
    WorkerPool stale = client.resource(pool).get();
    stale.setStatus(cached.getStatus());
    assertThatThrownBy(
            () ->
                client
                    .resource(stale)
                    .editStatus(
                        p -> {
                          p.setStatus(status(List.of("echo", "sleep"), 2));
                          return p;
                        }))
        .isInstanceOf(KubernetesClientException.class)
        .satisfies(e -> assertThat(((KubernetesClientException) e).getCode()).isEqualTo(422));

    WorkerPool written =
        StatusWrites.replaceStatus(client, stale, status(List.of("echo", "sleep"), 2));
    assertThat(written.getStatus().handlers).containsExactly("echo", "sleep");
    WorkerPoolStatus stored = client.resource(pool).get().getStatus();
    assertThat(stored.handlers).containsExactly("echo", "sleep");
    assertThat(stored.queued).isEqualTo(2);
    assertThat(stored.oldestQueuedAgeSeconds).as("a field the new status leaves out").isNull();
  }

  private static WorkerPoolStatus status(List<String> handlers, int queued) {
    WorkerPoolStatus status = new WorkerPoolStatus();
    status.handlers = handlers;
    status.queued = queued;
    if (queued == 3) {
      status.oldestQueuedAgeSeconds = 7L;
    }
    return status;
  }
}
