package io.vera.operator.provider;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vera.operator.api.ProviderSpec;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class GenAiMetricsTest {
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final GenAiMetrics metrics = new GenAiMetrics(registry);
  private final ProviderKey openai = new ProviderKey("vera", "openai");

  private static ProviderResult answer(long in, long out, Double cost, Double firstChunkMs) {
    return new ProviderResult(
        null, "gpt-4o-mini", new TokenUsage(in, out, 0, 0, 0), cost, 120, firstChunkMs, true);
  }

  @Test
  void callsOfOneSeriesAddUpInItsMetersAndEachModelHasItsOwn() {
    metrics.chat(openai, ProviderSpec.Type.OpenAI, "gpt-4o-mini", answer(10, 3, null, null));
    metrics.chat(openai, ProviderSpec.Type.OpenAI, "gpt-4o-mini", answer(20, 5, 0.25, 40.0));
    metrics.chat(openai, ProviderSpec.Type.OpenAI, "gpt-4o", answer(7, 1, null, null));

    DistributionSummary input =
        registry
            .get("gen_ai.client.token.usage")
            .tag("gen_ai.request.model", "gpt-4o-mini")
            .tag("gen_ai.token.type", "input")
            .summary();
    assertThat(input.count()).isEqualTo(2);
    assertThat(input.totalAmount()).isEqualTo(30);
    Timer duration =
        registry
            .get("gen_ai.client.operation.duration")
            .tag("gen_ai.request.model", "gpt-4o-mini")
            .timer();
    assertThat(duration.count()).isEqualTo(2);
    assertThat(duration.totalTime(TimeUnit.MILLISECONDS)).isEqualTo(240);
    assertThat(
            registry
                .get("gen_ai.client.operation.time_to_first_chunk")
                .tag("gen_ai.request.model", "gpt-4o-mini")
                .timer()
                .count())
        .isEqualTo(1);
    assertThat(registry.get("vera.gateway.cost.usd").tag("model", "gpt-4o-mini").counter().count())
        .isEqualTo(0.25);
    assertThat(
            registry
                .get("gen_ai.client.token.usage")
                .tag("gen_ai.request.model", "gpt-4o")
                .tag("gen_ai.token.type", "output")
                .summary()
                .totalAmount())
        .isEqualTo(1);
    // A model that never streamed, or was never priced, has no series for it.
    assertThat(
            registry
                .find("gen_ai.client.operation.time_to_first_chunk")
                .tag("gen_ai.request.model", "gpt-4o")
                .timer())
        .isNull();
    assertThat(registry.find("vera.gateway.cost.usd").tag("model", "gpt-4o").counter()).isNull();
  }

  @Test
  void callsAddUpByCallerAndACostSeriesExistsOnlyOnceCharged() {
    Caller alice = Caller.unauthenticated("alice", null);
    metrics.caller(alice, 0);
    metrics.caller(alice, 0.5);
    metrics.caller(Caller.unauthenticated("bob", null), 0);

    assertThat(
            registry.get("vera.gateway.caller.requests").tag("caller", "alice").counter().count())
        .isEqualTo(2);
    assertThat(
            registry.get("vera.gateway.caller.cost.usd").tag("caller", "alice").counter().count())
        .isEqualTo(0.5);
    assertThat(registry.find("vera.gateway.caller.cost.usd").tag("caller", "bob").counter())
        .isNull();
  }
}
