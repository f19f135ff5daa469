package io.vera.operator.provider.endpoint;

import io.vera.operator.provider.ProviderException;
import io.vera.operator.retry.Backoff;
import io.vera.operator.retry.Deadline;
import io.vera.operator.retry.RetryLoop;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.concurrent.TimeUnit;
import okhttp3.Call;
import okhttp3.Headers;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.BufferedSource;

/**
 * Sends the endpoint clients' requests: retries (through the shared {@link RetryLoop}) only what is
 * safe to repeat, honours Retry-After, caps response bodies and never runs past the call's
 * deadline. Interpreting the final answer is left to each client.
 */
final class Upstream {
  private static final Duration MAX_CONNECT_TIMEOUT = Duration.ofSeconds(10);

  /** Which failures may be sent again. */
  enum Retry {
    /** Throttling, server errors and broken connections: for requests that are safe to repeat. */
    TRANSIENT,
    /**
     * Only answers saying the request was not processed (429, 503) and connections that never
     * opened: for requests that must not run twice.
     */
    UNPROCESSED
  }

  /** Builds the request for one attempt, so each attempt can be signed afresh. */
  @FunctionalInterface
  interface RequestFactory {
    Request build() throws ProviderException;
  }

  /** The final answer of an exchange, whatever its status, with the body already read. */
  record Answer(int code, Headers headers, byte[] body) {
    boolean successful() {
      return code >= 200 && code < 300;
    }

    String header(String name) {
      return headers.get(name);
    }

    String text() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  private final Transport transport;

  Upstream(Transport transport) {
    this.transport = transport;
  }

  Transport transport() {
    return transport;
  }

  Deadline deadline(Duration timeout) {
    return Deadline.after(timeout, transport.clock());
  }

  /**
   * A client whose connect, read and write timeouts fit {@code timeout}, never following redirects.
   */
  OkHttpClient clientFor(Duration timeout) {
    Duration connect = timeout.compareTo(MAX_CONNECT_TIMEOUT) < 0 ? timeout : MAX_CONNECT_TIMEOUT;
    return transport
        .http()
        .newBuilder()
        .connectTimeout(connect)
        .readTimeout(timeout)
        .writeTimeout(timeout)
        .followRedirects(false)
        .followSslRedirects(false)
        .build();
  }

  /**
   * Sends until an answer that is not retried, and returns it. Throws when no answer came (timeout,
   * connection failure), the body is over the cap, or the thread was interrupted.
   *
   * @param what names the target in messages, e.g. {@code Lambda function 'resize'}
   */
  Answer send(
      String what,
      OkHttpClient client,
      RequestFactory factory,
      Retry retry,
      int maxRetries,
      Deadline deadline)
      throws ProviderException {
    RetryLoop loop = new RetryLoop(transport.retryBackoff(), Backoff.RANDOM, transport.sleeper());
    try {
      return loop.run(
          what, maxRetries, deadline, n -> exchange(what, client, factory, retry, deadline));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw interrupted(what, e);
    }
  }

  /** One try: the answer, retryable when {@code retry} allows its status or its I/O failure. */
  private RetryLoop.Outcome<Answer, ProviderException> exchange(
      String what, OkHttpClient client, RequestFactory factory, Retry retry, Deadline deadline)
      throws ProviderException {
    Duration remaining = deadline.remaining();
    if (remaining.isZero()) {
      throw timedOut(what, deadline, null);
    }
    Call call = client.newCall(factory.build());
    call.timeout().timeout(remaining.toNanos(), TimeUnit.NANOSECONDS);
    Answer answer;
    try (Response response = call.execute()) {
      answer = new Answer(response.code(), response.headers(), readCapped(what, response.body()));
    } catch (IOException e) {
      if (Thread.currentThread().isInterrupted()) {
        throw interrupted(what, e);
      }
      ProviderException failure =
          e instanceof InterruptedIOException
              ? timedOut(what, deadline, e)
              : new ProviderException(
                  502, what + " could not be reached: " + describe(e), true, null, e);
      boolean neverSent =
          e instanceof ConnectException
              || e instanceof NoRouteToHostException
              || e instanceof UnknownHostException;
      return retry == Retry.TRANSIENT || neverSent
          ? RetryLoop.Outcome.retryableFailure(
              failure, null, "failed (" + e.getClass().getSimpleName() + ")")
          : RetryLoop.Outcome.failed(failure);
    }
    return retries(retry, answer.code())
        ? RetryLoop.Outcome.retryable(answer, retryAfter(answer), "answered " + answer.code())
        : RetryLoop.Outcome.done(answer);
  }

  /** Waits, turning an interrupt into a failed call (with the interrupt flag kept). */
  void sleep(String what, Duration wait) throws ProviderException {
    try {
      transport.sleeper().sleep(wait);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw interrupted(what, e);
    }
  }

  /** The Retry-After of an answer (delta seconds or HTTP date), or null when absent or invalid. */
  Duration retryAfter(Answer answer) {
    String value = answer.header("Retry-After");
    if (value == null || value.isBlank()) {
      return null;
    }
    try {
      long seconds = Long.parseLong(value.trim());
      return seconds < 0 ? null : Duration.ofSeconds(seconds);
    } catch (NumberFormatException notSeconds) {
      try {
        ZonedDateTime at = ZonedDateTime.parse(value.trim(), DateTimeFormatter.RFC_1123_DATE_TIME);
        Duration d = Duration.between(transport.clock().instant(), at.toInstant());
        return d.isNegative() ? Duration.ZERO : d;
      } catch (DateTimeParseException notADate) {
        return null;
      }
    }
  }

  /** 429 after the retries the call allowed, carrying Retry-After for the caller. */
  ProviderException throttled(String what, Answer answer, String detail) {
    return new ProviderException(
        429,
        what + " is rate-limited (429)" + (detail.isEmpty() ? "" : ": " + detail),
        true,
        retryAfter(answer),
        null);
  }

  static ProviderException timedOut(String what, Deadline deadline, Throwable cause) {
    return new ProviderException(
        504, what + " did not answer within " + seconds(deadline.timeout()), true, null, cause);
  }

  static String seconds(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
  }

  private static ProviderException interrupted(String what, Exception cause) {
    return new ProviderException(503, what + ": interrupted", true, null, cause);
  }

  private static boolean retries(Retry retry, int code) {
    return switch (retry) {
      case TRANSIENT -> code == 429 || code == 500 || code == 502 || code == 503 || code == 504;
      case UNPROCESSED -> code == 429 || code == 503;
    };
  }

  private byte[] readCapped(String what, ResponseBody body) throws IOException, ProviderException {
    long cap = transport.maxResponseBytes();
    BufferedSource source = body.source();
    if (body.contentLength() > cap || source.request(cap + 1)) {
      throw new ProviderException(
          502,
          what + " answered with more than " + cap + " bytes; the response was dropped",
          false);
    }
    return source.getBuffer().readByteArray();
  }

  private static String describe(IOException e) {
    return e.getMessage() == null
        ? e.getClass().getSimpleName()
        : e.getClass().getSimpleName() + ": " + e.getMessage();
  }
}
