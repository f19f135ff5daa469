package io.vera.operator.provider;

import java.util.Map;
import java.util.Optional;

/**
 * Secret values read from the Secret a Provider names, by logical key (apiKey, accessKeyId,
 * secretAccessKey, ...). {@link #toString()} never shows a value.
 */
public final class Credentials {
  private final Map<String, String> values;

  public Credentials(Map<String, String> values) {
    this.values = Map.copyOf(values);
  }

  public Optional<String> get(String key) {
    return Optional.ofNullable(values.get(key)).filter(v -> !v.isBlank());
  }

  /** The value of a key the provider cannot work without. */
  public String require(String key) throws ProviderException {
    return get(key)
        .orElseThrow(
            () ->
                new ProviderException(
                    400, "the credentials Secret has no value for '" + key + "'", false));
  }

  @Override
  public String toString() {
    return "Credentials" + values.keySet();
  }
}
