package io.vera.operator.pool;

import static org.assertj.core.api.Assertions.assertThat;

import io.vera.operator.api.TaskType;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.task.PoolKey;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class AutoscalerTest {
  private static final PoolKey POOL = new PoolKey("ns", "p");
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  private final Autoscaler autoscaler = new Autoscaler();

  private static WorkerPoolSpec spec(int min, int max, int perWorker, int concurrency, int delay) {
    WorkerPoolSpec spec = new WorkerPoolSpec();
    spec.taskType = TaskType.GENERAL;
    spec.replicas = 2;
    spec.concurrencyPerWorker = concurrency;
    spec.autoscaling = new WorkerPoolSpec.Autoscaling();
    spec.autoscaling.enabled = true;
    spec.autoscaling.minReplicas = min;
    spec.autoscaling.maxReplicas = max;
    spec.autoscaling.targetTasksPerWorker = perWorker;
    spec.autoscaling.scaleDownDelaySeconds = delay;
    return spec;
  }

  @Test
  void withoutAutoscalingTheSpecDecides() {
    WorkerPoolSpec spec = new WorkerPoolSpec();
    spec.replicas = 5;
    assertThat(autoscaler.desiredReplicas(POOL, spec, 1, 100, 0, T0)).isEqualTo(5);
  }

  @Test
  void growsAtOnceToCoverQueuedAndRunningTasksWithinMax() {
    WorkerPoolSpec spec = spec(1, 10, 4, 2, 60);
    assertThat(autoscaler.desiredReplicas(POOL, spec, 1, 15, 2, T0))
        .as("17 tasks / (4 x 2) per worker")
        .isEqualTo(3);
    assertThat(autoscaler.desiredReplicas(POOL, spec, 3, 500, 0, T0)).isEqualTo(10);
    assertThat(autoscaler.desiredReplicas(POOL, spec, 3, 0, 0, T0))
        .as("shrinking waits")
        .isEqualTo(3);
  }

  @Test
  void shrinksOnlyAfterTheQueueJustifiedItForTheWholeDelay() {
    WorkerPoolSpec spec = spec(1, 10, 1, 1, 60);
    assertThat(autoscaler.desiredReplicas(POOL, spec, 8, 2, 0, T0)).isEqualTo(8);
    assertThat(autoscaler.desiredReplicas(POOL, spec, 8, 2, 0, T0.plusSeconds(59))).isEqualTo(8);
    assertThat(autoscaler.desiredReplicas(POOL, spec, 8, 2, 0, T0.plusSeconds(60))).isEqualTo(2);
  }

  @Test
  void aBurstResetsTheScaleDownClock() {
    WorkerPoolSpec spec = spec(0, 10, 1, 1, 60);
    autoscaler.desiredReplicas(POOL, spec, 5, 0, 0, T0);
    assertThat(autoscaler.desiredReplicas(POOL, spec, 5, 6, 0, T0.plusSeconds(30))).isEqualTo(6);
    assertThat(autoscaler.desiredReplicas(POOL, spec, 6, 0, 0, T0.plusSeconds(70))).isEqualTo(6);
    assertThat(autoscaler.desiredReplicas(POOL, spec, 6, 0, 0, T0.plusSeconds(130))).isZero();
  }

  @Test
  void staysWithinMinAndMaxWhateverTheCurrentSize() {
    WorkerPoolSpec spec = spec(2, 4, 1, 1, 0);
    assertThat(autoscaler.desiredReplicas(POOL, spec, 9, 0, 0, T0)).isEqualTo(2);
    assertThat(autoscaler.desiredReplicas(POOL, spec, 0, 0, 0, T0)).isEqualTo(2);
  }
}
