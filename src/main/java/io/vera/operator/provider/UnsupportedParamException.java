package io.vera.operator.provider;

/**
 * A chat completion parameter the Provider's upstream has no equivalent for: refused with 400
 * naming it, never dropped, so a caller never gets an answer to a different question than it asked.
 */
public final class UnsupportedParamException extends ProviderException {
  private final String param;

  /**
   * @param param where in the request body, e.g. {@code logprobs} or {@code messages[2].name}
   */
  public UnsupportedParamException(String param, String message) {
    super(400, message, false);
    this.param = param;
  }

  public String param() {
    return param;
  }
}
