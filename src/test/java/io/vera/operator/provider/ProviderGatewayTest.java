package io.vera.operator.provider;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.api.ProviderStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class ProviderGatewayTest {
  private static final ProviderKey KEY = new ProviderKey("ns", "openai");
  private final MutableClock clock = new MutableClock(Instant.parse("2026-11-27T10:00:00Z"));
  private final UsageLedger ledger = new UsageLedger(clock);
  private final SimpleMeterRegistry metrics = new SimpleMeterRegistry();
  private final ProviderGateway gateway = new ProviderGateway(ledger, metrics, clock);

  /** A client that answers with fixed usage and cost, optionally waiting on a latch first. */
  private static final class FixedClient implements ProviderClient {
    private final double cost;
    private final CountDownLatch release;

    FixedClient(double cost, CountDownLatch release) {
      this.cost = cost;
      this.release = release;
    }

    @Override
    public ProviderResult call(ProviderRequest request) throws ProviderException {
      if (release != null) {
        try {
          release.await();
        } catch (InterruptedException e) {
          throw new ProviderException(503, "interrupted", true);
        }
      }
      return new ProviderResult(
          JsonNodeFactory.instance.textNode("hi"),
          "gpt-4o",
          new TokenUsage(100, 20, 40, 0, 5),
          cost,
          12.5,
          null,
          true);
    }

    @Override
    public ProviderResult stream(ProviderRequest request, Consumer<String> onChunk)
        throws ProviderException {
      onChunk.accept("hi");
      return call(request);
    }

    @Override
    public void probe() {}
  }

  /** A client whose every call fails. */
  private static final class FailingClient implements ProviderClient {
    @Override
    public ProviderResult call(ProviderRequest request) throws ProviderException {
      throw new ProviderException(502, "upstream down", false);
    }

    @Override
    public ProviderResult stream(ProviderRequest request, Consumer<String> onChunk)
        throws ProviderException {
      return call(request);
    }

    @Override
    public void probe() {}
  }

  private static ProviderRequest request() {
    return new ProviderRequest(
        "llm.test",
        "hello",
        null,
        JsonNodeFactory.instance.objectNode(),
        JsonNodeFactory.instance.arrayNode(),
        JsonNodeFactory.instance.objectNode(),
        Duration.ofSeconds(5),
        0);
  }

  private static ProviderSpec spec(Integer rpm, Integer concurrency, Double budget) {
    ProviderSpec spec = new ProviderSpec();
    spec.type = ProviderSpec.Type.OpenAI;
    spec.limits = new ProviderSpec.Limits();
    spec.limits.requestsPerMinute = rpm;
    spec.limits.maxConcurrency = concurrency;
    spec.limits.monthlyBudgetUsd = budget;
    return spec;
  }

  @Test
  void callsAreRecordedWithTheirOwnUsageAndCost() throws Exception {
    gateway.register(KEY, new FixedClient(0.01, null), spec(null, null, null));
    ProviderResult result = gateway.call(KEY, request());
    assertThat(result.usage().inputTokens()).isEqualTo(100);
    gateway.call(KEY, request());
    UsageLedger.Totals totals = ledger.totals(KEY).orElseThrow();
    assertThat(totals.requests()).isEqualTo(2);
    assertThat(totals.tokensIn()).isEqualTo(200);
    assertThat(totals.costUsd()).isEqualTo(0.02, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(totals.averageLatencyMs()).isEqualTo(12.5);
    assertThat(metrics.get("vera.provider.tokens").tag("type", "cached_input").counter().count())
        .isEqualTo(80);
    assertThat(metrics.get("vera.provider.tokens").tag("type", "reasoning").counter().count())
        .isEqualTo(10);
  }

  @Test
  void metersAppearOnFirstUseAndCountEveryCall() throws Exception {
    gateway.register(KEY, new FixedClient(0.01, null), spec(null, null, null));
    gateway.call(KEY, request());
    assertThat(metrics.find("vera.provider.requests").tag("outcome", "failed").counter())
        .as("a call that never failed registers no failure counter")
        .isNull();
    assertThat(metrics.find("vera.provider.tokens").tag("type", "cache_write").counter()).isNull();
    gateway.register(KEY, new FixedClient(0.01, null), spec(null, null, null));
    gateway.call(KEY, request());
    gateway.stream(KEY, request(), chunk -> {});
    assertThat(metrics.get("vera.provider.requests").tag("outcome", "succeeded").counter().count())
        .as("the same meters after the Provider is registered again")
        .isEqualTo(3);
    assertThat(metrics.get("vera.provider.latency").timer().count()).isEqualTo(3);
    assertThat(metrics.get("vera.provider.cost.usd").counter().count())
        .isEqualTo(0.03, org.assertj.core.data.Offset.offset(1e-12));
    assertThat(metrics.get("vera.provider.tokens").tag("type", "input").counter().count())
        .isEqualTo(180);

    gateway.register(KEY, new FailingClient(), spec(null, null, null));
    assertThatThrownBy(() -> gateway.call(KEY, request())).isInstanceOf(ProviderException.class);
    assertThat(metrics.get("vera.provider.requests").tag("outcome", "failed").counter().count())
        .isEqualTo(1);
    assertThat(metrics.get("vera.provider.latency").timer().count()).isEqualTo(4);
  }

  @Test
  void ledgerMonthFollowsTheClockAcrossMonthBoundsBothWays() {
    clock.set(Instant.parse("2026-11-30T23:59:59Z"));
    ledger.record(KEY, "gpt-4o", null, 1);
    assertThat(ledger.totals(KEY).orElseThrow().month()).isEqualTo("2026-11");
    clock.set(Instant.parse("2026-12-01T00:00:00Z"));
    ledger.record(KEY, "gpt-4o", null, 1);
    assertThat(ledger.totals(KEY).orElseThrow().month()).isEqualTo("2026-12");
    clock.set(Instant.parse("2026-10-31T12:00:00Z"));
    ledger.record(KEY, "gpt-4o", null, 1);
    assertThat(ledger.totals(KEY).orElseThrow().month())
        .as("a clock set back is not answered from the cached month")
        .isEqualTo("2026-10");
    assertThat(ledger.totals(KEY).orElseThrow().requests()).isEqualTo(3);
    assertThat(ledger.totals(KEY).orElseThrow().lastRequest())
        .isEqualTo(Instant.parse("2026-10-31T12:00:00Z"));
  }

  @Test
  void unknownProviderIs404() {
    assertThatThrownBy(() -> gateway.call(KEY, request()))
        .isInstanceOfSatisfying(
            ProviderException.class, e -> assertThat(e.status()).isEqualTo(404));
  }

  @Test
  void spentMonthlyBudgetRefusesCallsWith429UntilTheMonthTurns() throws Exception {
    gateway.register(KEY, new FixedClient(0.6, null), spec(null, null, 1.0));
    gateway.call(KEY, request());
    gateway.call(KEY, request());
    assertThatThrownBy(() -> gateway.call(KEY, request()))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(429);
              assertThat(e.getMessage()).contains("monthly budget of $1.00");
            });
    assertThat(gateway.hold(KEY))
        .as("why its queue waits, for the dashboard")
        .contains("budget: provider " + KEY.name() + " has spent its monthly budget of $1.00");
    clock.set(Instant.parse("2026-12-01T00:00:01Z"));
    assertThat(gateway.hold(KEY)).isEmpty();
    assertThat(gateway.call(KEY, request()).complete()).isTrue();
  }

  @Test
  void requestsPerMinuteAreLimitedWithARetryAfter() throws Exception {
    gateway.register(KEY, new FixedClient(0, null), spec(2, null, null));
    gateway.call(KEY, request());
    clock.advance(Duration.ofSeconds(20));
    assertThat(gateway.hold(KEY)).isEmpty();
    gateway.call(KEY, request());
    assertThat(gateway.hold(KEY))
        .hasValueSatisfying(
            why -> assertThat(why).startsWith("rate limit: ").contains("2 requests"));
    assertThatThrownBy(() -> gateway.call(KEY, request()))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(429);
              assertThat(e.retryAfter())
                  .as("when the oldest call leaves the window")
                  .isEqualTo(Duration.ofSeconds(40));
            });
    clock.advance(Duration.ofSeconds(41));
    assertThat(gateway.call(KEY, request()).complete()).isTrue();
  }

  @Test
  void concurrencyAboveTheLimitIsRefused() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    gateway.register(KEY, new FixedClient(0, release), spec(null, 1, null));
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      var first = pool.submit(() -> gateway.call(KEY, request()));
      Thread.sleep(200);
      ProviderRequest quick =
          new ProviderRequest(
              "t",
              "p",
              null,
              JsonNodeFactory.instance.objectNode(),
              JsonNodeFactory.instance.arrayNode(),
              JsonNodeFactory.instance.objectNode(),
              Duration.ofMillis(200),
              0);
      assertThatThrownBy(() -> gateway.call(KEY, quick))
          .isInstanceOfSatisfying(
              ProviderException.class, e -> assertThat(e.status()).isEqualTo(429));
      release.countDown();
      assertThat(first.get().complete()).isTrue();
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void ledgerStartsFromTheTotalsAProviderStatusHolds() {
    ProviderStatus.UsageTotals status = new ProviderStatus.UsageTotals();
    status.requests = 10L;
    status.succeeded = 9L;
    status.failed = 1L;
    status.costUsd = 2.5;
    status.averageLatencyMs = 100.0;
    status.month = "2026-11";
    status.monthCostUsd = 1.5;
    ledger.seed(KEY, status);
    ledger.record(KEY, "gpt-4o", null, 200);
    UsageLedger.Totals totals = ledger.totals(KEY).orElseThrow();
    assertThat(totals.requests()).isEqualTo(11);
    assertThat(totals.failed()).isEqualTo(2);
    assertThat(totals.averageLatencyMs()).isEqualTo((1000.0 + 200) / 11);
    assertThat(ledger.monthCost(KEY)).isEqualTo(1.5);
    ledger.seed(KEY, new ProviderStatus.UsageTotals());
    assertThat(ledger.totals(KEY).orElseThrow().requests())
        .as("seeding happens once")
        .isEqualTo(11);
  }

  /** A clock tests move by hand. */
  static final class MutableClock extends Clock {
    private volatile Instant now;

    MutableClock(Instant now) {
      this.now = now;
    }

    void set(Instant instant) {
      now = instant;
    }

    void advance(Duration duration) {
      now = now.plus(duration);
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }
}
