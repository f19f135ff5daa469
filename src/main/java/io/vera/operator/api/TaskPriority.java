package io.vera.operator.api;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Locale;
import java.util.Optional;

/** Task priorities, highest first: the dispatcher serves them in declaration order. */
public enum TaskPriority {
  @JsonProperty("critical")
  CRITICAL,
  @JsonProperty("high")
  HIGH,
  @JsonProperty("normal")
  NORMAL,
  @JsonProperty("low")
  LOW,
  @JsonProperty("background")
  BACKGROUND;

  /** The lowercase wire name, as the legacy API and the CRD spell it. */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses a priority case-insensitively. */
  public static Optional<TaskPriority> parse(String value) {
    if (value == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(valueOf(value.trim().toUpperCase(Locale.ROOT)));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }
}
