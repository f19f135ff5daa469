package io.vera.operator.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vera.operator.app.OperatorHarness;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** bench provider runs briefly against an in-process operator; its output shape, not timing. */
class ProviderBenchCommandTest {
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  @Test
  void measuresBothPathsInBothModesAndPrintsTheDifference() throws Exception {
    try (OperatorHarness harness = new OperatorHarness()) {
      int exit =
          execute(
              "provider",
              "--url",
              harness.baseUrl(),
              "--clients",
              "4",
              "--calls",
              "12",
              "--warmup",
              "2",
              "--upstream-delay-ms",
              "5",
              "--max-seconds",
              "120",
              "--json");

      assertThat(exit).as(out + "\n" + err).isZero();
      JsonNode figures = new ObjectMapper().readTree(out.toString());
      assertThat(figures.path("clients").asInt()).isEqualTo(4);
      assertThat(figures.path("arrivals").asText()).isEqualTo("spread");
      for (String mode : new String[] {"non_streaming_ms", "streaming_first_chunk_ms"}) {
        for (String path : new String[] {"direct", "operator"}) {
          JsonNode p = figures.path(mode).path(path);
          assertThat(p.path("count").asInt()).as(mode + " " + path).isEqualTo(12);
          assertThat(p.path("p50").asDouble()).as(mode + " " + path).isGreaterThanOrEqualTo(5);
          assertThat(p.path("p99").asDouble()).isGreaterThanOrEqualTo(p.path("p50").asDouble());
          // 4 clients waiting at least 5 ms a call make at most 800 calls/s.
          assertThat(p.path("calls_per_s").asDouble())
              .as(mode + " " + path)
              .isGreaterThan(0)
              .isLessThanOrEqualTo(800);
        }
        assertThat(figures.path(mode).path("added").path("p50").isNumber()).isTrue();
        assertThat(figures.path(mode).path("added").path("p99").isNumber()).isTrue();
      }
      assertThat(figures.path("errors").asInt()).isZero();

      out.getBuffer().setLength(0);
      assertThat(
              execute(
                  "provider",
                  "--url",
                  harness.baseUrl(),
                  "--clients",
                  "2",
                  "--calls",
                  "4",
                  "--warmup",
                  "0",
                  "--burst"))
          .isZero();
      assertThat(out.toString())
          .contains("arrivals burst (all clients start together)")
          .contains("non-streaming direct", "non-streaming operator", "non-streaming added")
          .contains("stream, first chunk added")
          .contains("errors 0");
    }
  }

  @Test
  void measuresTheOpenAiGatewayAgainstTheForwardersV1InTheSameRounds() throws Exception {
    try (OperatorHarness harness = new OperatorHarness();
        ForwarderBenchCommand.Forwarder reference = new ForwarderBenchCommand.Forwarder(0)) {
      int exit =
          execute(
              "provider",
              "--api",
              "openai",
              "--url",
              harness.baseUrl(),
              "--reference-url",
              "http://127.0.0.1:" + reference.port(),
              "--clients",
              "2",
              "--calls",
              "6",
              "--warmup",
              "1",
              "--upstream-delay-ms",
              "5",
              "--max-seconds",
              "120",
              "--json");

      assertThat(exit).as(out + "\n" + err).isZero();
      JsonNode figures = new ObjectMapper().readTree(out.toString());
      assertThat(figures.path("api").asText()).isEqualTo("openai");
      for (String mode : new String[] {"non_streaming_ms", "streaming_first_chunk_ms"}) {
        for (String path : new String[] {"operator", "reference"}) {
          assertThat(figures.path(mode).path(path).path("count").asInt())
              .as(mode + " " + path)
              .isEqualTo(6);
        }
        assertThat(figures.path(mode).path("operator_over_reference").path("p50").isNumber())
            .isTrue();
      }
      assertThat(figures.path("errors").asInt()).isZero();
    }
  }

  @Test
  void measuresTheBareForwarderTheSameWay() throws Exception {
    try (ForwarderBenchCommand.Forwarder forwarder = new ForwarderBenchCommand.Forwarder(0)) {
      int exit =
          execute(
              "provider",
              "--url",
              "http://127.0.0.1:" + forwarder.port(),
              "--clients",
              "4",
              "--calls",
              "8",
              "--warmup",
              "2",
              "--upstream-delay-ms",
              "5",
              "--json");

      assertThat(exit).as(out + "\n" + err).isZero();
      JsonNode figures = new ObjectMapper().readTree(out.toString());
      for (String mode : new String[] {"non_streaming_ms", "streaming_first_chunk_ms"}) {
        JsonNode forwarded = figures.path(mode).path("operator");
        assertThat(forwarded.path("count").asInt()).as(mode).isEqualTo(8);
        assertThat(forwarded.path("p50").asDouble()).as(mode).isGreaterThanOrEqualTo(5);
      }
      assertThat(figures.path("errors").asInt()).isZero();
    }
  }

  @Test
  void measuresAReferenceForwarderInTheSameRounds() throws Exception {
    try (ForwarderBenchCommand.Forwarder measured = new ForwarderBenchCommand.Forwarder(0);
        ForwarderBenchCommand.Forwarder reference = new ForwarderBenchCommand.Forwarder(0)) {
      int exit =
          execute(
              "provider",
              "--url",
              "http://127.0.0.1:" + measured.port(),
              "--reference-url",
              "http://127.0.0.1:" + reference.port(),
              "--clients",
              "2",
              "--calls",
              "6",
              "--warmup",
              "1",
              "--upstream-delay-ms",
              "5",
              "--json");

      assertThat(exit).as(out + "\n" + err).isZero();
      JsonNode figures = new ObjectMapper().readTree(out.toString());
      for (String mode : new String[] {"non_streaming_ms", "streaming_first_chunk_ms"}) {
        JsonNode m = figures.path(mode);
        assertThat(m.path("reference").path("count").asInt()).as(mode).isEqualTo(6);
        assertThat(m.path("reference").path("p50").asDouble()).as(mode).isGreaterThanOrEqualTo(5);
        assertThat(m.path("operator_over_reference").path("p50").asDouble())
            .as(mode)
            .isEqualTo(
                m.path("operator").path("p50").asDouble()
                    - m.path("reference").path("p50").asDouble());
        assertThat(m.path("reference_added").path("p99").isNumber()).as(mode).isTrue();
        assertThat(m.path("reference").path("calls_per_s").asDouble()).as(mode).isPositive();
        assertThat(m.path("operator_over_reference_calls_per_s").asDouble())
            .as(mode)
            .isCloseTo(
                m.path("operator").path("calls_per_s").asDouble()
                    / m.path("reference").path("calls_per_s").asDouble(),
                offset(1e-9));
      }

      out.getBuffer().setLength(0);
      assertThat(
              execute(
                  "provider",
                  "--url",
                  "http://127.0.0.1:" + measured.port(),
                  "--reference-url",
                  "http://127.0.0.1:" + reference.port(),
                  "--clients",
                  "1",
                  "--calls",
                  "2",
                  "--warmup",
                  "0"))
          .isZero();
      assertThat(out.toString())
          .contains("non-streaming reference", "non-streaming forwarder added", "calls/s")
          .contains("non-streaming calls/s ratio", "stream, first chunk calls/s ratio")
          .contains("stream, first chunk operator's own");
    }
    assertThat(execute("provider", "--reference-url", "not a url")).isEqualTo(2);
    assertThat(err.toString()).contains("--reference-url");
  }

  @Test
  void spreadsFirstCallsEvenlyOverOneDelayUnlessInABurst() {
    long delay = 200_000_000;
    long[] spread = new long[64];
    for (int i = 0; i < 64; i++) {
      spread[i] = ProviderBenchCommand.startOffsetNanos(i, 64, delay, false);
      assertThat(ProviderBenchCommand.startOffsetNanos(i, 64, delay, true)).isZero();
    }
    assertThat(spread[0]).isZero();
    assertThat(spread[32]).isEqualTo(delay / 2);
    assertThat(spread[63]).isEqualTo(delay * 63 / 64).isLessThan(delay);
    for (int i = 1; i < 64; i++) {
      assertThat(spread[i] - spread[i - 1]).isEqualTo(delay / 64);
    }
    assertThat(ProviderBenchCommand.startOffsetNanos(0, 1, delay, false)).isZero();
  }

  @Test
  void refusesNonsense() {
    assertThat(execute("provider", "--clients", "0")).isEqualTo(2);
    assertThat(err.toString()).contains("--clients");
  }

  private int execute(String... args) {
    return new CommandLine(new BenchCommand())
        .setOut(new PrintWriter(out))
        .setErr(new PrintWriter(err))
        .execute(args);
  }
}
