package io.vera.operator.provider;

import io.vera.operator.api.ProviderStatus;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Running totals of every call made through each Provider: requests, outcomes, tokens, cost,
 * latency and this month's spend. Kept in memory and written to the Provider's status in batches by
 * its reconciler; on start each provider is seeded from the totals its status already holds, so the
 * figures survive restarts (only calls made after the last write are lost to a crash). Beside the
 * totals it keeps each provider's {@link UsageHistory} by day and model.
 */
public final class UsageLedger {
  /** One provider's totals at a moment. */
  public record Totals(
      long requests,
      long succeeded,
      long failed,
      long tokensIn,
      long tokensOut,
      double costUsd,
      double latencySumMs,
      Instant lastRequest,
      String month,
      double monthCostUsd) {

    public double averageLatencyMs() {
      return requests == 0 ? 0 : latencySumMs / requests;
    }

    public double successRate() {
      return requests == 0 ? 0 : (double) succeeded / requests;
    }

    ProviderStatus.UsageTotals toStatus() {
      ProviderStatus.UsageTotals status = new ProviderStatus.UsageTotals();
      status.requests = requests;
      status.succeeded = succeeded;
      status.failed = failed;
      status.tokensIn = tokensIn;
      status.tokensOut = tokensOut;
      status.costUsd = round(costUsd);
      status.averageLatencyMs = round(averageLatencyMs());
      status.lastRequestTime = lastRequest == null ? null : lastRequest.toString();
      status.month = month;
      status.monthCostUsd = round(monthCostUsd);
      return status;
    }

    private static double round(double value) {
      return Math.round(value * 1e6) / 1e6;
    }
  }

  /** A month's name and its bounds in epoch seconds, start inclusive. */
  private record Month(String name, long fromSecond, long untilSecond) {}

  /** The history's model of a call that named none and whose provider named none either. */
  static final String DEFAULT = "(default)";

  private final Clock clock;
  private final Map<ProviderKey, Totals> totals = new ConcurrentHashMap<>();
  private final Map<ProviderKey, SpendAccounts> spend = new ConcurrentHashMap<>();
  private final Map<ProviderKey, UsageHistory> history = new ConcurrentHashMap<>();
  private volatile Month month;

  public UsageLedger(Clock clock) {
    this.clock = clock;
  }

  /** Starts a provider's totals from what its status holds, once; later calls change nothing. */
  public void seed(ProviderKey provider, ProviderStatus.UsageTotals status) {
    spend.computeIfAbsent(provider, k -> new SpendAccounts(k.name(), status));
    history.computeIfAbsent(provider, k -> new UsageHistory(status == null ? null : status.days));
    totals.computeIfAbsent(
        provider,
        k -> {
          if (status == null) {
            return empty();
          }
          long requests = value(status.requests);
          return new Totals(
              requests,
              value(status.succeeded),
              value(status.failed),
              value(status.tokensIn),
              value(status.tokensOut),
              status.costUsd == null ? 0 : status.costUsd,
              status.averageLatencyMs == null ? 0 : status.averageLatencyMs * requests,
              status.lastRequestTime == null ? null : Instant.parse(status.lastRequestTime),
              status.month == null ? currentMonth() : status.month,
              status.monthCostUsd == null ? 0 : status.monthCostUsd);
        });
  }

  /**
   * Records one call.
   *
   * @param model the model the call asked for (null: the one the provider answered with, else
   *     {@code (default)}), under which the day's history counts it
   * @param result null when the call failed
   */
  public void record(ProviderKey provider, String model, ProviderResult result, double latencyMs) {
    Instant now = clock.instant();
    String month = monthOf(now);
    TokenUsage usage = result == null ? TokenUsage.NONE : result.usage();
    double cost = result == null || result.costUsd() == null ? 0 : result.costUsd();
    long succeeded = result == null ? 0 : 1;
    String historyModel =
        model != null ? model : result != null && result.model() != null ? result.model() : DEFAULT;
    history
        .computeIfAbsent(provider, k -> new UsageHistory(null))
        .record(
            LocalDate.ofInstant(now, ZoneOffset.UTC),
            historyModel,
            result == null,
            usage,
            UsageHistory.usd(result == null ? null : result.costUsd()));
    totals.compute(
        provider,
        (k, old) -> {
          if (old == null) {
            return new Totals(
                1,
                succeeded,
                1 - succeeded,
                usage.inputTokens(),
                usage.outputTokens(),
                cost,
                latencyMs,
                now,
                month,
                cost);
          }
          double monthCost = month.equals(old.month()) ? old.monthCostUsd() : 0;
          return new Totals(
              old.requests() + 1,
              old.succeeded() + succeeded,
              old.failed() + 1 - succeeded,
              old.tokensIn() + usage.inputTokens(),
              old.tokensOut() + usage.outputTokens(),
              old.costUsd() + cost,
              old.latencySumMs() + latencyMs,
              now,
              month,
              monthCost + cost);
        });
  }

  public Optional<Totals> totals(ProviderKey provider) {
    return Optional.ofNullable(totals.get(provider));
  }

  /** Spend of the current month; 0 when the recorded month is over. */
  double monthCost(ProviderKey provider) {
    Totals t = totals.get(provider);
    return t == null || !t.month().equals(currentMonth()) ? 0 : t.monthCostUsd();
  }

  public void forget(ProviderKey provider) {
    totals.remove(provider);
    spend.remove(provider);
    history.remove(provider);
  }

  /**
   * A provider's calls by UTC day and model, this month's and the previous month's, as its status
   * holds them; empty when it made none.
   */
  public List<ProviderStatus.DayUsage> days(ProviderKey provider) {
    UsageHistory days = history.get(provider);
    List<ProviderStatus.DayUsage> list =
        days == null ? null : days.toStatus(LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC));
    return list == null ? List.of() : list;
  }

  /**
   * A provider's totals as its status holds them, with the spend of its callers, namespaces and end
   * users.
   */
  public Optional<ProviderStatus.UsageTotals> status(ProviderKey provider) {
    Optional<ProviderStatus.UsageTotals> status = totals(provider).map(Totals::toStatus);
    SpendAccounts accounts = spend.get(provider);
    status.ifPresent(
        s -> {
          if (accounts != null) {
            accounts.writeTo(s);
          }
          List<ProviderStatus.DayUsage> days = days(provider);
          s.days = days.isEmpty() ? null : days;
        });
    return status;
  }

  /** Spend by caller, namespace and end user of every provider, as the status holds it. */
  public Map<ProviderKey, ProviderStatus.UsageTotals> spend() {
    Map<ProviderKey, ProviderStatus.UsageTotals> all =
        new java.util.TreeMap<>(java.util.Comparator.comparing(ProviderKey::toString));
    spend.forEach((key, accounts) -> all.put(key, accounts.snapshot()));
    return all;
  }

  /** A provider's budget accounts, made on its first call when it was never seeded. */
  SpendAccounts accounts(ProviderKey provider) {
    return spend.computeIfAbsent(provider, k -> new SpendAccounts(k.name(), null));
  }

  public Map<ProviderKey, Totals> all() {
    return Map.copyOf(totals);
  }

  private Totals empty() {
    return new Totals(0, 0, 0, 0, 0, 0, 0, null, currentMonth(), 0);
  }

  private String currentMonth() {
    return monthOf(clock.instant());
  }

  /**
   * The UTC month of {@code instant} as {@code YYYY-MM}; the last answer is kept with its bounds,
   * so the calendar arithmetic and formatting happen once a month rather than on every call.
   */
  private String monthOf(Instant instant) {
    Month last = month;
    long seconds = instant.getEpochSecond();
    if (last == null || seconds < last.fromSecond() || seconds >= last.untilSecond()) {
      YearMonth current = YearMonth.from(instant.atZone(ZoneOffset.UTC));
      last =
          new Month(
              current.toString(),
              current.atDay(1).atStartOfDay(ZoneOffset.UTC).toEpochSecond(),
              current.plusMonths(1).atDay(1).atStartOfDay(ZoneOffset.UTC).toEpochSecond());
      month = last;
    }
    return last.name();
  }

  private static long value(Long v) {
    return v == null ? 0 : v;
  }
}
