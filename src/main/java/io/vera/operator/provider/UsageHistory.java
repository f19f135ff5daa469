package io.vera.operator.provider;

import io.vera.operator.api.ProviderStatus;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One Provider's calls per UTC day and model (requests, failures, tokens, cost), for the spend
 * plots and per-model tables of the dashboard. It lives in the Provider's {@code
 * status.usage.days}, written with the rest of the ledger, so it survives restarts in embedded mode
 * and in a cluster alike, and stays bounded: days of the current and the previous month only (at
 * most {@link #MAX_DAYS}), at most {@link #MAX_MODELS_PER_DAY} models a day, later ones summed as
 * {@link #OTHER}. At most 62 × 21 entries of about 130 bytes: well inside an object's size limit.
 *
 * <p>Cost is summed exactly, as decimals: each call's cost is taken at {@link #COST_SCALE} decimal
 * places (a ten-thousandth of a micro-dollar; exact for every price with at most four decimals per
 * million tokens) and added without rounding, so three $0.10 calls sum to $0.30, not
 * $0.30000000000000004. A sum below $100,000 has at most 15 significant digits, which the
 * Kubernetes API server (holding JSON numbers as float64) keeps exactly.
 */
final class UsageHistory {
  static final int MAX_MODELS_PER_DAY = 20;
  static final int MAX_DAYS = 62;
  static final String OTHER = "(other)";
  static final int COST_SCALE = 10;

  /** One model's totals on one day. */
  private static final class Entry {
    long requests;
    long failed;
    long tokensIn;
    long tokensOut;
    BigDecimal cost = BigDecimal.ZERO;
  }

  private final TreeMap<LocalDate, Map<String, Entry>> days = new TreeMap<>();

  /** Starts from what a Provider's status holds (entries it cannot read are left out). */
  UsageHistory(List<ProviderStatus.DayUsage> stored) {
    if (stored == null) {
      return;
    }
    for (ProviderStatus.DayUsage usage : stored) {
      LocalDate day;
      try {
        day = usage.day == null ? null : LocalDate.parse(usage.day);
      } catch (DateTimeParseException e) {
        day = null;
      }
      if (day == null || usage.model == null) {
        continue;
      }
      Entry entry = entry(day, usage.model);
      entry.requests += value(usage.requests);
      entry.failed += value(usage.failed);
      entry.tokensIn += value(usage.tokensIn);
      entry.tokensOut += value(usage.tokensOut);
      // At the history's scale: a sum read back through a float64 comes back as its decimal.
      entry.cost =
          entry.cost.add(
              usage.costUsd == null
                  ? BigDecimal.ZERO
                  : usage.costUsd.setScale(COST_SCALE, RoundingMode.HALF_EVEN));
    }
    prune(days.isEmpty() ? null : days.lastKey());
  }

  /** A call's cost as the history counts it: {@link #COST_SCALE} decimal places; 0 when null. */
  static BigDecimal usd(Double cost) {
    return cost == null || cost.isNaN() || cost.isInfinite()
        ? BigDecimal.ZERO
        : BigDecimal.valueOf(cost).setScale(COST_SCALE, RoundingMode.HALF_EVEN);
  }

  /** Counts one call of {@code model} on {@code day}. */
  synchronized void record(
      LocalDate day, String model, boolean failed, TokenUsage usage, BigDecimal cost) {
    Entry entry = entry(day, model);
    entry.requests++;
    if (failed) {
      entry.failed++;
    }
    entry.tokensIn += usage.inputTokens();
    entry.tokensOut += usage.outputTokens();
    entry.cost = entry.cost.add(cost);
    prune(day);
  }

  /**
   * Every day kept as of {@code today} (older months dropped), oldest first, each day's models in
   * the order they were first called; null when there is none.
   */
  synchronized List<ProviderStatus.DayUsage> toStatus(LocalDate today) {
    prune(today);
    if (days.isEmpty()) {
      return null;
    }
    List<ProviderStatus.DayUsage> list = new ArrayList<>();
    days.forEach(
        (day, models) ->
            models.forEach(
                (model, entry) -> {
                  ProviderStatus.DayUsage usage = new ProviderStatus.DayUsage();
                  usage.day = day.toString();
                  usage.model = model;
                  usage.requests = entry.requests;
                  usage.failed = entry.failed;
                  usage.tokensIn = entry.tokensIn;
                  usage.tokensOut = entry.tokensOut;
                  usage.costUsd = plain(entry.cost);
                  list.add(usage);
                }));
    return list;
  }

  private Entry entry(LocalDate day, String model) {
    Map<String, Entry> models = days.computeIfAbsent(day, d -> new LinkedHashMap<>());
    Entry found = models.get(model);
    if (found != null) {
      return found;
    }
    String key = models.size() >= MAX_MODELS_PER_DAY ? OTHER : model;
    return models.computeIfAbsent(key, k -> new Entry());
  }

  /** Drops days before the previous month of {@code today}, then the oldest beyond MAX_DAYS. */
  private void prune(LocalDate today) {
    if (today != null) {
      LocalDate keepFrom = today.withDayOfMonth(1).minusMonths(1);
      days.headMap(keepFrom).clear();
    }
    while (days.size() > MAX_DAYS) {
      days.pollFirstEntry();
    }
  }

  /** The sum without trailing zeros (0.1, not 0.1000000000), as people and the status read it. */
  private static BigDecimal plain(BigDecimal cost) {
    return cost.signum() == 0 ? BigDecimal.ZERO : cost.stripTrailingZeros();
  }

  private static long value(Long v) {
    return v == null ? 0 : v;
  }
}
