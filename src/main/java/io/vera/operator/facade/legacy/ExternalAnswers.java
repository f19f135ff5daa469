package io.vera.operator.facade.legacy;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.List;
import java.util.Map;

/**
 * The answers of the legacy {@code /orchestrator/external} router that are not provider calls, as
 * types serialised by Jackson in snake_case with their fields in declaration order: the wire
 * contract of {@code docs/rest-api.md}, byte for byte ({@code ExternalAnswersTest} and {@code
 * ExternalApiShapesTest} hold the exact text). The call answers ({@code execute}, {@code
 * llm/complete} and their streams) stay written straight to bytes by {@link JsonWrite}: they are
 * the routes served under load.
 */
public final class ExternalAnswers {
  private ExternalAnswers() {}

  /**
   * {@code POST /initialize}: the providers configured, and under {@code providers} each one's
   * first probe.
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Initialized(
      String status,
      List<String> providersInitialized,
      int providerCount,
      Map<String, Readiness> providers) {
    public Initialized(List<String> providersInitialized, Map<String, Readiness> providers) {
      this("success", providersInitialized, providersInitialized.size(), providers);
    }
  }

  /** A provider's first probe; {@code ready} is null while it has not finished. */
  public record Readiness(Boolean ready, String detail) {}

  /**
   * A provider in {@code GET /providers} and {@code GET /providers/{provider}/status}: {@code
   * ready_since} is null until it was probed.
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record ProviderView(
      String provider,
      String type,
      String providerType,
      boolean initialized,
      boolean ready,
      String message,
      String readySince) {}

  /** {@code GET /providers}. */
  public record Providers(List<ProviderView> providers, int count) {
    public Providers(List<ProviderView> providers) {
      this(providers, providers.size());
    }
  }

  /**
   * A provider's usage totals in {@code GET /stats} and {@code GET /stats/{provider}}: costs in USD
   * rounded to a millionth, {@code last_request_at} in epoch seconds, null before the first call.
   */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Stats(
      String provider,
      long totalRequests,
      long successfulRequests,
      long failedRequests,
      double successRate,
      long totalTokensIn,
      long totalTokensOut,
      double totalCostUsd,
      double avgLatencyMs,
      Double lastRequestAt,
      String month,
      double monthCostUsd) {}

  /** {@code GET /stats/cost/summary}. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record CostSummary(double totalCost, Map<String, Double> byProvider, String currency) {
    public CostSummary(double totalCost, Map<String, Double> byProvider) {
      this(totalCost, byProvider, "USD");
    }
  }

  /** {@code GET /stats/tokens/summary}. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record TokenSummary(
      long totalTokensIn, long totalTokensOut, long totalTokens, Map<String, Tokens> byProvider) {}

  /** One provider's tokens in {@code GET /stats/tokens/summary}. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Tokens(long tokensIn, long tokensOut, long total) {}

  /** {@code GET /health}: how many Providers exist and how many the gateway serves. */
  @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
  public record Health(String status, int providers, int providersCallable) {
    public Health(int providers, int providersCallable) {
      this("healthy", providers, providersCallable);
    }
  }
}
