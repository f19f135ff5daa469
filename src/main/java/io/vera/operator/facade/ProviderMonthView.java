package io.vera.operator.facade;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.api.ProviderStatus;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Provider's month for the dashboard's Providers page, from its usage by day and model: one row
 * per day from the 1st to {@code today} (days without calls as zeros, so the plot's axis runs
 * unbroken) and one row per model, most expensive first. Costs stay exact decimals.
 */
final class ProviderMonthView {
  /** Calls, tokens and cost summed over some days or models. */
  private static final class Sum {
    long requests;
    long failed;
    long tokensIn;
    long tokensOut;
    BigDecimal cost = BigDecimal.ZERO;

    void add(ProviderStatus.DayUsage usage) {
      requests += value(usage.requests);
      failed += value(usage.failed);
      tokensIn += value(usage.tokensIn);
      tokensOut += value(usage.tokensOut);
      cost = cost.add(usage.costUsd == null ? BigDecimal.ZERO : usage.costUsd);
    }

    void writeTo(ObjectNode node) {
      node.put("requests", requests);
      node.put("failed", failed);
      node.put("tokens_in", tokensIn);
      node.put("tokens_out", tokensOut);
      node.put("cost_usd", cost.signum() == 0 ? BigDecimal.ZERO : cost.stripTrailingZeros());
    }
  }

  private ProviderMonthView() {}

  /** Writes {@code month}, {@code days}, {@code models} and {@code cost_usd} of today's month. */
  static void write(ObjectNode into, List<ProviderStatus.DayUsage> usage, LocalDate today) {
    YearMonth month = YearMonth.from(today);
    Map<LocalDate, Sum> byDay = new LinkedHashMap<>();
    for (LocalDate day = month.atDay(1); !day.isAfter(today); day = day.plusDays(1)) {
      byDay.put(day, new Sum());
    }
    Map<String, Sum> byModel = new LinkedHashMap<>();
    Sum total = new Sum();
    for (ProviderStatus.DayUsage entry : usage) {
      LocalDate day = parse(entry.day);
      Sum daySum = day == null ? null : byDay.get(day);
      if (daySum == null || entry.model == null) {
        continue;
      }
      daySum.add(entry);
      byModel.computeIfAbsent(entry.model, m -> new Sum()).add(entry);
      total.add(entry);
    }
    into.put("month", month.toString());
    ArrayNode days = into.putArray("days");
    byDay.forEach(
        (day, sum) -> {
          ObjectNode row = days.addObject();
          row.put("day", day.toString());
          sum.writeTo(row);
        });
    List<Map.Entry<String, Sum>> models = new ArrayList<>(byModel.entrySet());
    models.sort((a, b) -> b.getValue().cost.compareTo(a.getValue().cost));
    ArrayNode modelRows = into.putArray("models");
    for (Map.Entry<String, Sum> model : models) {
      ObjectNode row = modelRows.addObject();
      row.put("model", model.getKey());
      model.getValue().writeTo(row);
    }
    ObjectNode totals = into.putObject("totals");
    total.writeTo(totals);
  }

  private static LocalDate parse(String day) {
    try {
      return day == null ? null : LocalDate.parse(day);
    } catch (java.time.format.DateTimeParseException e) {
      return null;
    }
  }

  private static long value(Long v) {
    return v == null ? 0 : v;
  }
}
