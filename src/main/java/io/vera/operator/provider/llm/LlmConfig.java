package io.vera.operator.provider.llm;

import io.vera.operator.provider.CallCancellation;
import io.vera.operator.provider.pricing.PricingTable;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import okhttp3.ConnectionPool;
import okhttp3.OkHttpClient;

/**
 * How one LLM client reaches its upstream and prices its calls, so a Provider can point a client at
 * any compatible base URL, default model and pricing without subclassing.
 *
 * @param http shared by all clients; its read timeout should be 0 (the call's own deadline bounds
 *     each call, and a reasoning model can think for minutes before its first byte)
 * @param baseUrl null for the provider's public API
 * @param defaultModel null for the client's default, used when a request names no model
 * @param pricing the layered table calls are priced from
 * @param retry the retry policy and clock
 */
public record LlmConfig(
    OkHttpClient http,
    String baseUrl,
    String defaultModel,
    PricingTable pricing,
    UpstreamRetry retry) {
  private static final OkHttpClient SHARED_HTTP =
      new OkHttpClient.Builder()
          .connectTimeout(Duration.ofSeconds(10))
          .readTimeout(Duration.ZERO)
          .writeTimeout(Duration.ofSeconds(60))
          // Keep a connection per concurrent call: OkHttp's default keeps 5 idle, so under load
          // most calls would pay for a new connection (and TLS handshake) to the upstream.
          .connectionPool(new ConnectionPool(256, 5, TimeUnit.MINUTES))
          .addInterceptor(CallCancellation.INTERCEPTOR)
          .build();

  /** The public API, the client's default model, the built-in prices and real retries. */
  public static LlmConfig defaults() {
    return new LlmConfig(SHARED_HTTP, null, null, PricingTable.builtIn(), new UpstreamRetry());
  }

  LlmConfig withHttp(OkHttpClient http) {
    return new LlmConfig(http, baseUrl, defaultModel, pricing, retry);
  }

  public LlmConfig withBaseUrl(String baseUrl) {
    return new LlmConfig(http, baseUrl, defaultModel, pricing, retry);
  }

  public LlmConfig withDefaultModel(String defaultModel) {
    return new LlmConfig(http, baseUrl, defaultModel, pricing, retry);
  }

  public LlmConfig withPricing(PricingTable pricing) {
    return new LlmConfig(http, baseUrl, defaultModel, pricing, retry);
  }

  LlmConfig withRetry(UpstreamRetry retry) {
    return new LlmConfig(http, baseUrl, defaultModel, pricing, retry);
  }
}
