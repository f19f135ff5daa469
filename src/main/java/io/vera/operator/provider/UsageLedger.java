package io.vera.operator.provider;

import io.vera.operator.api.ProviderStatus;
import java.time.Clock;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Running totals of every call made through each Provider: requests, outcomes, tokens, cost,
 * latency and this month's spend. Kept in memory and written to the Provider's status in batches by
 * its reconciler; on start each provider is seeded from the totals its status already holds, so the
 * figures survive restarts (only calls made after the last write are lost to a crash).
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

  private final Clock clock;
  private final Map<ProviderKey, Totals> totals = new ConcurrentHashMap<>();

  public UsageLedger(Clock clock) {
    this.clock = clock;
  }

  /** Starts a provider's totals from what its status holds, once; later calls change nothing. */
  public void seed(ProviderKey provider, ProviderStatus.UsageTotals status) {
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

  /** Records one call; {@code result} is null when it failed. */
  public void record(ProviderKey provider, ProviderResult result, double latencyMs) {
    String month = currentMonth();
    totals.merge(
        provider,
        add(empty(), result, latencyMs, month),
        (old, one) -> {
          double monthCost = old.month().equals(month) ? old.monthCostUsd() : 0;
          return new Totals(
              old.requests() + one.requests(),
              old.succeeded() + one.succeeded(),
              old.failed() + one.failed(),
              old.tokensIn() + one.tokensIn(),
              old.tokensOut() + one.tokensOut(),
              old.costUsd() + one.costUsd(),
              old.latencySumMs() + one.latencySumMs(),
              one.lastRequest(),
              month,
              monthCost + one.monthCostUsd());
        });
  }

  private Totals add(Totals base, ProviderResult result, double latencyMs, String month) {
    TokenUsage usage = result == null ? TokenUsage.NONE : result.usage();
    double cost = result == null || result.costUsd() == null ? 0 : result.costUsd();
    return new Totals(
        1,
        result == null ? 0 : 1,
        result == null ? 1 : 0,
        usage.inputTokens(),
        usage.outputTokens(),
        cost,
        latencyMs,
        clock.instant(),
        month,
        cost);
  }

  public Optional<Totals> totals(ProviderKey provider) {
    return Optional.ofNullable(totals.get(provider));
  }

  /** Spend of the current month; 0 when the recorded month is over. */
  public double monthCost(ProviderKey provider) {
    Totals t = totals.get(provider);
    return t == null || !t.month().equals(currentMonth()) ? 0 : t.monthCostUsd();
  }

  public void forget(ProviderKey provider) {
    totals.remove(provider);
  }

  public Map<ProviderKey, Totals> all() {
    return Map.copyOf(totals);
  }

  private Totals empty() {
    return new Totals(0, 0, 0, 0, 0, 0, 0, null, currentMonth(), 0);
  }

  private String currentMonth() {
    return YearMonth.from(clock.instant().atZone(ZoneOffset.UTC)).toString();
  }

  private static long value(Long v) {
    return v == null ? 0 : v;
  }
}
