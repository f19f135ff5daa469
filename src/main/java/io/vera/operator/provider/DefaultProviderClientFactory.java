package io.vera.operator.provider;

import io.vera.operator.api.ProviderSpec;
import io.vera.operator.provider.endpoint.HttpEndpointClient;
import io.vera.operator.provider.endpoint.LambdaClient;
import io.vera.operator.provider.endpoint.RunPodClient;
import io.vera.operator.provider.endpoint.Transport;
import io.vera.operator.provider.llm.AnthropicClient;
import io.vera.operator.provider.llm.GeminiClient;
import io.vera.operator.provider.llm.LlmConfig;
import io.vera.operator.provider.llm.OpenAiClient;
import io.vera.operator.provider.pricing.ModelPrice;
import io.vera.operator.provider.pricing.PricingTable;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import okhttp3.ConnectionPool;
import okhttp3.OkHttpClient;

/**
 * Builds the client of each Provider type from its spec: endpoint, default model and prices (the
 * built-in table overridden by the Provider's own {@code pricing}).
 */
public final class DefaultProviderClientFactory implements ProviderClientFactory {
  private final PricingTable basePricing;

  /**
   * One HTTP client for every endpoint provider (Lambda, RunPod, HTTP); redirects are refused,
   * never followed.
   */
  private final Transport transport =
      Transport.of(
          new OkHttpClient.Builder()
              .connectTimeout(Duration.ofSeconds(10))
              .readTimeout(Duration.ZERO)
              .followRedirects(false)
              .followSslRedirects(false)
              .connectionPool(new ConnectionPool(256, 5, TimeUnit.MINUTES))
              .addInterceptor(CallCancellation.INTERCEPTOR)
              .build());

  /**
   * @param basePricing the built-in table, already layered with any operator-wide overrides
   */
  public DefaultProviderClientFactory(PricingTable basePricing) {
    this.basePricing = basePricing;
  }

  @Override
  public Optional<ProviderClient> create(ProviderSpec spec, Credentials credentials)
      throws ProviderException {
    return switch (spec.type) {
      case OpenAI -> Optional.of(new OpenAiClient(llmConfig(spec), credentials));
      case Anthropic -> Optional.of(new AnthropicClient(llmConfig(spec), credentials));
      case Gemini -> Optional.of(new GeminiClient(llmConfig(spec), credentials));
      case Lambda -> Optional.of(new LambdaClient(lambdaConfig(spec), credentials, transport));
      case RunPod -> Optional.of(new RunPodClient(runPodConfig(spec), credentials, transport));
      case HTTP -> Optional.of(httpClient(spec, credentials));
      case Docker, Proxmox -> Optional.empty();
    };
  }

  private static LambdaClient.Config lambdaConfig(ProviderSpec spec) throws ProviderException {
    try {
      LambdaClient.Config config =
          LambdaClient.Config.forRegion(spec.region == null ? "us-east-1" : spec.region);
      return spec.endpoint == null ? config : config.withEndpoint(spec.endpoint);
    } catch (IllegalArgumentException e) {
      throw new ProviderException(422, "Lambda provider: " + e.getMessage(), false);
    }
  }

  private static RunPodClient.Config runPodConfig(ProviderSpec spec) throws ProviderException {
    try {
      RunPodClient.Config config = RunPodClient.Config.defaults();
      if (spec.endpoint != null) {
        config = config.withBaseUrl(spec.endpoint);
      }
      ProviderSpec.RunPod runpod = spec.runpod;
      if (runpod == null) {
        return config;
      }
      if (runpod.probeEndpointId != null) {
        config = config.withProbeEndpoint(runpod.probeEndpointId);
      }
      if (runpod.costPerSecondUsd != null) {
        config = config.withDefaultUsdPerSecond(runpod.costPerSecondUsd);
      }
      if (runpod.endpointCostPerSecondUsd != null) {
        for (var rate : runpod.endpointCostPerSecondUsd.entrySet()) {
          if (rate.getValue() == null) {
            throw new IllegalArgumentException(
                "spec.runpod: no rate for endpoint " + rate.getKey());
          }
          config = config.withUsdPerSecond(rate.getKey(), rate.getValue());
        }
      }
      return config;
    } catch (IllegalArgumentException e) {
      throw new ProviderException(422, "RunPod provider: " + e.getMessage(), false);
    }
  }

  private ProviderClient httpClient(ProviderSpec spec, Credentials credentials)
      throws ProviderException {
    try {
      return new HttpEndpointClient(
          HttpEndpointClient.Endpoint.fromSpec(spec.http), null, credentials, transport);
    } catch (IllegalArgumentException e) {
      throw new ProviderException(422, "HTTP provider: " + e.getMessage(), false);
    }
  }

  private LlmConfig llmConfig(ProviderSpec spec) throws ProviderException {
    LlmConfig config = LlmConfig.defaults().withPricing(pricing(spec));
    if (spec.endpoint != null && !spec.endpoint.isBlank()) {
      config = config.withBaseUrl(spec.endpoint);
    }
    if (spec.defaults != null && spec.defaults.model != null) {
      config = config.withDefaultModel(spec.defaults.model);
    }
    return config;
  }

  private PricingTable pricing(ProviderSpec spec) throws ProviderException {
    if (spec.pricing == null || spec.pricing.isEmpty()) {
      return basePricing;
    }
    try {
      List<ModelPrice> overrides =
          spec.pricing.stream()
              .map(
                  p ->
                      new ModelPrice(
                          p.model,
                          List.of(),
                          p.inputPerMillion,
                          p.outputPerMillion,
                          p.cachedInputPerMillion,
                          p.cacheWritePerMillion,
                          null))
              .toList();
      return basePricing.withOverrides(overrides);
    } catch (IllegalArgumentException e) {
      throw new ProviderException(422, "spec.pricing: " + e.getMessage(), false);
    }
  }
}
