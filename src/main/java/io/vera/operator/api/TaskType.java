package io.vera.operator.api;

import java.util.Locale;
import java.util.Optional;

/** The kinds of work a pool runs; the names are the legacy API's task types. */
public enum TaskType {
  LLM,
  WHISPER,
  TOOL,
  ML_MODEL,
  BACKGROUND,
  GENERAL;

  /** Parses a legacy task type case-insensitively ("llm" and "LLM" are both accepted). */
  public static Optional<TaskType> parse(String value) {
    if (value == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(valueOf(value.trim().toUpperCase(Locale.ROOT)));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /** The DNS-safe form used in resource names, e.g. {@code ml-model}. */
  public String dnsName() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }
}
