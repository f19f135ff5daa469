package io.vera.operator.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.app.OperatorHarness;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** WorkerPools with runtime Pods: their Deployment, /scale, autoscaling and Events. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PodsRuntimeTest {
  private OperatorHarness harness;

  @BeforeAll
  void start() {
    harness = new OperatorHarness();
  }

  @AfterAll
  void stop() {
    harness.close();
  }

  private WorkerPool pool(String name, WorkerPoolSpec spec) {
    WorkerPool pool = new WorkerPool();
    pool.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(OperatorHarness.NAMESPACE).build());
    pool.setSpec(spec);
    return harness.client().resource(pool).create();
  }

  private Deployment deployment(String pool) {
    return harness
        .client()
        .apps()
        .deployments()
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName(pool + "-workers")
        .get();
  }

  private WorkerPool live(String name) {
    return harness
        .client()
        .resources(WorkerPool.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName(name)
        .get();
  }

  @Test
  void podsPoolGetsAnOwnedDeploymentOfWorkersThatFollowsScale() {
    WorkerPoolSpec spec = new WorkerPoolSpec();
    spec.taskType = TaskType.TOOL;
    spec.runtime = WorkerPoolSpec.Runtime.Pods;
    spec.replicas = 2;
    spec.concurrencyPerWorker = 3;
    spec.template = new WorkerPoolSpec.WorkerTemplate();
    spec.template.image = "example/vera-worker:1";
    spec.template.env =
        List.of(new EnvVar("EXTRA", "yes", null), new EnvVar("VERA_POOL", "ignored", null));
    WorkerPool created = pool("tools", spec);

    await().atMost(Duration.ofSeconds(10)).until(() -> deployment("tools") != null);
    Deployment deployment = deployment("tools");
    assertThat(deployment.getSpec().getReplicas()).isEqualTo(2);
    assertThat(deployment.getMetadata().getOwnerReferences())
        .singleElement()
        .satisfies(o -> assertThat(o.getUid()).isEqualTo(created.getMetadata().getUid()));
    var container = deployment.getSpec().getTemplate().getSpec().getContainers().get(0);
    assertThat(container.getImage()).isEqualTo("example/vera-worker:1");
    assertThat(container.getArgs()).containsExactly("worker");
    assertThat(container.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
    Map<String, String> env =
        container.getEnv().stream()
            .collect(Collectors.toMap(EnvVar::getName, e -> String.valueOf(e.getValue())));
    assertThat(env)
        .containsEntry("VERA_POOL", "tools")
        .containsEntry("VERA_CONCURRENCY", "3")
        .containsEntry("EXTRA", "yes")
        .containsKey("VERA_WORKER_ID");
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              // Not-null first: Awaitility retries failed assertions, not NullPointerExceptions.
              assertThat(live("tools").getStatus()).isNotNull();
              assertThat(live("tools").getStatus().selector).isEqualTo("vera.io/pool=tools");
            });

    harness
        .client()
        .resources(WorkerPool.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName("tools")
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"replicas\":5}}");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> deployment("tools").getSpec().getReplicas() == 5);
    await().atMost(Duration.ofSeconds(10)).until(() -> live("tools").getStatus().replicas == 5);

    // Deleted behind the operator's back: its watch puts it back.
    String before = deployment("tools").getMetadata().getUid();
    harness.client().resource(deployment("tools")).delete();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                deployment("tools") != null
                    && !deployment("tools").getMetadata().getUid().equals(before)
                    && deployment("tools").getSpec().getReplicas() == 5);
  }

  @Test
  void autoscalingFollowsTheQueueAndRecordsScalingEvents() {
    WorkerPoolSpec spec = new WorkerPoolSpec();
    spec.taskType = TaskType.ML_MODEL;
    spec.runtime = WorkerPoolSpec.Runtime.Pods;
    spec.autoscaling = new WorkerPoolSpec.Autoscaling();
    spec.autoscaling.enabled = true;
    spec.autoscaling.minReplicas = 1;
    spec.autoscaling.maxReplicas = 4;
    spec.autoscaling.targetTasksPerWorker = 2;
    spec.autoscaling.scaleDownDelaySeconds = 1;
    pool("models", spec);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                deployment("models") != null && deployment("models").getSpec().getReplicas() == 1);

    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      ids.add(
          harness
              .post("/orchestrator/tasks/submit", "{\"name\": \"echo\", \"pool\": \"models\"}")
              .json()
              .get("task_id")
              .asText());
    }
    await().atMost(Duration.ofSeconds(15)).until(() -> live("models").getStatus().replicas == 4);
    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> deployment("models").getSpec().getReplicas() == 4);
    assertThat(live("models").getSpec().replicasOrDefault())
        .as("the spec is never written")
        .isEqualTo(1);

    ids.forEach(id -> harness.post("/orchestrator/tasks/" + id + "/cancel", null));
    await().atMost(Duration.ofSeconds(20)).until(() -> live("models").getStatus().replicas == 1);
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(harness.events())
                    .anySatisfy(
                        e -> {
                          assertThat(e.getInvolvedObject().getName()).isEqualTo("models");
                          assertThat(e.getReason()).isEqualTo("Scaled");
                          assertThat(e.getMessage()).contains("1 -> 4");
                        }));
  }
}
