package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.api.ProviderStatus;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProviderMonthViewTest {
  private static ProviderStatus.DayUsage usage(
      String day, String model, long requests, String cost) {
    ProviderStatus.DayUsage usage = new ProviderStatus.DayUsage();
    usage.day = day;
    usage.model = model;
    usage.requests = requests;
    usage.failed = 0L;
    usage.tokensIn = 10 * requests;
    usage.tokensOut = requests;
    usage.costUsd = new BigDecimal(cost);
    return usage;
  }

  @Test
  void theMonthHasEveryDaySoFarAndItsModelsMostExpensiveFirst() {
    ObjectNode view = JsonNodeFactory.instance.objectNode();
    ProviderMonthView.write(
        view,
        List.of(
            usage("2026-11-30", "gpt-4o", 9, "9.99"),
            usage("2026-12-02", "gpt-4o-mini", 4, "0.0004"),
            usage("2026-12-02", "gpt-4o", 1, "0.1"),
            usage("2026-12-05", "gpt-4o", 2, "0.2")),
        LocalDate.parse("2026-12-05"));

    assertThat(view.path("month").asText()).isEqualTo("2026-12");
    assertThat(view.path("days")).hasSize(5);
    assertThat(view.path("days").get(0).path("day").asText()).isEqualTo("2026-12-01");
    assertThat(view.path("days").get(0).path("cost_usd").decimalValue()).isZero();
    assertThat(view.path("days").get(1).path("cost_usd").decimalValue())
        .isEqualByComparingTo("0.1004");
    assertThat(view.path("models").get(0).path("model").asText()).isEqualTo("gpt-4o");
    assertThat(view.path("models").get(0).path("requests").asLong())
        .as("November's calls are not this month's")
        .isEqualTo(3);
    assertThat(view.path("models").get(0).path("cost_usd").decimalValue().toPlainString())
        .isEqualTo("0.3");
    assertThat(view.path("totals").path("cost_usd").decimalValue().toPlainString())
        .isEqualTo("0.3004");
  }
}
