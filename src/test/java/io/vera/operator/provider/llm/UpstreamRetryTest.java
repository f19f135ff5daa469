package io.vera.operator.provider.llm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vera.operator.provider.ProviderException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Headers;
import org.junit.jupiter.api.Test;

class UpstreamRetryTest {
  private final FakeTime time = new FakeTime();

  @Test
  void backoffDoublesUpToEightSecondsLessUpToAQuarterOfJitter() {
    UpstreamRetry retry = new UpstreamRetry(time, time::nanoTime, () -> 0.5);
    AtomicInteger attempts = new AtomicInteger();

    assertThatThrownBy(
            () ->
                retry.run(
                    "test",
                    Duration.ofMinutes(5),
                    6,
                    deadline -> {
                      attempts.incrementAndGet();
                      throw new ProviderException(502, "boom", true);
                    }))
        .hasMessage("boom");

    assertThat(attempts).hasValue(7);
    assertThat(time.sleeps)
        .extracting(Duration::toNanos)
        .containsExactly(
            437_500_000L,
            875_000_000L,
            1_750_000_000L,
            3_500_000_000L,
            7_000_000_000L,
            7_000_000_000L);
  }

  @Test
  void aBackoffThatWouldOutlastTheDeadlineReportsTheFailureAtOnce() {
    AtomicInteger attempts = new AtomicInteger();

    assertThatThrownBy(
            () ->
                time.retry()
                    .run(
                        "test",
                        Duration.ofMillis(1200),
                        5,
                        deadline -> {
                          attempts.incrementAndGet();
                          throw new ProviderException(502, "boom", true);
                        }))
        .hasMessage("boom");

    assertThat(attempts).hasValue(2);
    assertThat(time.sleeps).containsExactly(Duration.ofMillis(500));
  }

  @Test
  void nonRetryableFailuresAreThrownAtOnce() {
    AtomicInteger attempts = new AtomicInteger();

    assertThatThrownBy(
            () ->
                time.retry()
                    .run(
                        "test",
                        Duration.ofMinutes(1),
                        5,
                        deadline -> {
                          attempts.incrementAndGet();
                          throw new ProviderException(422, "bad", false);
                        }))
        .hasMessage("bad");
    assertThat(attempts).hasValue(1);
  }

  @Test
  void theDeadlineCountsTheWaits() throws Exception {
    AtomicInteger attempts = new AtomicInteger();

    Duration left =
        time.retry()
            .run(
                "test",
                Duration.ofSeconds(10),
                1,
                deadline -> {
                  if (attempts.getAndIncrement() == 0) {
                    throw new ProviderException(
                        429, "slow down", true, Duration.ofSeconds(4), null);
                  }
                  return deadline.remaining();
                });

    assertThat(left).isEqualTo(Duration.ofSeconds(6));
  }

  @Test
  void readsRetryAfterInItsForms() {
    Clock clock = Clock.fixed(Instant.parse("2015-10-21T07:28:00Z"), ZoneOffset.UTC);

    assertThat(UpstreamErrors.retryAfter(Headers.of("Retry-After", "3"), clock))
        .isEqualTo(Duration.ofSeconds(3));
    assertThat(UpstreamErrors.retryAfter(Headers.of("Retry-After", "1.5"), clock))
        .isEqualTo(Duration.ofMillis(1500));
    assertThat(
            UpstreamErrors.retryAfter(
                Headers.of("retry-after-ms", "250", "Retry-After", "1"), clock))
        .isEqualTo(Duration.ofMillis(250));
    assertThat(
            UpstreamErrors.retryAfter(
                Headers.of("Retry-After", "Wed, 21 Oct 2015 07:28:05 GMT"), clock))
        .isEqualTo(Duration.ofSeconds(5));
    assertThat(
            UpstreamErrors.retryAfter(
                Headers.of("Retry-After", "Wed, 21 Oct 2015 07:27:00 GMT"), clock))
        .isEqualTo(Duration.ZERO);
    assertThat(UpstreamErrors.retryAfter(Headers.of("Retry-After", "soon"), clock)).isNull();
    assertThat(UpstreamErrors.retryAfter(Headers.of("Retry-After", "-4"), clock)).isNull();
    assertThat(UpstreamErrors.retryAfter(Headers.of(), clock)).isNull();
  }
}
