package io.vera.operator.compute.proxmox;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parameters of one API call, in order. Proxmox takes them form-encoded (POST, PUT) or in the query
 * (GET, DELETE); an array parameter ({@code agent/exec}'s {@code command}) is the same name
 * repeated; booleans are sent as 1 and 0.
 */
final class Params {
  private final Map<String, List<String>> values = new LinkedHashMap<>();

  public static Params of() {
    return new Params();
  }

  public Params put(String name, String value) {
    if (value != null) {
      values.put(name, List.of(value));
    }
    return this;
  }

  public Params put(String name, long value) {
    return put(name, Long.toString(value));
  }

  public Params put(String name, boolean value) {
    return put(name, value ? "1" : "0");
  }

  /** An array parameter: one entry per element. */
  public Params putAll(String name, List<String> elements) {
    values.put(name, List.copyOf(elements));
    return this;
  }

  public boolean isEmpty() {
    return values.isEmpty();
  }

  public boolean has(String name) {
    return values.containsKey(name);
  }

  Map<String, List<String>> asMap() {
    return Collections.unmodifiableMap(values);
  }

  /** Names only: parameter values can hold passwords. */
  @Override
  public String toString() {
    return new ArrayList<>(values.keySet()).toString();
  }
}
