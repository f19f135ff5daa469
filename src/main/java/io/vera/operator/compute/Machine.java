package io.vera.operator.compute;

/**
 * A machine as its host reports it.
 *
 * @param resourceId the legacy API's id: {@code docker-<12 hex>}, {@code proxmox-<node>-<vmid>} or
 *     {@code pod-<name>}
 * @param nativeId the host's own id (container id, {@code <node>/<vmid>}, pod name)
 * @param owner the ComputeResource the machine belongs to, from its labels or tags
 * @param state whether it runs
 * @param address where it can be reached, or null when it has none (network {@code none})
 * @param capacity what it was given
 */
public record Machine(
    String resourceId,
    String nativeId,
    Owner owner,
    State state,
    String address,
    Capacity capacity) {

  /** Whether a machine can run commands now. */
  public enum State {
    /** Created or booting; not yet able to run commands. */
    STARTING,
    RUNNING,
    /** Exists but is not running (exited, stopped). */
    STOPPED,
    /** The host reports it broken (Docker "dead", a failed pod). */
    FAILED
  }

  /**
   * The ComputeResource a machine was created for, and by which installation.
   *
   * @param instance the {@link InstanceId} on the machine; null when it has none (made by a version
   *     before installations were marked)
   */
  public record Owner(String namespace, String name, String uid, String instance) {}
}
