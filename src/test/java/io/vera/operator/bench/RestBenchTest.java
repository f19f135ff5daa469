package io.vera.operator.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.offset;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.bench.RestBench.BenchResult;
import io.vera.operator.bench.RestBench.Settings;
import java.time.Duration;
import java.util.stream.LongStream;
import okhttp3.HttpUrl;
import org.junit.jupiter.api.Test;

class RestBenchTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void countsCompletedTasksAndFailedSubmitsWithoutTheWarmup() throws Exception {
    try (FakeOperator operator = new FakeOperator(10, true)) {
      BenchResult result =
          new RestBench(settings(operator, "echo", 100, 20, 4, Duration.ofSeconds(60))).run();

      assertThat(operator.submits()).isEqualTo(120);
      assertThat(result.tasks()).isEqualTo(100);
      assertThat(result.completed()).isEqualTo(90);
      assertThat(result.errors()).isEqualTo(10);
      assertThat(result.failed()).isZero();
      assertThat(result.cancelled()).isZero();
      assertThat(result.unfinished()).isZero();
      assertThat(result.timedOut()).isFalse();
      assertThat(result.errorSamples())
          .hasSize(5)
          .allSatisfy(
              error ->
                  assertThat(error)
                      .startsWith("HTTP 503 from POST /orchestrator/tasks/submit: queue full"));
    }
  }

  @Test
  void measuresLatencyThroughputAndHeap() throws Exception {
    try (FakeOperator operator = new FakeOperator(0, true)) {
      BenchResult result =
          new RestBench(settings(operator, "echo", 50, 0, 5, Duration.ofSeconds(60))).run();

      assertThat(result.completed()).isEqualTo(50);
      assertThat(result.latency()).isNotNull();
      assertThat(result.latency().p50Ms()).isPositive();
      assertThat(result.latency().p50Ms())
          .isLessThanOrEqualTo(result.latency().p95Ms())
          .isLessThanOrEqualTo(result.latency().p99Ms())
          .isLessThanOrEqualTo(result.latency().maxMs());
      assertThat(result.latency().maxMs()).isLessThanOrEqualTo(result.wall().toNanos() / 1e6);
      assertThat(result.throughputPerSecond())
          .isCloseTo(50 / (result.wall().toNanos() / 1e9), offset(1e-9));
      assertThat(result.heapUsedMb()).isEqualTo(12.5);
      assertThat(result.heapMaxMb()).isEqualTo(256.0);
      assertThat(result.heapAfterGcMb()).isEqualTo(9.5);
    }
  }

  @Test
  void submitsTheHandlerWithPayloadAtNormalPriorityAndWaitsThirtySecondsPerPoll() throws Exception {
    try (FakeOperator operator = new FakeOperator(0, true)) {
      new RestBench(settings(operator, "echo", 3, 0, 1, Duration.ofSeconds(60))).run();

      assertThat(operator.lastSubmitBody())
          .isEqualTo(
              JSON.readTree("{\"name\":\"echo\",\"payload\":{\"n\":1},\"priority\":\"normal\"}"));
      assertThat(operator.resultTimeouts()).containsExactly("30");
    }
  }

  @Test
  void failedTasksAreCountedApartFromErrors() throws Exception {
    try (FakeOperator operator = new FakeOperator(0, false)) {
      BenchResult result =
          new RestBench(settings(operator, "fail", 10, 0, 2, Duration.ofSeconds(60))).run();

      assertThat(result.failed()).isEqualTo(10);
      assertThat(result.completed()).isZero();
      assertThat(result.errors()).isZero();
      assertThat(result.latency()).isNull();
      assertThat(result.throughputPerSecond()).isZero();
      assertThat(result.heapUsedMb()).isNull();
      assertThat(result.heapMaxMb()).isNull();
    }
  }

  @Test
  void stopsAtMaxDurationLeavingTasksUnfinished() throws Exception {
    try (FakeOperator operator = new FakeOperator(0, true)) {
      long start = System.nanoTime();
      BenchResult result =
          new RestBench(settings(operator, "hang", 10, 0, 2, Duration.ofSeconds(1))).run();

      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
      assertThat(result.timedOut()).isTrue();
      assertThat(result.unfinished()).isEqualTo(10);
      assertThat(result.completed()).isZero();
    }
  }

  @Test
  void unknownTaskStatusIsAnErrorNotAnEndlessWait() throws Exception {
    try (FakeOperator operator = new FakeOperator(0, true)) {
      BenchResult result =
          new RestBench(settings(operator, "misspelled", 3, 0, 1, Duration.ofSeconds(60))).run();

      assertThat(result.errors()).isEqualTo(3);
      assertThat(result.timedOut()).isFalse();
      assertThat(result.errorSamples()).first().asString().contains("unknown status 'complete'");
    }
  }

  @Test
  void percentilesUseNearestRank() {
    long[] oneToHundred = LongStream.rangeClosed(1, 100).toArray();

    assertThat(RestBench.percentile(oneToHundred, 50)).isEqualTo(50);
    assertThat(RestBench.percentile(oneToHundred, 95)).isEqualTo(95);
    assertThat(RestBench.percentile(oneToHundred, 99)).isEqualTo(99);
    assertThat(RestBench.percentile(oneToHundred, 100)).isEqualTo(100);

    long[] four = {10, 20, 30, 40};
    assertThat(RestBench.percentile(four, 50)).isEqualTo(20);
    assertThat(RestBench.percentile(four, 51)).isEqualTo(30);
    assertThat(RestBench.percentile(four, 95)).isEqualTo(40);

    long[] one = {7};
    assertThat(RestBench.percentile(one, 1)).isEqualTo(7);
    assertThat(RestBench.percentile(one, 99)).isEqualTo(7);
  }

  @Test
  void percentileRejectsEmptyValuesAndOutOfRangePercents() {
    assertThatThrownBy(() -> RestBench.percentile(new long[0], 50))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RestBench.percentile(new long[] {1}, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("got 0");
    assertThatThrownBy(() -> RestBench.percentile(new long[] {1}, 101))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void settingsRejectOutOfRangeValuesNamingThem() {
    HttpUrl url = HttpUrl.get("http://127.0.0.1:8000");
    ObjectNode payload = JSON.createObjectNode();

    assertThatThrownBy(() -> new Settings(url, "echo", payload, 0, 0, 1, Duration.ofSeconds(1)))
        .hasMessage("tasks must be at least 1, got 0");
    assertThatThrownBy(() -> new Settings(url, "echo", payload, 1, 0, 0, Duration.ofSeconds(1)))
        .hasMessage("concurrency must be at least 1, got 0");
    assertThatThrownBy(() -> new Settings(url, "echo", payload, 1, -1, 1, Duration.ofSeconds(1)))
        .hasMessage("warmup must be 0 or more, got -1");
  }

  private static Settings settings(
      FakeOperator operator,
      String handler,
      int tasks,
      int warmup,
      int concurrency,
      Duration maxDuration) {
    ObjectNode payload = JSON.createObjectNode().put("n", 1);
    return new Settings(
        HttpUrl.get(operator.url()), handler, payload, tasks, warmup, concurrency, maxDuration);
  }
}
