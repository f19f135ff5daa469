package io.vera.operator.provider.pricing;

import static org.assertj.core.api.Assertions.assertThat;

import io.vera.operator.provider.TokenUsage;
import java.math.BigDecimal;
import org.junit.jupiter.api.Test;

class CostCalculatorTest {
  private final CostCalculator costs = new CostCalculator(PricingTable.builtIn());

  @Test
  void chargesInputAndOutputPerMillion() {
    // gpt-4o: 1000 in x 2.50/M + 500 out x 10.00/M = 0.0025 + 0.005
    assertThat(costs.tokenCost("gpt-4o-2024-08-06", new TokenUsage(1000, 500, 0, 0, 0)))
        .isEqualTo(0.0075);
  }

  @Test
  void chargesCachedInputOnlyAtTheCachedRate() {
    // gpt-4o: 800 uncached x 2.50 + 1200 cached x 1.25 + 100 out x 10.00, per million
    assertThat(costs.tokenCost("gpt-4o", new TokenUsage(2000, 100, 1200, 0, 0)))
        .isEqualTo((800 * 2.50 + 1200 * 1.25 + 100 * 10.00) / 1e6);
  }

  @Test
  void chargesCacheWritesAtTheirRateAndReasoningAsOutput() {
    // claude-sonnet-4: 100 uncached x 3 + 1000 read x 0.30 + 2000 written x 3.75 + 50 out x 15
    assertThat(
            CostCalculator.tokenCost(
                PricingTable.builtIn().find("claude-sonnet-4-20250514").orElseThrow(),
                new TokenUsage(3100, 50, 1000, 2000, 0)))
        .isEqualByComparingTo(new BigDecimal("0.00885"));
    // o3: reasoning tokens are part of the 1000 output tokens, charged once at 8.00
    assertThat(costs.tokenCost("o3", new TokenUsage(0, 1000, 0, 0, 900))).isEqualTo(0.008);
  }

  @Test
  void aModelWithoutACachedRateChargesCachedTokensAsInput() {
    assertThat(costs.tokenCost("gpt-4", new TokenUsage(1000, 0, 400, 0, 0))).isEqualTo(0.03);
  }

  @Test
  void unknownModelsAreUnpriced() {
    assertThat(costs.tokenCost("my-local-model", new TokenUsage(10, 10, 0, 0, 0))).isNull();
    assertThat(costs.tokenCost((String) null, TokenUsage.NONE)).isNull();
    assertThat(costs.tokenCost("whisper-1", new TokenUsage(10, 10, 0, 0, 0))).isNull();
    assertThat(costs.audioCost("gpt-4o", 60)).isNull();
  }

  @Test
  void chargesAudioPerMinute() {
    assertThat(costs.audioCost("whisper-1", 90)).isEqualTo(0.009);
    assertThat(costs.audioCost("whisper-1", 8.47)).isEqualTo(0.000847);
  }
}
