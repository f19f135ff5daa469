package io.vera.operator.compute;

/**
 * A compute operation that did not succeed, with a reason the REST facade and the reconciler map to
 * an answer: a 4xx for what the caller can fix, a retry for what may pass by itself.
 */
public class ComputeException extends Exception {
  /** Why an operation failed. */
  public enum Reason {
    /** The machine or host object does not exist. */
    NOT_FOUND,
    /** The spec cannot be satisfied as written (bad image name, unknown node, no template). */
    INVALID,
    /** The kind of machine cannot do this at all (exec in a Proxmox LXC). */
    UNSUPPORTED,
    /** The host is unreachable or refused for now; trying again later may work. */
    UNAVAILABLE,
    /** The host did it and it failed (task error, start failure). */
    FAILED
  }

  private final Reason reason;

  public ComputeException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  public ComputeException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }

  public boolean retryable() {
    return reason == Reason.UNAVAILABLE;
  }
}
