package io.vera.operator.facade;

/** A request the facade refuses, answered as {@code {"detail": message}} with the given status. */
public class ApiException extends RuntimeException {
  private final int status;

  public ApiException(int status, String detail) {
    super(detail);
    this.status = status;
  }

  public int status() {
    return status;
  }

  public static ApiException badRequest(String detail) {
    return new ApiException(400, detail);
  }

  public static ApiException invalid(String detail) {
    return new ApiException(422, detail);
  }

  public static ApiException notFound(String detail) {
    return new ApiException(404, detail);
  }

  public static ApiException conflict(String detail) {
    return new ApiException(409, detail);
  }

  public static ApiException unavailable(String detail) {
    return new ApiException(503, detail);
  }

  /** A host the request needed did not answer in time. */
  public static ApiException timedOut(String detail) {
    return new ApiException(504, detail);
  }

  /** A client's value cut to 64 characters, to quote it in a refusal without echoing a flood. */
  public static String clip(String text) {
    return text.length() > 64 ? text.substring(0, 64) + "…" : text;
  }
}
