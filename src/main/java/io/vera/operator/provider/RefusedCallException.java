package io.vera.operator.provider;

/**
 * A call Vera itself refused by policy before it reached the upstream (a spent budget, a model that
 * cannot be priced under a budget), with a machine-readable code for the gateway's answers.
 */
public final class RefusedCallException extends ProviderException {
  /** Why: the OpenAI-shaped error's {@code code}. */
  public enum Reason {
    BUDGET_EXCEEDED("budget_exceeded"),
    MODEL_NOT_PRICED("model_not_priced");

    public final String code;

    Reason(String code) {
      this.code = code;
    }
  }

  private final Reason reason;

  RefusedCallException(int status, Reason reason, String message) {
    super(status, message, false);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
