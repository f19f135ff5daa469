package io.vera.operator.provider.pricing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vera.operator.provider.TokenUsage;
import java.math.BigDecimal;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class PricingTableTest {
  private final PricingTable table = PricingTable.builtIn();

  @ParameterizedTest
  @CsvSource({
    "gpt-4o, gpt-4o",
    "gpt-4o-2024-08-06, gpt-4o",
    "gpt-4o-mini-2024-07-18, gpt-4o-mini",
    "gpt-4.1-2025-04-14, gpt-4.1",
    "o3-2025-04-16, o3",
    "claude-sonnet-4-20250514, claude-sonnet-4-0",
    "claude-sonnet-4, claude-sonnet-4-0",
    "claude-3-7-sonnet-latest, claude-3-7-sonnet-latest",
    "claude-3-7-sonnet-20250219, claude-3-7-sonnet-latest",
    "claude-3-5-haiku-20241022, claude-3-5-haiku-latest",
    "claude-sonnet-4-5-20250929, claude-sonnet-4-5",
    "gpt-4-0613, gpt-4",
    "chatgpt-4o-latest, chatgpt-4o-latest",
    "models/gemini-2.5-pro, gemini-2.5-pro",
    "gemini-2.0-flash-001, gemini-2.0-flash",
    "GPT-4O, gpt-4o",
    "whisper-1, whisper-1"
  })
  void findsExactIdsAndVersionedVariantsOfThem(String asked, String entry) {
    assertThat(table.find(asked)).map(ModelPrice::model).contains(entry);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "gpt-4o-mini-tts-2099",
        "gpt-4o-audio",
        "claude-sonnet",
        "gemini-2.5",
        "llama-3.1-70b-instruct",
        "text-embedding-004",
        "gpt",
        "ft:gpt-4o-mini:acme::abc123"
      })
  void neverPricesAModelThePriceListNeitherNamesNorMatches(String model) {
    assertThat(table.find(model)).isEmpty();
  }

  /** What the list's own code (genai-prices 0.1.8's calcPrice) answers for each id. */
  @ParameterizedTest
  @CsvSource({
    "gemini-2.5-pro-preview-05-06, gemini-2.5-pro",
    "gpt-4.5-preview-2025-02-27, gpt-4.5-preview",
    "ft:gpt-4o-2024-08-06:org::abc, ft:gpt-4o",
    "gpt-5-nano-2025-08-07, gpt-5-nano",
    "omni-moderation-latest, moderation",
    "claude-opus-5-20270101, claude-opus-5",
    "claude-sonnet-4@20250514, claude-sonnet-4-0",
    "claude-v2.1, claude-2",
    "gemini-2.5-pro-preview-tts, gemini-2.5-pro-tts",
    "gemini-1.5-flash-8b-001, gemini-1.5-flash",
    "gemini-2.5-flash-lite-preview-06-17, gemini-2.5-flash-lite",
    "gemini-3.5-flash-0520, gemini-3.5-flash",
    "gemini-3.1-pro-preview-customtools, gemini-3.1-pro-preview",
    "gemma-3-27b-it, gemma-3",
    "gpt-4o-mini-search-preview-2025-03-11, gpt-4o-mini",
    "o3-mini-2025-01-31, o3-mini",
    "claude-3-haiku-20240307, claude-3-haiku"
  })
  void appliesThePriceListsMatchRulesAsTheListDoes(String asked, String entry) {
    assertThat(table.find(asked)).map(ModelPrice::model).contains(entry);
  }

  @Test
  void noIdOrAliasTheListNamesIsClaimedByAnEarlierEntrysRule() {
    // Exact ids are looked up before the rules: the same answer only if no earlier rule claims
    // them.
    for (ModelPrice price : table.entries()) {
      for (String id : concat(price.model(), price.aliases())) {
        // Or no rule at all: an id such as ft:gpt-4o-mini names its entry but is not a model.
        assertThat(table.matchingModel(id)).as(id).isIn(price.model(), null);
      }
    }
  }

  private static List<String> concat(String first, List<String> rest) {
    List<String> all = new java.util.ArrayList<>(List.of(first));
    all.addAll(rest);
    return all;
  }

  @Test
  void aRuleMatchTakesTheOverrideOfTheModelItMatches() {
    PricingTable overridden =
        table.withOverrides(List.of(ModelPrice.tokens("gemini-2.5-pro", 9.0, 9.0, null, null)));

    assertThat(overridden.find("gemini-2.5-pro-preview-05-06").orElseThrow().input())
        .isEqualTo(9.0);
  }

  @Test
  void neverMatchesByPrefix() {
    assertThat(table.find("gpt-4o-mini").orElseThrow().input()).isEqualTo(0.15);
    assertThat(table.find("gpt-4").orElseThrow().input()).isEqualTo(30.00);
    assertThat(table.find("gpt-4.1-nano").orElseThrow().input()).isEqualTo(0.10);
    assertThat(table.find("o4-mini").orElseThrow().model()).isEqualTo("o4-mini");
  }

  @Test
  void anExactEntryForADatedVariantBeatsItsBase() {
    assertThat(table.find("gpt-4o-2024-05-13").orElseThrow().input()).isEqualTo(5.00);
    assertThat(table.find("gpt-4o-2024-11-20").orElseThrow().input()).isEqualTo(2.50);
  }

  @Test
  void hasThePriceListsRates() {
    ModelPrice gpt4o = table.find("gpt-4o").orElseThrow();
    assertThat(List.of(gpt4o.input(), gpt4o.output(), gpt4o.cachedInput()))
        .containsExactly(2.50, 10.00, 1.25);
    assertThat(gpt4o.cacheWrite()).isNull();
    ModelPrice mini = table.find("gpt-4o-mini").orElseThrow();
    assertThat(List.of(mini.input(), mini.output(), mini.cachedInput()))
        .containsExactly(0.15, 0.60, 0.075);
    ModelPrice sonnet = table.find("claude-sonnet-4").orElseThrow();
    assertThat(List.of(sonnet.input(), sonnet.output(), sonnet.cachedInput(), sonnet.cacheWrite()))
        .containsExactly(3.00, 15.00, 0.30, 3.75);
    ModelPrice flash = table.find("gemini-2.0-flash").orElseThrow();
    assertThat(List.of(flash.input(), flash.output())).containsExactly(0.10, 0.40);
    ModelPrice pro = table.find("gemini-2.5-pro").orElseThrow();
    assertThat(List.of(pro.input(), pro.output())).containsExactly(1.25, 10.00);
    assertThat(table.find("whisper-1").orElseThrow().perMinute()).isEqualTo(0.006);
    assertThat(table.find("whisper-1").orElseThrow().pricedByTokens()).isFalse();
  }

  @Test
  void pricesModelsTheOldHandKeptTableLackedWithThePriceListsFigures() {
    ModelPrice haiku = table.find("claude-haiku-4-5-20251001").orElseThrow();
    assertThat(haiku.model()).isEqualTo("claude-haiku-4-5");
    assertThat(List.of(haiku.input(), haiku.output(), haiku.cachedInput(), haiku.cacheWrite()))
        .containsExactly(1.00, 5.00, 0.10, 1.25);
    ModelPrice gemini3 = table.find("models/gemini-3-pro-preview").orElseThrow();
    assertThat(List.of(gemini3.input(), gemini3.output(), gemini3.cachedInput()))
        .containsExactly(2.00, 12.00, 0.20);
    ModelPrice gpt51 = table.find("gpt-5.1-2025-11-13").orElseThrow();
    assertThat(gpt51.model()).isEqualTo("gpt-5.1");
    assertThat(List.of(gpt51.input(), gpt51.output())).containsExactly(1.25, 10.00);
  }

  @Test
  void keepsEmbeddingAndAudioPricesFromTheList() {
    ModelPrice small = table.find("text-embedding-3-small").orElseThrow();
    assertThat(List.of(small.input(), small.output())).containsExactly(0.02, 0.0);
    assertThat(table.find("text-embedding-ada-002").orElseThrow().input()).isEqualTo(0.10);
    ModelPrice transcribe = table.find("gpt-4o-transcribe").orElseThrow();
    assertThat(List.of(transcribe.input(), transcribe.output()))
        .as("an audio-first model at its audio input rate, not the text one (2.50)")
        .containsExactly(6.00, 10.00);
    // The list prices whisper-1 at $0.36 an hour.
    assertThat(table.find("whisper-1").orElseThrow().perMinute()).isEqualTo(0.006);
  }

  @Test
  void costsFromListPricesAreExactDecimals() {
    ModelPrice flash = table.find("gemini-1.5-flash-002").orElseThrow();
    assertThat(flash.input()).isEqualTo(0.075);
    assertThat(
            CostCalculator.tokenCost(flash, new TokenUsage(1_000_000, 0, 0, 0, 0))
                .compareTo(new BigDecimal("0.075")))
        .isZero();
  }

  @Test
  void laterLayersReplaceEarlierOnesAndAddModels() {
    PricingTable fromConfigMap =
        table.withOverrides(
            PricingTable.parse(
                """
                - {model: gpt-4o, input: 2.00, output: 8.00}
                - {model: llama-3.1-70b-instruct, input: 0.50, output: 0.70}
                """));
    PricingTable forProvider =
        fromConfigMap.withOverrides(List.of(ModelPrice.tokens("gpt-4o", 1.00, 4.00, null, null)));

    assertThat(fromConfigMap.find("gpt-4o-2024-08-06").orElseThrow().input()).isEqualTo(2.00);
    assertThat(fromConfigMap.find("llama-3.1-70b-instruct").orElseThrow().output()).isEqualTo(0.70);
    assertThat(forProvider.find("gpt-4o").orElseThrow().input()).isEqualTo(1.00);
    assertThat(forProvider.find("gpt-4o-mini").orElseThrow().input()).isEqualTo(0.15);
    assertThat(table.find("gpt-4o").orElseThrow().input()).isEqualTo(2.50);
    assertThat(PricingTable.of(List.of()).find("gpt-4o")).isEqualTo(Optional.empty());
  }

  @Test
  void refusesEntriesThatWouldMisprice() {
    assertThatThrownBy(
            () -> PricingTable.parse("- {model: gpt-4o, input: 2.0, output: 8.0, cached: 1.0}"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cached");
    assertThatThrownBy(() -> PricingTable.parse("- {model: gpt-4o, input: 2.0}"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("both an input and an output rate");
    assertThatThrownBy(() -> ModelPrice.tokens("x", -1, 1, null, null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> PricingTable.parse("- {model: \" \", perMinute: 0.01}"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aHandWrittenListKeepsItsGoodEntriesAndNamesEachBadOne() {
    PricingTable.Parsed parsed =
        PricingTable.parseEach(
            """
            - {model: gpt-4o, input: 2.00, output: 8.00}
            - {model: typo-model, input: 1.0, outptu: 2.0}
            - {model: half-priced, input: 1.0}
            - {model: negative, input: -1, output: 2}
            - {model: words, input: cheap, output: 2}
            - {model: whisper-x, perMinute: 0.01}
            """);

    assertThat(parsed.prices())
        .extracting(ModelPrice::model)
        .containsExactly("gpt-4o", "whisper-x");
    assertThat(parsed.errors()).hasSize(4);
    assertThat(parsed.errors().get(0)).startsWith("entry 2 (typo-model): ").contains("outptu");
    assertThat(parsed.errors().get(1))
        .isEqualTo("entry 3 (half-priced): half-priced needs both an input and an output rate");
    assertThat(parsed.errors().get(2)).startsWith("entry 4 (negative): ").contains("-1.0");
    assertThat(parsed.errors().get(3)).startsWith("entry 5 (words): ").contains("cheap");
    assertThat(parsed.errors()).allMatch(e -> !e.contains("\n"));

    assertThat(PricingTable.parseEach("model: gpt-4o").errors())
        .containsExactly("expected a list of model prices, found OBJECT");
    assertThat(PricingTable.parseEach("- {model: [").errors().get(0)).startsWith("not valid YAML");
    assertThat(PricingTable.parseEach("").prices()).isEmpty();
    assertThat(PricingTable.parseEach("").errors()).isEmpty();
  }

  @Test
  void aTableOverAChangingBaseFollowsItButKeepsItsOwnEntries() {
    AtomicReference<PricingTable> base = new AtomicReference<>(table);
    PricingTable provider =
        PricingTable.over(base::get)
            .withOverrides(List.of(ModelPrice.tokens("gpt-4o-mini", 9.00, 9.00, null, null)));

    assertThat(provider.find("gpt-4o").orElseThrow().input()).isEqualTo(2.50);
    base.set(table.withOverrides(List.of(ModelPrice.tokens("gpt-4o", 3.00, 12.00, null, null))));
    assertThat(provider.find("gpt-4o-2024-08-06").orElseThrow().input()).isEqualTo(3.00);
    assertThat(provider.find("gpt-4o-mini-2024-07-18").orElseThrow().input()).isEqualTo(9.00);
    assertThat(provider.find("gpt-4o-2024-05-13").orElseThrow().input())
        .as("an exact dated entry below still beats the base id")
        .isEqualTo(5.00);
    base.set(table);
    assertThat(provider.find("gpt-4o").orElseThrow().input()).isEqualTo(2.50);
    assertThat(provider.find("not-a-model")).isEmpty();
  }
}
