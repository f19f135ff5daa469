package io.vera.operator.provider;

import java.time.Duration;

/**
 * A call that failed, with the HTTP status the REST facade should answer with (429 rate-limited or
 * over budget, 502 upstream error, 504 timeout, 400/422 refused input) and whether trying again can
 * help. Messages name the provider and what went wrong, never a credential.
 */
public class ProviderException extends Exception {
  private final int status;
  private final boolean retryable;
  private final Duration retryAfter;

  public ProviderException(
      int status, String message, boolean retryable, Duration retryAfter, Throwable cause) {
    super(message, cause);
    this.status = status;
    this.retryable = retryable;
    this.retryAfter = retryAfter;
  }

  public ProviderException(int status, String message, boolean retryable) {
    this(status, message, retryable, null, null);
  }

  public int status() {
    return status;
  }

  public boolean retryable() {
    return retryable;
  }

  /** How long the upstream asked us to wait (Retry-After), or null. */
  public Duration retryAfter() {
    return retryAfter;
  }
}
