package io.vera.operator.compute;

/**
 * Label keys every host puts on the machines it creates, so they can be found after a restart, and
 * the one the operator puts on the ComputeResources and Providers it creates itself.
 */
public final class ComputeLabels {
  /** On resources the operator made: what made them (legacy API, autoscaler, warm pool). */
  public static final String SOURCE = "vera.io/source";

  public static final String MANAGED_BY = "vera.io/managed-by";
  public static final String MANAGED_BY_VALUE = "vera-operator";
  public static final String RESOURCE_UID = "vera.io/resource-uid";
  public static final String RESOURCE_NAME = "vera.io/resource-name";
  public static final String RESOURCE_NAMESPACE = "vera.io/resource-namespace";

  /**
   * The {@link InstanceId} of the installation that made the machine; machines of other
   * installations are never adopted or swept.
   */
  public static final String INSTANCE = "vera.io/instance";

  private ComputeLabels() {}
}
