package io.vera.operator.compute.proxmox;

import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;

/**
 * How Proxmox's failures read to the compute layer: a {@link ProxmoxException} becomes the {@link
 * ComputeException} whose reason says whether to retry (Proxmox unreachable, a lock, a passing task
 * failure), to fix the spec (refused, forbidden) or to give up.
 */
final class ProxmoxErrors {
  private ProxmoxErrors() {}

  static ComputeException map(String what, ProxmoxException e) {
    Reason reason;
    if (e.kind() == ProxmoxException.Kind.TASK) {
      reason = e.locked() || e.transientFailure() ? Reason.UNAVAILABLE : Reason.FAILED;
    } else if (e.kind() == ProxmoxException.Kind.NETWORK
        || e.kind() == ProxmoxException.Kind.TIMEOUT
        || e.kind() == ProxmoxException.Kind.TLS) {
      reason = Reason.UNAVAILABLE;
    } else if (e.notFound()) {
      reason = Reason.NOT_FOUND;
    } else if (e.status() == 400 || e.status() == 403) {
      reason = Reason.INVALID;
    } else if (e.status() == 401 || e.locked() || e.transientFailure()) {
      reason = Reason.UNAVAILABLE;
    } else {
      reason = Reason.FAILED;
    }
    return new ComputeException(reason, what + ": " + e.getMessage(), e);
  }

  /** Whether Proxmox refused a call because the VM's QEMU guest agent is off or not answering. */
  static boolean agentAbsent(ProxmoxException e) {
    String t = ProxmoxClient.lower(e.getMessage());
    return e.kind() == ProxmoxException.Kind.HTTP
        && (t.contains("guest agent") || t.contains("qga") || t.contains("not running"));
  }
}
