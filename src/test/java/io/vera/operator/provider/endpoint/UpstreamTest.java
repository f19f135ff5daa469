package io.vera.operator.provider.endpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.endpoint.Upstream.Answer;
import io.vera.operator.provider.endpoint.Upstream.Retry;
import io.vera.operator.retry.Deadline;
import java.net.ServerSocket;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Headers;
import okhttp3.Request;
import org.junit.jupiter.api.Test;

/**
 * Retry-After, backoff, unreachable hosts and spent deadlines behave the same for every compute
 * client.
 */
class UpstreamTest {
  private final FakeTime time = new FakeTime(Instant.parse("2026-01-01T00:00:00Z"));
  private final Upstream upstream = new Upstream(TestCalls.transport(time));

  private static Answer answer(String retryAfter) {
    return new Answer(429, Headers.of("Retry-After", retryAfter), new byte[0]);
  }

  @Test
  void retryAfterIsReadAsSecondsOrAsAnHttpDate() {
    assertThat(upstream.retryAfter(answer("7"))).isEqualTo(Duration.ofSeconds(7));
    assertThat(upstream.retryAfter(answer("Thu, 01 Jan 2026 00:00:30 GMT")))
        .isEqualTo(Duration.ofSeconds(30));
    assertThat(upstream.retryAfter(answer("Wed, 31 Dec 2025 23:00:00 GMT"))).isZero();
    assertThat(upstream.retryAfter(answer("soon"))).isNull();
    assertThat(upstream.retryAfter(answer("-1"))).isNull();
  }

  @Test
  void connectionsThatNeverOpenAreRetriedEvenForRequestsThatMustNotRunTwice() throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    Request request =
        new Request.Builder().url("http://127.0.0.1:" + closedPort + "/run").get().build();
    AtomicInteger attempts = new AtomicInteger();

    assertThatThrownBy(
            () ->
                upstream.send(
                    "test target",
                    upstream.clientFor(Duration.ofSeconds(5)),
                    () -> {
                      attempts.incrementAndGet();
                      return request;
                    },
                    Retry.UNPROCESSED,
                    2,
                    upstream.deadline(Duration.ofSeconds(30))))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.retryable()).isTrue();
              assertThat(e.getMessage()).startsWith("test target could not be reached: ");
            });
    assertThat(attempts).hasValue(3);
    assertThat(time.sleeps()).containsExactly(Duration.ofMillis(500), Duration.ofSeconds(1));
  }

  @Test
  void aSpentDeadlineFailsWith504WithoutSending() {
    Deadline deadline = upstream.deadline(Duration.ofSeconds(1));
    time.sleep(Duration.ofSeconds(1));

    assertThatThrownBy(
            () ->
                upstream.send(
                    "test target",
                    upstream.clientFor(Duration.ofSeconds(1)),
                    () -> {
                      throw new AssertionError("nothing may be sent");
                    },
                    Retry.TRANSIENT,
                    3,
                    deadline))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> assertThat(e.getMessage()).isEqualTo("test target did not answer within 1s"));
  }
}
