package io.vera.operator.compute;

/**
 * What a host tells while a machine is being made and has to wait for something outside it (a pod
 * no Node takes), so the ComputeResource can say why it is not Ready yet instead of only "creating
 * the machine".
 */
@FunctionalInterface
public interface ProvisionProgress {
  ProvisionProgress NONE = (reason, message) -> {};

  /**
   * The machine waits; called when the reason or message changes, not on every look.
   *
   * @param reason a CamelCase reason for the Ready condition, e.g. {@code NoNode}
   */
  void waiting(String reason, String message);
}
