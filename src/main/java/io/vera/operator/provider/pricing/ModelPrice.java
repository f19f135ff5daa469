package io.vera.operator.provider.pricing;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Locale;

/**
 * What one model costs, in USD, so a call's cost comes from the provider's own rates and the usage
 * it reported rather than from a guess.
 *
 * <p>Token rates are per million tokens; {@code perMinute} is per minute of audio (transcription
 * models). A rate a model has no use for is null: a null {@code cachedInput} or {@code cacheWrite}
 * means those tokens are charged at the {@code input} rate, and a model without {@code input} and
 * {@code output} rates cannot be priced by tokens at all.
 *
 * @param model the model id as the provider spells it, without a date suffix (e.g. {@code gpt-4o})
 * @param aliases other ids that name the same model and price (e.g. {@code claude-sonnet-4-0})
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ModelPrice(
    String model,
    List<String> aliases,
    Double input,
    Double output,
    Double cachedInput,
    Double cacheWrite,
    Double perMinute) {

  public ModelPrice {
    if (model == null || model.isBlank()) {
      throw new IllegalArgumentException("a model price needs a model id");
    }
    model = model.trim().toLowerCase(Locale.ROOT);
    aliases =
        aliases == null
            ? List.of()
            : aliases.stream().map(a -> a.trim().toLowerCase(Locale.ROOT)).toList();
    for (Double rate : new Double[] {input, output, cachedInput, cacheWrite, perMinute}) {
      if (rate != null && (rate < 0 || rate.isNaN() || rate.isInfinite())) {
        throw new IllegalArgumentException("price of " + model + " has an invalid rate " + rate);
      }
    }
    if ((input == null) != (output == null)) {
      throw new IllegalArgumentException(model + " needs both an input and an output rate");
    }
    if (input == null && perMinute == null) {
      throw new IllegalArgumentException(model + " has neither token rates nor a per-minute rate");
    }
  }

  /** A model priced by tokens. */
  public static ModelPrice tokens(
      String model, double input, double output, Double cachedInput, Double cacheWrite) {
    return new ModelPrice(model, List.of(), input, output, cachedInput, cacheWrite, null);
  }

  /** A model priced per minute of audio. */
  public static ModelPrice audio(String model, double perMinute) {
    return new ModelPrice(model, List.of(), null, null, null, null, perMinute);
  }

  /** Whether tokens can be priced: true when the model has input and output rates. */
  public boolean pricedByTokens() {
    return input != null;
  }
}
