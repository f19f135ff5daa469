package io.vera.operator.provider;

/** A Provider's identity: namespace and name. */
public record ProviderKey(String namespace, String name) {
  @Override
  public String toString() {
    return namespace + "/" + name;
  }
}
