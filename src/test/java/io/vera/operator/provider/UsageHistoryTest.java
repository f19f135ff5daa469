package io.vera.operator.provider;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.api.ProviderStatus;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import org.junit.jupiter.api.Test;

class UsageHistoryTest {
  private static final ProviderKey KEY = new ProviderKey("ns", "openai");
  private static final ObjectMapper JSON = new ObjectMapper();
  private final ProviderGatewayTest.MutableClock clock =
      new ProviderGatewayTest.MutableClock(Instant.parse("2026-12-07T10:00:00Z"));

  private static ProviderResult answer(String model, long in, long out, Double cost) {
    return new ProviderResult(
        JsonNodeFactory.instance.textNode("ok"),
        model,
        new TokenUsage(in, out, 0, 0, 0),
        cost,
        10,
        null,
        true);
  }

  @Test
  void spendIsSummedExactlyPerDayAndModel() {
    UsageLedger ledger = new UsageLedger(clock);
    for (int i = 0; i < 3; i++) {
      ledger.record(KEY, "gpt-4o", answer("gpt-4o-2024-08-06", 100, 20, 0.1), 10);
    }
    ledger.record(KEY, "gpt-4o-mini", answer("gpt-4o-mini", 10, 5, 0.0000045), 10);
    ledger.record(KEY, "gpt-4o-mini", null, 10);

    List<ProviderStatus.DayUsage> days = ledger.days(KEY);

    assertThat(days).hasSize(2);
    ProviderStatus.DayUsage big = days.get(0);
    assertThat(big.day).isEqualTo("2026-12-07");
    assertThat(big.model)
        .as("the model asked for, not the dated one answering")
        .isEqualTo("gpt-4o");
    assertThat(big.requests).isEqualTo(3);
    assertThat(big.tokensIn).isEqualTo(300);
    assertThat(big.tokensOut).isEqualTo(60);
    assertThat(big.costUsd.toPlainString())
        .as("0.1 three times is 0.3, not 0.30000000000000004")
        .isEqualTo("0.3");
    ProviderStatus.DayUsage small = days.get(1);
    assertThat(small.requests).isEqualTo(2);
    assertThat(small.failed).isEqualTo(1);
    assertThat(small.costUsd).isEqualByComparingTo(new BigDecimal("0.0000045"));
  }

  @Test
  void theHistoryComesBackFromTheStatusAsTheApiServerStoresIt() throws Exception {
    UsageLedger before = new UsageLedger(clock);
    before.record(KEY, "claude-sonnet-4", answer("claude-sonnet-4", 1234, 567, 0.012207), 10);
    clock.set(Instant.parse("2026-12-08T09:00:00Z"));
    before.record(KEY, "claude-sonnet-4", answer("claude-sonnet-4", 1000, 100, 0.0045), 10);
    ProviderStatus.UsageTotals status = before.status(KEY).orElseThrow();

    // The API server keeps JSON numbers as float64.
    JsonNode stored = JSON.readTree(JSON.writeValueAsString(status));
    for (JsonNode day : stored.path("days")) {
      ((ObjectNode) day).put("costUsd", day.path("costUsd").doubleValue());
    }
    ProviderStatus.UsageTotals read = JSON.treeToValue(stored, ProviderStatus.UsageTotals.class);
    UsageLedger after = new UsageLedger(clock);
    after.seed(KEY, read);
    after.record(KEY, "claude-sonnet-4", answer("claude-sonnet-4", 1, 1, 0.0000003), 10);

    List<ProviderStatus.DayUsage> days = after.days(KEY);
    assertThat(days).extracting(d -> d.day).containsExactly("2026-12-07", "2026-12-08");
    assertThat(days.get(0).costUsd).isEqualByComparingTo("0.012207");
    assertThat(days.get(0).tokensIn).isEqualTo(1234);
    assertThat(days.get(1).requests).isEqualTo(2);
    assertThat(days.get(1).costUsd).isEqualByComparingTo("0.0045003");
  }

  @Test
  void onlyThisMonthAndThePreviousOneAreKept() {
    UsageLedger ledger = new UsageLedger(clock);
    for (String day : List.of("2026-10-31", "2026-11-01", "2026-11-30", "2026-12-01")) {
      clock.set(Instant.parse(day + "T12:00:00Z"));
      ledger.record(KEY, "gpt-4o", answer("gpt-4o", 1, 1, 0.01), 10);
    }

    assertThat(ledger.days(KEY))
        .extracting(d -> d.day)
        .as("October is gone once December starts")
        .containsExactly("2026-11-01", "2026-11-30", "2026-12-01");
  }

  @Test
  void aDayKeepsTwentyModelsAndSumsTheRestAsOther() {
    UsageHistory history = new UsageHistory(null);
    LocalDate day = LocalDate.parse("2026-12-07");
    for (int m = 0; m < 25; m++) {
      history.record(
          day, "model-" + m, false, new TokenUsage(10, 1, 0, 0, 0), UsageHistory.usd(0.25));
    }
    history.record(day, "model-3", false, new TokenUsage(10, 1, 0, 0, 0), UsageHistory.usd(0.25));

    List<ProviderStatus.DayUsage> days = history.toStatus(day);
    assertThat(days).hasSize(UsageHistory.MAX_MODELS_PER_DAY + 1);
    assertThat(days.get(3).requests).as("a model already kept keeps counting").isEqualTo(2);
    ProviderStatus.DayUsage other = days.get(UsageHistory.MAX_MODELS_PER_DAY);
    assertThat(other.model).isEqualTo(UsageHistory.OTHER);
    assertThat(other.requests).isEqualTo(5);
    assertThat(other.costUsd).isEqualByComparingTo("1.25");
  }
}
