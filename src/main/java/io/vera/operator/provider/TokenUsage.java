package io.vera.operator.provider;

/**
 * Tokens as the provider reported them for one call. Fields a provider does not report are 0.
 *
 * @param inputTokens prompt tokens, including cached and cache-write ones
 * @param outputTokens completion tokens, including reasoning ones
 * @param cachedInputTokens prompt tokens read from the provider's cache
 * @param cacheWriteTokens prompt tokens written to the cache (Anthropic)
 * @param reasoningTokens output tokens spent on reasoning
 */
public record TokenUsage(
    long inputTokens,
    long outputTokens,
    long cachedInputTokens,
    long cacheWriteTokens,
    long reasoningTokens) {
  public static final TokenUsage NONE = new TokenUsage(0, 0, 0, 0, 0);

  public long totalTokens() {
    return inputTokens + outputTokens;
  }
}
