package io.vera.operator.provider;

import io.vera.operator.api.ProviderSpec;
import io.vera.operator.provider.llm.AnthropicClient;
import io.vera.operator.provider.llm.GeminiClient;
import io.vera.operator.provider.llm.LlmConfig;
import io.vera.operator.provider.llm.OpenAiClient;
import io.vera.operator.provider.pricing.ModelPrice;
import io.vera.operator.provider.pricing.PricingTable;
import java.util.List;
import java.util.Optional;

/**
 * Builds the client of each Provider type from its spec: endpoint, default model and prices (the
 * built-in table overridden by the Provider's own {@code pricing}).
 */
public final class DefaultProviderClientFactory implements ProviderClientFactory {
  private final PricingTable basePricing;

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
      case Lambda, RunPod, HTTP ->
          throw new ProviderException(
              501, spec.type + " providers are not supported by this build yet", false);
      case Docker, Proxmox -> Optional.empty();
    };
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
