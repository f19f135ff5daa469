package io.vera.operator.retry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class RetryLoopTest {
  private final List<Duration> waits = new ArrayList<>();
  private final long[] nanos = {0};
  private final RetryLoop loop =
      new RetryLoop(
          new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(4)),
          () -> 0,
          wait -> {
            waits.add(wait);
            nanos[0] += wait.toNanos();
          });

  private Deadline deadline(Duration timeout) {
    return Deadline.after(timeout, () -> nanos[0]);
  }

  @Test
  void retryableAnswersAreTriedAgainAfterTheBackoffThenTheLastIsReturned() throws Exception {
    AtomicInteger tries = new AtomicInteger();
    String answer =
        loop.run(
            "upstream",
            3,
            deadline(Duration.ofMinutes(1)),
            n ->
                RetryLoop.Outcome.<String, Exception>retryable(
                    "busy " + tries.incrementAndGet(), null, "busy"));
    assertThat(answer).isEqualTo("busy 4");
    assertThat(waits)
        .containsExactly(Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(4));
  }

  @Test
  void theUpstreamsRetryAfterReplacesTheBackoff() throws Exception {
    String answer =
        loop.run(
            "upstream",
            1,
            deadline(Duration.ofMinutes(1)),
            n ->
                n == 0
                    ? RetryLoop.Outcome.<String, Exception>retryable(
                        "throttled", Duration.ofSeconds(7), "429")
                    : RetryLoop.Outcome.<String, Exception>done("ok"));
    assertThat(answer).isEqualTo("ok");
    assertThat(waits).containsExactly(Duration.ofSeconds(7));
  }

  @Test
  void aWaitPastTheDeadlineEndsTheCallWithTheLastOutcomeOrWhatTooLateMakesOfIt() {
    assertThatThrownBy(
            () ->
                loop.run(
                    "upstream",
                    5,
                    deadline(Duration.ofSeconds(10)),
                    n ->
                        RetryLoop.Outcome.<String, Exception>retryableFailure(
                                new Exception("overloaded"), Duration.ofSeconds(30), "529")
                            .orIfTooLate(wait -> new Exception("asks to wait " + wait))))
        .hasMessage("asks to wait PT30S");
    assertThat(waits).isEmpty();
  }

  @Test
  void finalFailuresAreThrownAtOnce() {
    AtomicInteger tries = new AtomicInteger();
    assertThatThrownBy(
            () ->
                loop.run(
                    "upstream",
                    5,
                    deadline(Duration.ofMinutes(1)),
                    n -> {
                      tries.incrementAndGet();
                      return RetryLoop.Outcome.<String, Exception>failed(new Exception("refused"));
                    }))
        .hasMessage("refused");
    assertThat(tries).hasValue(1);
    assertThat(waits).isEmpty();
  }
}
