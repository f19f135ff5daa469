package io.vera.operator.provider.pricing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.RecordComponent;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Model prices by model id, so a call is priced from the model the provider says answered, by a
 * precise rule that never confuses two models.
 *
 * <p>Lookup: the id is trimmed, lower-cased and stripped of a leading {@code models/} (Gemini's
 * resource prefix); an entry with exactly that id or alias wins. Otherwise one version suffix is
 * removed and the base id looked up exactly: a date ({@code -YYYY-MM-DD} as in {@code
 * gpt-4o-2024-08-06}, or {@code -YYYYMMDD} as in {@code claude-sonnet-4-20250514}), {@code
 * -latest}, or Gemini's three-digit stable version ({@code gemini-2.0-flash-001}). Otherwise the
 * built-in list's match rules decide, as the list defines them: the first model (in the list's
 * order) whose rule ({@code equals}, {@code starts_with}, {@code ends_with}, {@code contains}, case
 * insensitive; {@code regex}; {@code and}/{@code or} of those) matches the id, e.g. {@code
 * gemini-2.5-pro-preview-05-06} is {@code gemini-2.5-pro}; that model's id is then looked up
 * through the layers, so an override of it applies. Vera never cuts an id at dashes on its own
 * ({@code gpt-4o-mini} is not {@code gpt-4o}), and a model neither names nor matches is unpriced
 * rather than guessed.
 *
 * <p>Tables are immutable and layered with {@link #withOverrides}: the built-in table, then entries
 * from a ConfigMap, then a Provider's own {@code spec.pricing}; a later layer replaces an entry
 * with the same id. The ConfigMap layer changes while the operator runs, so a table can also read
 * through to a base that is looked up on every call ({@link #over}).
 *
 * <p>The built-in table is {@code genai-prices.json}, generated from Pydantic's genai-prices list
 * (MIT) by {@code src/build/prices/refresh-prices.mjs}; docs/gateway.md says how to refresh it. Its
 * rates are decimal strings, read as {@link BigDecimal} and refused unless a {@code double} holds
 * them exactly, so costs computed from them stay exact. Token prices are the standard (non-batch)
 * rates of each model's base context tier; long-context surcharges (e.g. Gemini 2.5 Pro above 200k
 * prompt tokens) are not modelled and can be set per Provider when they matter.
 */
public final class PricingTable {
  private static final String BUILT_IN = "genai-prices.json";
  private static final Pattern VERSION_SUFFIX =
      Pattern.compile("-(?:\\d{4}-\\d{2}-\\d{2}|\\d{8}|latest|\\d{3})$");
  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory())
          .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true);
  private static final List<String> KEYS =
      Arrays.stream(ModelPrice.class.getRecordComponents()).map(RecordComponent::getName).toList();
  private static final PricingTable BUILT_IN_TABLE = load();

  private final Map<String, ModelPrice> byId;

  /**
   * The built-in list's match rules in its order; empty above it (asked through {@link #below}).
   */
  private final List<MatchRule> rules;

  /** The layer under this one, asked for an id this one lacks; null for a bottom layer. */
  private final Supplier<PricingTable> below;

  private PricingTable(
      Map<String, ModelPrice> byId, List<MatchRule> rules, Supplier<PricingTable> below) {
    this.byId = Map.copyOf(byId);
    this.rules = List.copyOf(rules);
    this.below = below;
  }

  /** The price list's rule for which ids a model stands for, and that model's id. */
  private record MatchRule(String model, Predicate<String> matches) {}

  /** The entries of a hand-written list that could be read, and why each other one was not. */
  public record Parsed(List<ModelPrice> prices, List<String> errors) {}

  /** The table shipped with the operator, from the generated public price list. */
  public static PricingTable builtIn() {
    return BUILT_IN_TABLE;
  }

  /** A table with only the given entries (later entries replace earlier ones with the same id). */
  public static PricingTable of(Collection<ModelPrice> prices) {
    return new PricingTable(Map.of(), List.of(), null).withOverrides(prices);
  }

  /**
   * A table with no entries of its own over whatever {@code base} supplies at each lookup, so that
   * overrides layered on it (a Provider's {@code spec.pricing}) follow a base that is replaced
   * while the operator runs (the ConfigMap layer) without rebuilding the clients priced from it.
   */
  static PricingTable over(Supplier<PricingTable> base) {
    return new PricingTable(Map.of(), List.of(), base);
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

  /**
   * Reads a list in {@link #parse}'s format entry by entry, so that one malformed entry in a
   * hand-edited list is refused on its own while the others still apply. Empty text is an empty
   * list.
   */
  static Parsed parseEach(String yamlOrJson) {
    JsonNode root;
    try {
      root = YAML.readTree(yamlOrJson == null ? "" : yamlOrJson);
    } catch (JsonProcessingException e) {
      return new Parsed(List.of(), List.of("not valid YAML: " + e.getOriginalMessage()));
    }
    if (root == null || root.isMissingNode() || root.isNull()) {
      return new Parsed(List.of(), List.of());
    }
    if (!root.isArray()) {
      return new Parsed(
          List.of(),
          List.of("expected a list of model prices, found " + root.getNodeType().toString()));
    }
    List<ModelPrice> prices = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    for (int i = 0; i < root.size(); i++) {
      JsonNode entry = root.get(i);
      try {
        refuseUnknownKeys(entry);
        prices.add(YAML.treeToValue(entry, ModelPrice.class));
      } catch (JsonProcessingException | IllegalArgumentException e) {
        String model =
            entry.path("model").isTextual() ? " (" + entry.path("model").asText() + ")" : "";
        errors.add("entry " + (i + 1) + model + ": " + reason(e));
      }
    }
    return new Parsed(List.copyOf(prices), List.copyOf(errors));
  }

  /** Names a misspelt key first: otherwise the rate it meant to set is reported as missing. */
  private static void refuseUnknownKeys(JsonNode entry) {
    if (!entry.isObject()) {
      throw new IllegalArgumentException("expected an object with a model and its rates");
    }
    entry
        .fieldNames()
        .forEachRemaining(
            key -> {
              if (!KEYS.contains(key)) {
                throw new IllegalArgumentException(
                    "unknown key '" + key + "'; known keys are " + String.join(", ", KEYS));
              }
            });
  }

  /** The message a person can act on: the record's own check, else Jackson's first line. */
  private static String reason(Exception e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof IllegalArgumentException && t.getMessage() != null) {
        return t.getMessage();
      }
    }
    String message =
        e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
    int newline = message == null ? -1 : message.indexOf('\n');
    return newline < 0 ? String.valueOf(message) : message.substring(0, newline);
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
    return new PricingTable(merged, rules, below);
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
    ModelPrice exact = exact(id);
    if (exact != null) {
      return Optional.of(exact);
    }
    String base = VERSION_SUFFIX.matcher(id).replaceFirst("");
    ModelPrice versioned = base.equals(id) ? null : exact(base);
    if (versioned != null) {
      return Optional.of(versioned);
    }
    String matched = matchingModel(id);
    return matched == null ? Optional.empty() : Optional.ofNullable(exact(matched));
  }

  /** The entry with exactly this id in this layer or, failing that, the layers below. */
  private ModelPrice exact(String id) {
    ModelPrice price = byId.get(id);
    return price != null || below == null ? price : below.get().exact(id);
  }

  /** This layer's entries, each once. */
  Collection<ModelPrice> entries() {
    return new java.util.LinkedHashSet<>(byId.values());
  }

  /** The id of the first model whose match rule matches {@code id}, in this layer or below. */
  String matchingModel(String id) {
    for (MatchRule rule : rules) {
      if (rule.matches().test(id)) {
        return rule.model();
      }
    }
    return below == null ? null : below.get().matchingModel(id);
  }

  private static PricingTable load() {
    try (InputStream in = PricingTable.class.getResourceAsStream(BUILT_IN)) {
      if (in == null) {
        throw new IllegalStateException("built-in pricing table " + BUILT_IN + " is missing");
      }
      List<ModelPrice> prices = new ArrayList<>();
      List<MatchRule> rules = new ArrayList<>();
      for (JsonNode model : new ObjectMapper().readTree(in).path("models")) {
        ModelPrice price = fromPriceList(model);
        prices.add(price);
        if (model.has("match")) {
          rules.add(new MatchRule(price.model(), rule(price.model(), model.get("match"))));
        }
      }
      if (prices.isEmpty()) {
        throw new IllegalStateException("built-in pricing table " + BUILT_IN + " has no models");
      }
      return new PricingTable(of(prices).byId, rules, null);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the built-in pricing table", e);
    }
  }

  /**
   * A match rule of the price list as its own code applies it to a lower-cased id: {@code equals},
   * {@code starts_with}, {@code ends_with} and {@code contains} ignore case, {@code regex} is
   * searched for anywhere in the id, {@code and} / {@code or} combine rules. An unknown kind stops
   * the load, so a newer list cannot be half understood.
   */
  private static Predicate<String> rule(String model, JsonNode match) {
    if (match.size() != 1) {
      throw new IllegalStateException("match rule of " + model + " is not one clause: " + match);
    }
    Map.Entry<String, JsonNode> clause = match.fields().next();
    JsonNode value = clause.getValue();
    if (clause.getKey().equals("and") || clause.getKey().equals("or")) {
      List<Predicate<String>> parts = new ArrayList<>();
      value.forEach(part -> parts.add(rule(model, part)));
      return clause.getKey().equals("and")
          ? id -> parts.stream().allMatch(p -> p.test(id))
          : id -> parts.stream().anyMatch(p -> p.test(id));
    }
    String text = value.asText();
    String lower = text.toLowerCase(Locale.ROOT);
    return switch (clause.getKey()) {
      case "equals" -> id -> id.equals(lower);
      case "starts_with" -> id -> id.startsWith(lower);
      case "ends_with" -> id -> id.endsWith(lower);
      case "contains" -> id -> id.contains(lower);
      case "regex" -> {
        Pattern pattern = Pattern.compile(text);
        yield id -> pattern.matcher(id).find();
      }
      default ->
          throw new IllegalStateException(
              "match rule of " + model + " has an unknown kind: " + clause.getKey());
    };
  }

  /** One model of the generated price list; its hourly audio rate becomes a per-minute one. */
  private static ModelPrice fromPriceList(JsonNode model) {
    String id = model.path("id").asText();
    List<String> named = new ArrayList<>(List.of(id));
    model.path("aliases").forEach(alias -> named.add(alias.asText()));
    // A dated alias (gpt-4o-2024-08-06) already finds this entry by its base id; kept as an exact
    // key it would keep this price when a ConfigMap or spec.pricing overrides the base id.
    List<String> aliases =
        named.stream()
            .skip(1)
            .filter(
                alias -> {
                  String base = VERSION_SUFFIX.matcher(alias).replaceFirst("");
                  return base.equals(alias) || !named.contains(base);
                })
            .toList();
    BigDecimal perHour = decimal(model, "perAudioHour");
    BigDecimal perMinute =
        perHour == null ? null : perHour.divide(BigDecimal.valueOf(60), MathContext.DECIMAL64);
    return new ModelPrice(
        id,
        aliases,
        exactDouble(id, decimal(model, "input")),
        exactDouble(id, decimal(model, "output")),
        exactDouble(id, decimal(model, "cachedInput")),
        exactDouble(id, decimal(model, "cacheWrite")),
        exactDouble(id, perMinute));
  }

  private static BigDecimal decimal(JsonNode model, String field) {
    JsonNode value = model.get(field);
    return value == null || value.isNull() ? null : new BigDecimal(value.asText());
  }

  /** The rate as a double that reads back as the same decimal, or a refusal to load. */
  private static Double exactDouble(String model, BigDecimal rate) {
    if (rate == null) {
      return null;
    }
    double value = rate.doubleValue();
    if (BigDecimal.valueOf(value).compareTo(rate) != 0) {
      throw new IllegalStateException(
          "built-in price of " + model + " has a rate " + rate + " a double cannot hold exactly");
    }
    return value;
  }
}
