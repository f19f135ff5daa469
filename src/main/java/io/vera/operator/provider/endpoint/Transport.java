package io.vera.operator.provider.endpoint;

import io.vera.operator.retry.Backoff;
import io.vera.operator.retry.Sleeper;
import java.time.Clock;
import java.time.Duration;
import okhttp3.OkHttpClient;

/**
 * How the endpoint clients reach their upstreams and keep time, in one value so every client is
 * wired the same way and tests can swap the clock and sleeper for fast, deterministic retries.
 *
 * @param http shared by all clients (connection pool, dispatcher); the clients never close it
 * @param clock deadlines, latency and SigV4 timestamps
 * @param sleeper waits between retries and polls
 * @param retryBackoff waits after throttling or server errors without Retry-After
 * @param maxResponseBytes larger response bodies fail the call instead of filling the heap
 */
public record Transport(
    OkHttpClient http, Clock clock, Sleeper sleeper, Backoff retryBackoff, long maxResponseBytes) {
  static final long DEFAULT_MAX_RESPONSE_BYTES = 10L * 1024 * 1024;
  static final Backoff DEFAULT_RETRY_BACKOFF =
      new Backoff(Duration.ofMillis(500), Duration.ofSeconds(8));

  public Transport {
    if (maxResponseBytes <= 0) {
      throw new IllegalArgumentException("maxResponseBytes must be positive");
    }
  }

  /** Real time, default backoff and a 10 MiB response cap. */
  public static Transport of(OkHttpClient http) {
    return new Transport(
        http, Clock.systemUTC(), Sleeper.SYSTEM, DEFAULT_RETRY_BACKOFF, DEFAULT_MAX_RESPONSE_BYTES);
  }
}
