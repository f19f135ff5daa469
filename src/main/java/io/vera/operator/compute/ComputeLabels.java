package io.vera.operator.compute;

/** Label keys every host puts on the machines it creates, so they can be found after a restart. */
public final class ComputeLabels {
  public static final String MANAGED_BY = "vera.io/managed-by";
  public static final String MANAGED_BY_VALUE = "vera-operator";
  public static final String RESOURCE_UID = "vera.io/resource-uid";
  public static final String RESOURCE_NAME = "vera.io/resource-name";
  public static final String RESOURCE_NAMESPACE = "vera.io/resource-namespace";

  private ComputeLabels() {}
}
