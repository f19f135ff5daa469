package io.vera.operator.provider.pricing;

import io.vera.operator.provider.TokenUsage;
import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * A call's cost in USD from the usage the provider reported and the model's price, so every token
 * is charged exactly once at its own rate.
 *
 * <p>Input tokens read from the cache are charged at the cached rate and written to it at the
 * cache-write rate, each instead of (not on top of) the input rate; the rest of the input at the
 * input rate. Output tokens, which include reasoning tokens, at the output rate. Audio at the
 * per-minute rate for the seconds reported. An unpriced model costs null, never a guess.
 */
public final class CostCalculator {
  private static final BigDecimal SIXTY = BigDecimal.valueOf(60);

  private final PricingTable table;

  public CostCalculator(PricingTable table) {
    this.table = table;
  }

  /** The cost of {@code usage} on {@code model}, or null when the model has no token price. */
  public Double tokenCost(String model, TokenUsage usage) {
    return table
        .find(model)
        .filter(ModelPrice::pricedByTokens)
        .map(price -> tokenCost(price, usage).doubleValue())
        .orElse(null);
  }

  /** Whether {@code model} has token rates, so its calls can be priced. */
  public boolean pricesTokens(String model) {
    return table.find(model).filter(ModelPrice::pricedByTokens).isPresent();
  }

  /** The cost of {@code seconds} of audio on {@code model}, or null when it has no audio price. */
  public Double audioCost(String model, double seconds) {
    return table
        .find(model)
        .filter(price -> price.perMinute() != null)
        .map(price -> audioCost(price, seconds).doubleValue())
        .orElse(null);
  }

  /** The exact cost of {@code usage} at {@code price}, which must have token rates. */
  public static BigDecimal tokenCost(ModelPrice price, TokenUsage usage) {
    if (!price.pricedByTokens()) {
      throw new IllegalArgumentException(price.model() + " is not priced by tokens");
    }
    BigDecimal input = rate(price.input());
    BigDecimal cached = price.cachedInput() == null ? input : rate(price.cachedInput());
    BigDecimal cacheWrite = price.cacheWrite() == null ? input : rate(price.cacheWrite());
    long uncached =
        Math.max(0, usage.inputTokens() - usage.cachedInputTokens() - usage.cacheWriteTokens());
    BigDecimal perMillion =
        input
            .multiply(BigDecimal.valueOf(uncached))
            .add(cached.multiply(BigDecimal.valueOf(usage.cachedInputTokens())))
            .add(cacheWrite.multiply(BigDecimal.valueOf(usage.cacheWriteTokens())))
            .add(rate(price.output()).multiply(BigDecimal.valueOf(usage.outputTokens())));
    // Moving the point is the exact division by a million, without BigDecimal's general divide.
    return perMillion.movePointLeft(6).stripTrailingZeros();
  }

  /** The exact cost of {@code seconds} of audio at {@code price}, rounded to 10 decimal places. */
  public static BigDecimal audioCost(ModelPrice price, double seconds) {
    if (price.perMinute() == null) {
      throw new IllegalArgumentException(price.model() + " is not priced per minute");
    }
    return rate(price.perMinute())
        .multiply(BigDecimal.valueOf(Math.max(0, seconds)))
        .divide(SIXTY, 10, RoundingMode.HALF_UP)
        .stripTrailingZeros();
  }

  private static BigDecimal rate(double perUnit) {
    return BigDecimal.valueOf(perUnit);
  }
}
