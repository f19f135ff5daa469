package io.vera.operator.compute.proxmox;

import java.util.Locale;
import java.util.Map;

/**
 * A Proxmox VE API call or task that did not succeed: an HTTP error (message from the reason
 * phrase, per-field {@code errors} of a 400), a task that stopped with an error, a task that did
 * not finish in time, or a network failure. Never carries credentials or tickets.
 */
final class ProxmoxException extends Exception {
  /** Where the failure came from. */
  public enum Kind {
    /** The API answered with an HTTP error status. */
    HTTP,
    /** A task (UPID) stopped with an exit status other than OK or WARNINGS. */
    TASK,
    /** A task or wait did not finish before its deadline. */
    TIMEOUT,
    /** The API could not be reached or the connection broke. */
    NETWORK,
    /** The server's certificate is not trusted (or its name does not match); not retried. */
    TLS
  }

  private final Kind kind;
  private final int status;
  private final Map<String, String> fieldErrors;

  ProxmoxException(Kind kind, int status, String message, Map<String, String> fieldErrors) {
    super(message);
    this.kind = kind;
    this.status = status;
    this.fieldErrors = fieldErrors == null ? Map.of() : Map.copyOf(fieldErrors);
  }

  ProxmoxException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.status = 0;
    this.fieldErrors = Map.of();
  }

  public Kind kind() {
    return kind;
  }

  /** The HTTP status, 0 when the failure is not an HTTP answer. */
  public int status() {
    return status;
  }

  /** Per-parameter errors of a 400 answer ("Parameter verification failed."). */
  public Map<String, String> fieldErrors() {
    return fieldErrors;
  }

  private String text() {
    return String.valueOf(getMessage()).toLowerCase(Locale.ROOT);
  }

  /**
   * A guest lock or a lock-file timeout: "VM is locked (clone)", "can't lock file
   * '/var/lock/qemu-server/lock-101.conf' - got timeout". Waited out, never fatal by itself.
   */
  public boolean locked() {
    String t = text();
    return t.contains("is locked (") || (t.contains("can't lock file") && t.contains("timeout"));
  }

  /**
   * A failure Proxmox itself reports as passing: "got no worker upid", "got timeout", a proxy that
   * could not reach the node (5xx from pveproxy), or a broken connection.
   */
  public boolean transientFailure() {
    if (kind == Kind.NETWORK) {
      return true;
    }
    String t = text();
    return t.contains("got no worker upid")
        || t.contains("got timeout")
        || status == 502
        || status == 503
        || status == 504
        || status == 595
        || status == 596;
  }

  /** "VM 101 already exists", "unable to create VM 101: config file already exists". */
  public boolean alreadyExists() {
    return text().contains("already exists");
  }

  /** "Configuration file 'nodes/pve1/qemu-server/101.conf' does not exist" and friends. */
  public boolean notFound() {
    String t = text();
    return t.contains("does not exist") || t.contains("no such vm") || status == 404;
  }

  /** Wrong credentials, expired ticket, missing CSRF token. */
  public boolean unauthorized() {
    return status == 401;
  }
}
