package io.vera.operator.retry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BackoffTest {
  private static final Backoff HALF_JITTER =
      new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10), 0.5);

  @Test
  void doublesFromTheInitialDelayUpToTheCap() {
    Backoff.Sequence backoff = HALF_JITTER.sequence(() -> 0.0);
    List<Long> delays = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      delays.add(backoff.next().toMillis());
    }
    assertThat(delays)
        .containsExactly(100L, 200L, 400L, 800L, 1600L, 3200L, 6400L, 10000L, 10000L, 10000L);
  }

  @Test
  void withoutJitterEveryWaitIsItsStep() {
    Backoff backoff = new Backoff(Duration.ofMillis(250), Duration.ofSeconds(5));
    assertThat(backoff.delay(0)).isEqualTo(Duration.ofMillis(250));
    assertThat(backoff.delay(2)).isEqualTo(Duration.ofSeconds(1));
    assertThat(backoff.delay(5)).isEqualTo(Duration.ofSeconds(5));
    assertThat(backoff.delay(500)).isEqualTo(Duration.ofSeconds(5));
  }

  @Test
  void jitterTakesOffAtMostItsFractionOfEachStep() {
    Backoff.Sequence most = HALF_JITTER.sequence(() -> 0.999999);
    assertThat(most.next().toMillis()).isEqualTo(50);
    assertThat(most.next().toMillis()).isEqualTo(100);
    Backoff.Sequence random = HALF_JITTER.sequence(Backoff.RANDOM);
    for (int i = 0; i < 200; i++) {
      assertThat(random.next()).isBetween(Duration.ofMillis(50), Duration.ofSeconds(10));
    }
  }

  @Test
  void resetStartsOverAtTheInitialDelay() {
    Backoff.Sequence backoff = HALF_JITTER.sequence(() -> 0.0);
    for (int i = 0; i < 5; i++) {
      backoff.next();
    }
    backoff.reset();
    assertThat(backoff.next()).isEqualTo(Duration.ofMillis(100));
  }

  @Test
  void rejectsACapBelowTheInitialDelayAndJitterOutsideZeroToOne() {
    assertThatThrownBy(() -> new Backoff(Duration.ofSeconds(2), Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Backoff(Duration.ZERO, Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(2), 1.5))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
