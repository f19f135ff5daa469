package io.vera.operator.task;

/** A worker pool's identity: namespace and name. */
public record PoolKey(String namespace, String name) {
  @Override
  public String toString() {
    return namespace + "/" + name;
  }
}
