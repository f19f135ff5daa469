package io.vera.operator.facade.auth;

/** The API server could not answer a TokenReview or SubjectAccessReview; the caller gets 503. */
final class ReviewUnavailableException extends RuntimeException {
  ReviewUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
