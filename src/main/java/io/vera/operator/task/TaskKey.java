package io.vera.operator.task;

/** A task's identity: namespace and name. The legacy API's task_id is the name. */
public record TaskKey(String namespace, String name) {
  @Override
  public String toString() {
    return namespace + "/" + name;
  }
}
