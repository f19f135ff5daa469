package io.vera.operator.provider.pricing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Model prices by model id, so a call is priced from the model the provider says answered, by a
 * precise rule that never confuses two models.
 *
 * <p>Lookup: the id is trimmed, lower-cased and stripped of a leading {@code models/} (Gemini's
 * resource prefix); an entry with exactly that id or alias wins. Otherwise one version suffix is
 * removed and the base id looked up exactly: a date ({@code -YYYY-MM-DD} as in {@code
 * gpt-4o-2024-08-06}, or {@code -YYYYMMDD} as in {@code claude-sonnet-4-20250514}), {@code
 * -latest}, or Gemini's three-digit stable version ({@code gemini-2.0-flash-001}). Ids are never
 * cut at dashes to a shorter prefix: {@code gpt-4o-mini} is not {@code gpt-4o}, {@code gpt-4} is
 * not {@code gpt-4o}, and a model with no entry is unpriced rather than guessed.
 *
 * <p>Tables are immutable and layered with {@link #withOverrides}: the built-in table, then entries
 * from a ConfigMap, then a Provider's own {@code spec.pricing}; a later layer replaces an entry
 * with the same id. Token prices are the standard (non-batch) rates for prompts within each model's
 * base context tier; long-context surcharges (e.g. Gemini 2.5 Pro above 200k prompt tokens) are not
 * modelled and can be set per Provider when they matter.
 */
public final class PricingTable {
  private static final String BUILT_IN = "models.yaml";
  private static final Pattern VERSION_SUFFIX =
      Pattern.compile("-(?:\\d{4}-\\d{2}-\\d{2}|\\d{8}|latest|\\d{3})$");
  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory())
          .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true);
  private static final PricingTable BUILT_IN_TABLE = new PricingTable(load());

  private final Map<String, ModelPrice> byId;

  private PricingTable(Map<String, ModelPrice> byId) {
    this.byId = Map.copyOf(byId);
  }

  /** The curated table shipped with the operator. */
  public static PricingTable builtIn() {
    return BUILT_IN_TABLE;
  }

  /** A table with only the given entries (later entries replace earlier ones with the same id). */
  public static PricingTable of(Collection<ModelPrice> prices) {
    return new PricingTable(Map.of()).withOverrides(prices);
  }

  /**
   * Reads entries in the built-in table's format: a YAML or JSON list of objects with {@code
   * model}, optional {@code aliases}, and rates {@code input}, {@code output}, {@code cachedInput},
   * {@code cacheWrite}, {@code perMinute}. Unknown keys are refused so a typo cannot silently drop
   * a rate.
   *
   * @throws IllegalArgumentException if the text is not such a list
   */
  public static List<ModelPrice> parse(String yamlOrJson) {
    try {
      return YAML.readValue(yamlOrJson, new TypeReference<List<ModelPrice>>() {});
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("invalid model prices: " + e.getOriginalMessage(), e);
    }
  }

  /** This table with {@code overrides} layered on top. */
  public PricingTable withOverrides(Collection<ModelPrice> overrides) {
    Map<String, ModelPrice> merged = new LinkedHashMap<>(byId);
    for (ModelPrice price : overrides) {
      merged.put(price.model(), price);
      for (String alias : price.aliases()) {
        merged.put(alias, price);
      }
    }
    return new PricingTable(merged);
  }

  /** The price of {@code model} by the rule above, or empty when the model is unpriced. */
  public Optional<ModelPrice> find(String model) {
    if (model == null || model.isBlank()) {
      return Optional.empty();
    }
    String id = model.trim().toLowerCase(Locale.ROOT);
    if (id.startsWith("models/")) {
      id = id.substring("models/".length());
    }
    ModelPrice exact = byId.get(id);
    if (exact != null) {
      return Optional.of(exact);
    }
    String base = VERSION_SUFFIX.matcher(id).replaceFirst("");
    return base.equals(id) ? Optional.empty() : Optional.ofNullable(byId.get(base));
  }

  private static Map<String, ModelPrice> load() {
    try (InputStream in = PricingTable.class.getResourceAsStream(BUILT_IN)) {
      if (in == null) {
        throw new IllegalStateException("built-in pricing table " + BUILT_IN + " is missing");
      }
      List<ModelPrice> prices = YAML.readValue(in, new TypeReference<List<ModelPrice>>() {});
      return of(prices).byId;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the built-in pricing table", e);
    }
  }
}
