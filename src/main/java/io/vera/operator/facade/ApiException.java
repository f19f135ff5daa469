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
}
