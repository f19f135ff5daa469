package io.vera.operator.provider;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.api.ProviderStatus;
import io.vera.operator.provider.ProviderGatewayTest.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * Budgets per caller, per namespace and per day on the gateway's calls, and the reservations that
 * keep concurrent calls from overrunning them.
 */
class CallerBudgetsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ProviderKey KEY = new ProviderKey("vera-system", "openai");
  private static final Caller BOT = Caller.kubernetes("system:serviceaccount:team-a:bot", null);
  private static final Caller OTHER_BOT =
      Caller.kubernetes("system:serviceaccount:team-a:indexer", null);
  private static final Caller TEAM_B = Caller.kubernetes("system:serviceaccount:team-b:bot", null);

  /** USD per token, input and output alike. */
  private static final double PER_TOKEN = 0.001;

  private final MutableClock clock = new MutableClock(Instant.parse("2026-11-27T10:00:00Z"));
  private final UsageLedger ledger = new UsageLedger(clock);
  private final SimpleMeterRegistry metrics = new SimpleMeterRegistry();
  private final ProviderGateway gateway = new ProviderGateway(ledger, metrics, clock);

  /**
   * An LLM client whose calls use {@code usedTokens} tokens at {@value #PER_TOKEN} USD each; calls
   * can be held until {@code release} opens, counting {@code entered} as they arrive.
   */
  private static class PricedChat implements ProviderClient, ChatCompletions {
    private final long usedTokens;
    private final CountDownLatch entered;
    private final CountDownLatch release;

    PricedChat(long usedTokens, CountDownLatch entered, CountDownLatch release) {
      this.usedTokens = usedTokens;
      this.entered = entered;
      this.release = release;
    }

    @Override
    public ProviderResult chat(ChatRequest request) throws ProviderException {
      if (entered != null) {
        entered.countDown();
      }
      try {
        if (release != null && !release.await(30, TimeUnit.SECONDS)) {
          throw new ProviderException(504, "the test never released the call", false);
        }
      } catch (InterruptedException e) {
        throw new ProviderException(503, "interrupted", true);
      }
      TokenUsage usage = new TokenUsage(usedTokens / 2, usedTokens - usedTokens / 2, 0, 0, 0);
      return new ProviderResult(
          JsonNodeFactory.instance.objectNode(),
          request.model(),
          usage,
          cost(request.model(), usage),
          5,
          null,
          true);
    }

    @Override
    public ProviderResult chatStream(ChatRequest request, Consumer<String> onChunk)
        throws ProviderException {
      return chat(request);
    }

    @Override
    public boolean prices(String model) {
      return true;
    }

    @Override
    public Double cost(String model, TokenUsage usage) {
      return usage.totalTokens() * PER_TOKEN;
    }

    @Override
    public ProviderResult call(ProviderRequest request) throws ProviderException {
      throw new ProviderException(400, "chat only", false);
    }

    @Override
    public ProviderResult stream(ProviderRequest request, Consumer<String> onChunk)
        throws ProviderException {
      throw new ProviderException(400, "chat only", false);
    }

    @Override
    public void probe() {}
  }

  /** A call whose ceiling is 100 tokens: "hi" (1) and "user" (2) in, 97 out ($0.10). */
  private static ChatRequest request() {
    ObjectNode body = JSON.createObjectNode().put("model", "openai/gpt-4o").put("max_tokens", 97);
    body.putArray("messages").addObject().put("role", "user").put("content", "hi");
    return new ChatRequest(body, "gpt-4o", false, Duration.ofSeconds(30), 0);
  }

  private static ProviderSpec spec(ProviderSpec.Limits limits) {
    ProviderSpec spec = new ProviderSpec();
    spec.type = ProviderSpec.Type.OpenAI;
    spec.limits = limits;
    return spec;
  }

  private static ProviderSpec.Budget budget(Double monthly, Double daily) {
    ProviderSpec.Budget budget = new ProviderSpec.Budget();
    budget.monthlyUsd = monthly;
    budget.dailyUsd = daily;
    return budget;
  }

  private static void assertBudgetRefusal(Throwable e, String... phrases) {
    assertThat(e).isInstanceOf(RefusedCallException.class);
    RefusedCallException refused = (RefusedCallException) e;
    assertThat(refused.status()).isEqualTo(429);
    assertThat(refused.reason()).isEqualTo(RefusedCallException.Reason.BUDGET_EXCEEDED);
    assertThat(refused.getMessage()).contains(phrases);
  }

  @Test
  void concurrentCallsCannotOverrunACallersDailyBudget() throws Exception {
    int calls = 20;
    CountDownLatch decided = new CountDownLatch(calls);
    CountDownLatch release = new CountDownLatch(1);
    ProviderSpec.Limits limits = new ProviderSpec.Limits();
    limits.perCaller = budget(null, 0.5);
    gateway.register(KEY, new PricedChat(100, decided, release), spec(limits));

    ExecutorService pool = Executors.newFixedThreadPool(calls);
    AtomicInteger refused = new AtomicInteger();
    List<Future<ProviderResult>> results = new ArrayList<>();
    try {
      for (int i = 0; i < calls; i++) {
        results.add(
            pool.submit(
                () -> {
                  try {
                    return gateway.chat(KEY, request(), BOT);
                  } catch (RefusedCallException e) {
                    refused.incrementAndGet();
                    decided.countDown();
                    throw e;
                  }
                }));
      }
      // Every call is either in flight at the upstream or refused before the first one ends.
      assertThat(decided.await(30, TimeUnit.SECONDS)).isTrue();
      release.countDown();
      int served = 0;
      for (Future<ProviderResult> result : results) {
        try {
          result.get(30, TimeUnit.SECONDS);
          served++;
        } catch (java.util.concurrent.ExecutionException e) {
          assertBudgetRefusal(e.getCause(), "daily budget of $0.50");
        }
      }
      assertThat(served).as("$0.50 buys five $0.10 calls").isEqualTo(5);
      assertThat(refused.get()).isEqualTo(15);
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
    ProviderStatus.Spend spend = ledger.status(KEY).orElseThrow().callers.get(0);
    assertThat(spend.name).isEqualTo("system:serviceaccount:team-a:bot");
    assertThat(spend.namespace).isEqualTo("team-a");
    assertThat(spend.dayCostUsd).isCloseTo(0.5, Offset.offset(1e-9));
    assertThat(spend.requests).isEqualTo(5);
  }

  @Test
  void concurrentCallsCannotOverrunTheProvidersMonthlyBudget() throws Exception {
    int calls = 12;
    CountDownLatch decided = new CountDownLatch(calls);
    CountDownLatch release = new CountDownLatch(1);
    ProviderSpec.Limits limits = new ProviderSpec.Limits();
    limits.monthlyBudgetUsd = 0.3;
    gateway.register(KEY, new PricedChat(100, decided, release), spec(limits));
    ExecutorService pool = Executors.newFixedThreadPool(calls);
    List<Future<ProviderResult>> results = new ArrayList<>();
    try {
      for (int i = 0; i < calls; i++) {
        Caller caller = i % 2 == 0 ? BOT : TEAM_B;
        results.add(
            pool.submit(
                () -> {
                  try {
                    return gateway.chat(KEY, request(), caller);
                  } catch (RefusedCallException e) {
                    decided.countDown();
                    throw e;
                  }
                }));
      }
      assertThat(decided.await(30, TimeUnit.SECONDS)).isTrue();
      release.countDown();
      long served =
          results.stream()
              .filter(
                  f -> {
                    try {
                      f.get(30, TimeUnit.SECONDS);
                      return true;
                    } catch (Exception e) {
                      return false;
                    }
                  })
              .count();
      assertThat(served).isEqualTo(3);
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
    assertThat(ledger.monthCost(KEY)).isCloseTo(0.3, Offset.offset(1e-9));
  }

  @Test
  void aNamespaceBudgetIsSharedByItsServiceAccountsAndNoOtherNamespace() throws Exception {
    ProviderSpec.Limits limits = new ProviderSpec.Limits();
    limits.perNamespace = budget(0.2, null);
    gateway.register(KEY, new PricedChat(100, null, null), spec(limits));

    gateway.chat(KEY, request(), BOT);
    gateway.chat(KEY, request(), OTHER_BOT);
    assertThatThrownBy(() -> gateway.chat(KEY, request(), BOT))
        .satisfies(e -> assertBudgetRefusal(e, "namespace team-a", "monthly budget of $0.20"));
    assertThat(gateway.chat(KEY, request(), TEAM_B).complete())
        .as("team-b has its own allowance")
        .isTrue();
  }

  @Test
  void theReservationIsSettledWithTheExactCostSoAnOverestimateFreesTheBudgetAgain()
      throws Exception {
    ProviderSpec.Limits limits = new ProviderSpec.Limits();
    limits.perCaller = budget(0.25, null);
    // Each call reserves $0.10 and costs $0.04.
    gateway.register(KEY, new PricedChat(40, null, null), spec(limits));
    // Had the $0.10 estimates stayed, the third call would have been refused.
    for (int i = 0; i < 4; i++) {
      gateway.chat(KEY, request(), BOT);
    }
    // $0.16 spent: the next call's $0.10 estimate would pass $0.25.
    assertThatThrownBy(() -> gateway.chat(KEY, request(), BOT))
        .satisfies(e -> assertBudgetRefusal(e, "too little left of its monthly budget"));
    assertThat(ledger.status(KEY).orElseThrow().callers.get(0).monthCostUsd)
        .isCloseTo(0.16, Offset.offset(1e-9));
  }

  @Test
  void aDailyBudgetOpensAgainTheNextUtcDayWhileTheMonthlyOneKeepsCounting() throws Exception {
    ProviderSpec.Limits limits = new ProviderSpec.Limits();
    limits.dailyBudgetUsd = 0.1;
    limits.perCaller = budget(0.25, null);
    gateway.register(KEY, new PricedChat(100, null, null), spec(limits));
    gateway.chat(KEY, request(), BOT);
    assertThatThrownBy(() -> gateway.chat(KEY, request(), BOT))
        .satisfies(e -> assertBudgetRefusal(e, "provider openai", "daily budget of $0.10"));
    clock.advance(Duration.ofDays(1));
    gateway.chat(KEY, request(), BOT);
    clock.advance(Duration.ofDays(1));
    assertThatThrownBy(() -> gateway.chat(KEY, request(), BOT))
        .satisfies(
            e ->
                assertBudgetRefusal(
                    e, "caller system:serviceaccount:team-a:bot", "monthly budget of $0.25"));
  }

  @Test
  void spendSurvivesARestartThroughTheProviderStatus() throws Exception {
    ProviderSpec.Limits limits = new ProviderSpec.Limits();
    limits.perCaller = budget(0.2, null);
    gateway.register(KEY, new PricedChat(100, null, null), spec(limits));
    gateway.chat(KEY, request(), BOT);
    gateway.chat(KEY, request(), new Caller(BOT.name(), BOT.namespace(), "alice@example.com"));
    ProviderStatus.UsageTotals status = ledger.status(KEY).orElseThrow();

    UsageLedger restarted = new UsageLedger(clock);
    restarted.seed(
        KEY, JSON.convertValue(JSON.valueToTree(status), ProviderStatus.UsageTotals.class));
    ProviderGateway again = new ProviderGateway(restarted, new SimpleMeterRegistry(), clock);
    again.register(KEY, new PricedChat(100, null, null), spec(limits));

    assertThatThrownBy(() -> again.chat(KEY, request(), BOT))
        .satisfies(e -> assertBudgetRefusal(e, "monthly budget of $0.20"));
    ProviderStatus.UsageTotals spend = restarted.spend().get(KEY);
    assertThat(spend.namespaces.get(0).name).isEqualTo("team-a");
    assertThat(spend.namespaces.get(0).monthCostUsd).isCloseTo(0.2, Offset.offset(1e-9));
    assertThat(spend.endUsers.get(0).name).isEqualTo("alice@example.com");
    assertThat(spend.endUsers.get(0).caller).isEqualTo(BOT.name());
  }

  @Test
  void callerMetricsKeepTheirLabelsBounded() throws Exception {
    gateway.register(KEY, new PricedChat(10, null, null), spec(null));
    for (int i = 0; i < GenAiMetrics.MAX_CALLER_LABELS + 20; i++) {
      gateway.chat(
          KEY, request(), Caller.kubernetes("system:serviceaccount:ns-" + i + ":sa", null));
    }
    assertThat(metrics.find("vera.gateway.caller.requests").counters())
        .hasSize(GenAiMetrics.MAX_CALLER_LABELS + 1);
    assertThat(
            metrics
                .get("vera.gateway.caller.requests")
                .tag("caller", GenAiMetrics.OTHER)
                .counter()
                .count())
        .isEqualTo(20);
    assertThat(
            metrics
                .get("vera.gateway.caller.cost.usd")
                .tag("caller", "system:serviceaccount:ns-3:sa")
                .tag("caller_namespace", "ns-3")
                .counter()
                .count())
        .isCloseTo(0.01, Offset.offset(1e-9));
  }

  @Test
  void anUnpricedModelIsRefusedUnderACallerBudgetToo() throws Exception {
    ProviderSpec.Limits limits = new ProviderSpec.Limits();
    limits.perCaller = budget(1.0, null);
    gateway.register(
        KEY,
        new PricedChat(10, null, null) {
          @Override
          public boolean prices(String model) {
            return false;
          }
        },
        spec(limits));
    assertThatThrownBy(() -> gateway.chat(KEY, request(), BOT))
        .isInstanceOfSatisfying(
            RefusedCallException.class,
            e -> {
              assertThat(e.status()).isEqualTo(400);
              assertThat(e.getMessage()).contains("'gpt-4o' has no price", "a budget per caller");
            });
  }

  // ---- budgets of one named caller or namespace ----------------------------------------------

  private static ProviderSpec.NamedBudget named(String name, Double monthly, Double daily) {
    ProviderSpec.NamedBudget budget = new ProviderSpec.NamedBudget();
    budget.name = name;
    budget.monthlyUsd = monthly;
    budget.dailyUsd = daily;
    return budget;
  }

  /**
   * Makes {@code calls} calls of {@code caller} at once, each costing $0.10 and held at the
   * upstream until every call is in flight or refused; returns how many were served.
   */
  private int servedOfParallelCalls(ProviderSpec.Limits limits, int calls, Caller caller)
      throws Exception {
    CountDownLatch decided = new CountDownLatch(calls);
    CountDownLatch release = new CountDownLatch(1);
    gateway.register(KEY, new PricedChat(100, decided, release), spec(limits));
    ExecutorService pool = Executors.newFixedThreadPool(calls);
    List<Future<ProviderResult>> results = new ArrayList<>();
    try {
      for (int i = 0; i < calls; i++) {
        results.add(
            pool.submit(
                () -> {
                  try {
                    return gateway.chat(KEY, request(), caller);
                  } catch (RefusedCallException e) {
                    decided.countDown();
                    throw e;
                  }
                }));
      }
      assertThat(decided.await(30, TimeUnit.SECONDS)).isTrue();
      release.countDown();
      int served = 0;
      for (Future<ProviderResult> result : results) {
        try {
          result.get(30, TimeUnit.SECONDS);
          served++;
        } catch (java.util.concurrent.ExecutionException e) {
          assertBudgetRefusal(e.getCause(), "caller " + caller.name());
        }
      }
      return served;
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
  }

  @Test
  void concurrentCallsCannotOverrunANamedCallersOwnDailyBudget() throws Exception {
    ProviderSpec.Limits limits = new ProviderSpec.Limits();
    limits.perCaller = budget(null, 0.2);
    limits.callers = List.of(named(BOT.name(), null, 0.5));

    assertThat(servedOfParallelCalls(limits, 20, BOT))
        .as("the named $0.50 buys five $0.10 calls, not the $0.20 of every other caller")
        .isEqualTo(5);
    assertThat(servedOfParallelCalls(limits, 20, OTHER_BOT))
        .as("every other caller keeps perCaller's $0.20")
        .isEqualTo(2);
  }

  @Test
  void aNamedNamespaceBudgetReplacesThePerNamespaceOneForThatNamespaceOnly() throws Exception {
    ProviderSpec.Limits limits = new ProviderSpec.Limits();
    limits.perNamespace = budget(0.1, null);
    limits.namespaces = List.of(named("team-a", 0.3, null));
    gateway.register(KEY, new PricedChat(100, null, null), spec(limits));

    gateway.chat(KEY, request(), BOT);
    gateway.chat(KEY, request(), OTHER_BOT);
    gateway.chat(KEY, request(), BOT);
    assertThatThrownBy(() -> gateway.chat(KEY, request(), OTHER_BOT))
        .satisfies(e -> assertBudgetRefusal(e, "namespace team-a", "monthly budget of $0.30"));
    gateway.chat(KEY, request(), TEAM_B);
    assertThatThrownBy(() -> gateway.chat(KEY, request(), TEAM_B))
        .satisfies(e -> assertBudgetRefusal(e, "namespace team-b", "monthly budget of $0.10"));
  }

  @Test
  void aNamedCallerWithNoAmountsIsExemptFromThePerCallerBudget() throws Exception {
    ProviderSpec.Limits limits = new ProviderSpec.Limits();
    limits.perCaller = budget(0.1, null);
    limits.callers = List.of(named(BOT.name(), null, null));
    gateway.register(KEY, new PricedChat(100, null, null), spec(limits));

    for (int i = 0; i < 3; i++) {
      gateway.chat(KEY, request(), BOT);
    }
    gateway.chat(KEY, request(), OTHER_BOT);
    assertThatThrownBy(() -> gateway.chat(KEY, request(), OTHER_BOT))
        .satisfies(e -> assertBudgetRefusal(e, "caller " + OTHER_BOT.name()));
  }

  @Test
  void aNamedCallerKeepsItsOwnAccountWhenTheOthersAreFull() throws Exception {
    Caller late = Caller.kubernetes("system:serviceaccount:team-z:late", null);
    ProviderSpec.Limits limits = new ProviderSpec.Limits();
    limits.callers = List.of(named(late.name(), 0.2, null));
    gateway.register(KEY, new PricedChat(100, null, null), spec(limits));
    for (int i = 0; i < SpendAccounts.MAX_ACCOUNTS; i++) {
      gateway.chat(KEY, request(), Caller.kubernetes("user-" + i, null));
    }
    gateway.chat(KEY, request(), Caller.kubernetes("one-too-many", null));

    gateway.chat(KEY, request(), late);
    gateway.chat(KEY, request(), late);
    assertThatThrownBy(() -> gateway.chat(KEY, request(), late))
        .satisfies(e -> assertBudgetRefusal(e, "caller " + late.name(), "$0.20"));
    List<String> names =
        ledger.status(KEY).orElseThrow().callers.stream().map(spend -> spend.name).toList();
    assertThat(names).contains(SpendAccounts.OTHER, late.name()).doesNotContain("one-too-many");
  }
}
