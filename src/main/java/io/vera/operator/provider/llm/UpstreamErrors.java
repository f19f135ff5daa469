package io.vera.operator.provider.llm;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.provider.ProviderException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import okhttp3.Headers;
import okhttp3.Response;

/**
 * Turns what an upstream LLM API answered into the {@link ProviderException} the REST facade and
 * the retry loop act on, so all three clients report the same failure the same way and never echo a
 * credential.
 *
 * <table>
 *   <caption>Upstream outcome to ProviderException</caption>
 *   <tr><th>Upstream</th><th>status</th><th>retryable</th></tr>
 *   <tr><td>400, 413, 422 (the request was refused)</td><td>422</td><td>no</td></tr>
 *   <tr><td>401, 403 (credentials refused; the upstream text is dropped, it can quote part of the
 *       key)</td><td>502</td><td>no</td></tr>
 *   <tr><td>404 (no such endpoint or model)</td><td>502</td><td>no</td></tr>
 *   <tr><td>408</td><td>504</td><td>yes</td></tr>
 *   <tr><td>409</td><td>502</td><td>yes</td></tr>
 *   <tr><td>429, with its Retry-After</td><td>429</td><td>yes</td></tr>
 *   <tr><td>429 with OpenAI's {@code insufficient_quota} (waiting cannot help)</td><td>502</td>
 *       <td>no</td></tr>
 *   <tr><td>500-599 and Anthropic's 529 (overloaded)</td><td>502</td><td>yes</td></tr>
 *   <tr><td>any other status</td><td>502</td><td>no</td></tr>
 *   <tr><td>no answer in time (call deadline)</td><td>504</td><td>only while time is left</td></tr>
 *   <tr><td>connection refused, reset or cut</td><td>502</td><td>yes</td></tr>
 *   <tr><td>thread interrupted</td><td>503</td><td>no</td></tr>
 *   <tr><td>malformed answer</td><td>502</td><td>no</td></tr>
 * </table>
 *
 * <p>An error event inside a 200 stream is mapped by the HTTP status its type stands for (e.g.
 * Anthropic {@code overloaded_error} as 529, OpenAI {@code server_error} as 500). Messages name the
 * provider and quote the upstream's own error text, cut to 300 characters with the API key (if it
 * appears) replaced by {@code [redacted]}.
 */
final class UpstreamErrors {
  private static final int MAX_MESSAGE = 300;
  private static final long MAX_ERROR_BODY = 64 * 1024;

  private final String provider;
  private final String secret;

  UpstreamErrors(String provider, String secret) {
    this.provider = provider;
    this.secret = secret;
  }

  /** The failure a non-2xx response stands for; reads (a bounded part of) its body. */
  ProviderException fromResponse(Response response) {
    String detail = null;
    String code = null;
    try {
      JsonNode body = LlmClient.JSON.readTree(response.peekBody(MAX_ERROR_BODY).string());
      JsonNode error = body.path("error");
      detail = error.isTextual() ? error.asText() : LlmClient.textOrNull(error.path("message"));
      code = LlmClient.textOrNull(error.path("code"));
    } catch (IOException | RuntimeException e) {
      // Not JSON: the status alone says what happened.
    }
    Duration retryAfter = retryAfter(response.headers(), Clock.systemUTC());
    return fromStatus(response.code(), detail, code, retryAfter, "HTTP " + response.code());
  }

  /**
   * The failure an error event inside a 200 stream stands for.
   *
   * @param status the HTTP status the event's error type stands for
   */
  ProviderException fromStreamError(int status, String type, String code, String message) {
    String detail = type == null ? message : message == null ? type : type + ": " + message;
    return fromStatus(status, detail, code, null, "error event in the stream");
  }

  /** The failure an I/O problem stands for, given whether the call still has time left. */
  ProviderException fromIOException(IOException e, Duration timeLeft) {
    if (e instanceof InterruptedIOException && Thread.currentThread().isInterrupted()) {
      return new ProviderException(503, provider + " call interrupted", false, null, e);
    }
    if (e instanceof InterruptedIOException) {
      boolean timeLeftToRetry = !timeLeft.isZero();
      return new ProviderException(
          504,
          provider + (timeLeftToRetry ? " timed out" : " did not answer within the call's timeout"),
          timeLeftToRetry,
          null,
          e);
    }
    return new ProviderException(
        502,
        "cannot reach "
            + provider
            + ": "
            + redact(e.getClass().getSimpleName() + ": " + e.getMessage()),
        true,
        null,
        e);
  }

  /** A 200 answer that cannot be read. */
  ProviderException malformed(String what, Exception cause) {
    return new ProviderException(502, provider + " sent a malformed " + what, false, null, cause);
  }

  private ProviderException fromStatus(
      int status, String detail, String code, Duration retryAfter, String what) {
    String suffix = detail == null || detail.isBlank() ? "" : ": " + redact(detail);
    if (status == 401 || status == 403) {
      return new ProviderException(
          502, provider + " rejected the credentials (" + what + ")", false);
    }
    if (status == 429 && "insufficient_quota".equals(code)) {
      return new ProviderException(
          502, provider + " quota exhausted (" + what + ")" + suffix, false);
    }
    if (status == 429) {
      return new ProviderException(
          429, provider + " rate limit (" + what + ")" + suffix, true, retryAfter, null);
    }
    if (status == 400 || status == 413 || status == 422) {
      return new ProviderException(
          422, provider + " refused the request (" + what + ")" + suffix, false);
    }
    if (status == 408) {
      return new ProviderException(
          504, provider + " timed out (" + what + ")" + suffix, true, retryAfter, null);
    }
    boolean retryable = status == 409 || status >= 500 && status <= 599;
    String kind =
        status == 404
            ? " has no such endpoint or model ("
            : status == 529 || status == 503 ? " is overloaded (" : " failed (";
    return new ProviderException(
        502, provider + kind + what + ")" + suffix, retryable, retryable ? retryAfter : null, null);
  }

  /**
   * How long the upstream asks to wait: {@code retry-after-ms} (OpenAI), else {@code Retry-After}
   * in seconds or as an HTTP date, measured from the response's {@code Date} header when it has one
   * (so clock skew does not matter) and from {@code clock} otherwise. Null when absent or
   * unreadable.
   */
  static Duration retryAfter(Headers headers, Clock clock) {
    Duration millis = seconds(headers.get("retry-after-ms"), 0.001);
    if (millis != null) {
      return millis;
    }
    Duration seconds = seconds(headers.get("Retry-After"), 1);
    if (seconds != null) {
      return seconds;
    }
    Date at = headers.getDate("Retry-After");
    if (at == null) {
      return null;
    }
    Date serverNow = headers.getDate("Date");
    Instant now = serverNow != null ? serverNow.toInstant() : clock.instant();
    Duration wait = Duration.between(now, at.toInstant());
    return wait.isNegative() ? Duration.ZERO : wait;
  }

  private static Duration seconds(String value, double unitSeconds) {
    if (value == null) {
      return null;
    }
    try {
      double amount = Double.parseDouble(value.trim());
      if (amount < 0 || Double.isNaN(amount) || Double.isInfinite(amount)) {
        return null;
      }
      return Duration.ofNanos((long) Math.ceil(amount * unitSeconds * 1e9));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private String redact(String text) {
    String safe = secret == null || secret.isEmpty() ? text : text.replace(secret, "[redacted]");
    return safe.length() <= MAX_MESSAGE ? safe : safe.substring(0, MAX_MESSAGE) + "...";
  }
}
