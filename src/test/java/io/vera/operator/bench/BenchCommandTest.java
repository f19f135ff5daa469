package io.vera.operator.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class BenchCommandTest {
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  @Test
  void jsonOutputIsOneObjectWithEveryFigure() throws Exception {
    try (FakeOperator operator = new FakeOperator(0, true)) {
      int exit =
          execute(
              "--url",
              operator.url(),
              "--tasks",
              "20",
              "--warmup",
              "0",
              "--concurrency",
              "2",
              "--json");

      assertThat(exit).isZero();
      JsonNode figures = new ObjectMapper().readTree(out.toString());
      assertThat(figures.path("completed").asLong()).isEqualTo(20);
      assertThat(figures.path("errors").asLong()).isZero();
      assertThat(figures.path("completed_per_second").asDouble()).isPositive();
      assertThat(figures.path("latency_ms").path("p99").asDouble()).isPositive();
      assertThat(figures.path("heap_used_mb").asDouble()).isEqualTo(12.5);
      assertThat(figures.path("heap_max_mb").asDouble()).isEqualTo(256.0);
    }
  }

  @Test
  void textOutputShowsErrorsAndUnknownHeapAndExitsOne() {
    try (FakeOperator operator = new FakeOperator(5, false)) {
      int exit =
          execute("--url", operator.url(), "--tasks", "10", "--warmup", "0", "--concurrency", "1");

      assertThat(exit).isEqualTo(1);
      assertThat(out.toString())
          .contains("completed 8  failed 0  cancelled 0  errors 2  unfinished 0")
          .contains("operator heap      used unknown, after last GC unknown, max unknown")
          .contains("HTTP 503 from POST /orchestrator/tasks/submit: queue full at submit 5");
    }
  }

  @Test
  void sustainedModePrintsEveryIntervalAndTheTotals() {
    try (FakeOperator operator = new FakeOperator(0, true)) {
      int exit =
          execute(
              "--url",
              operator.url(),
              "--rate",
              "40",
              "--duration",
              "2s",
              "--interval",
              "1s",
              "--concurrency",
              "4",
              "--warmup",
              "20");

      assertThat(exit).as(out.toString()).isZero();
      assertThat(out.toString())
          .contains("Sustained load on http://127.0.0.1:")
          .contains("warm-up: 20 tasks, not measured: 20 completed")
          .contains("at 40.0 tasks/s for 2 s from 4 clients")
          .containsPattern("\\[ +1s\\] completed +\\d+ +[0-9.]+/s +latency ms p50")
          .as("every interval carries the operator's memory")
          .containsPattern("\\[ +1s\\] completed .*  heap unknown")
          .containsPattern("total: completed 80 in [0-9.]+ s")
          .contains("failed 0  errors 0")
          .contains("start: heap unknown")
          .contains("end:   heap unknown");
      assertThat(operator.submits()).as("warm-up and measured tasks").isEqualTo(100);
    }
  }

  @Test
  void invalidOptionsAreUsageErrorsSayingWhatIsAllowed() {
    assertThat(execute("--concurrency", "0")).isEqualTo(2);
    assertThat(err.toString()).contains("concurrency must be at least 1, got 0");

    assertThat(execute("--payload", "[1]")).isEqualTo(2);
    assertThat(err.toString()).contains("--payload must be a JSON object, got '[1]'");

    assertThat(execute("--rate", "10", "--duration", "ten minutes")).isEqualTo(2);
    assertThat(err.toString()).contains("--duration must be a duration such as 90s or 10m");

    assertThat(execute("--url", "not a url")).isEqualTo(2);
    assertThat(err.toString()).contains("--url must be an http or https URL");
  }

  private int execute(String... args) {
    return new CommandLine(new BenchCommand())
        .setOut(new PrintWriter(out))
        .setErr(new PrintWriter(err))
        .execute(args);
  }
}
