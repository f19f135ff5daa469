package io.vera.operator.task;

import static org.assertj.core.api.Assertions.assertThat;

import io.vera.operator.api.TaskType;
import org.junit.jupiter.api.Test;

class PoolKeyTest {

  @Test
  void aRecordedQueueNameReadsBackAsTheSameQueue() {
    for (PoolKey key :
        new PoolKey[] {
          new PoolKey("ns", QueueKind.WORKER_POOL, "general"),
          PoolKey.ofComputeResource("ns", "box-1"),
          PoolKey.ofAllocation("ns", TaskType.ML_MODEL),
          PoolKey.ofProvider("ns", "openai")
        }) {
      assertThat(new PoolKey("ns", key.name())).isEqualTo(key);
    }
  }

  @Test
  void queueNamesKeepTheirRecordedForm() {
    assertThat(PoolKey.ofComputeResource("ns", "box-1").name()).isEqualTo("computeresource:box-1");
    assertThat(PoolKey.ofAllocation("ns", TaskType.TOOL).toString())
        .isEqualTo("ns/computeresource-allocation:TOOL");
    assertThat(PoolKey.ofProvider("ns", "openai").name()).isEqualTo("provider:openai");
    assertThat(new PoolKey("ns", "general").kind()).isEqualTo(QueueKind.WORKER_POOL);
  }
}
