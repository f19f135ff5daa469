package io.vera.operator.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BackoffTest {
  @Test
  void doublesFromTheInitialDelayUpToTheCap() {
    Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10), () -> 0.999999);
    List<Long> delays = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      delays.add(backoff.next().toMillis());
    }
    assertThat(delays)
        .containsExactly(99L, 199L, 399L, 799L, 1599L, 3199L, 6399L, 9999L, 9999L, 9999L);
  }

  @Test
  void jitterKeepsEachDelayInTheUpperHalfOfItsStep() {
    Backoff low = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10), () -> 0.0);
    assertThat(low.next()).isEqualTo(Duration.ofMillis(50));
    assertThat(low.next()).isEqualTo(Duration.ofMillis(100));
    Backoff random = Backoff.standard();
    for (int i = 0; i < 200; i++) {
      assertThat(random.next()).isBetween(Duration.ofMillis(50), Duration.ofSeconds(10));
    }
  }

  @Test
  void resetStartsOverAtTheInitialDelay() {
    Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10), () -> 0.0);
    for (int i = 0; i < 5; i++) {
      backoff.next();
    }
    backoff.reset();
    assertThat(backoff.next()).isEqualTo(Duration.ofMillis(50));
  }

  @Test
  void rejectsACapBelowTheInitialDelay() {
    assertThatThrownBy(() -> new Backoff(Duration.ofSeconds(2), Duration.ofSeconds(1), () -> 0))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
