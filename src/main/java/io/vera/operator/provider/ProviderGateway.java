package io.vera.operator.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.provider.llm.OpenAiClient;
import io.vera.operator.provider.llm.TranscriptionRequest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The one way calls reach a provider: it enforces the Provider's limits (concurrency, requests and
 * tokens per minute, monthly budget) with a clear 429, makes the call, and records its usage in the
 * {@link UsageLedger} and in metrics. Clients are registered here by the Provider reconciler.
 */
public final class ProviderGateway {
  /** A ready client with the limits of its Provider. */
  private static final class Live {
    final ProviderClient client;
    final ProviderSpec spec;
    final Semaphore concurrency;
    final Meters meters;
    final Deque<Instant> recentRequests = new ArrayDeque<>();
    final Deque<Map.Entry<Instant, Long>> recentTokens = new ArrayDeque<>();

    Live(ProviderClient client, ProviderSpec spec, Meters meters) {
      this.client = client;
      this.spec = spec;
      this.meters = meters;
      Integer max = spec.limits == null ? null : spec.limits.maxConcurrency;
      this.concurrency = max == null ? null : new Semaphore(max, true);
    }
  }

  /** Latency histogram buckets, 50 ms to 5 min: 15 series per provider, not Micrometer's 69. */
  private static final Duration[] LATENCY_BUCKETS = {
    Duration.ofMillis(50),
    Duration.ofMillis(100),
    Duration.ofMillis(250),
    Duration.ofMillis(500),
    Duration.ofSeconds(1),
    Duration.ofSeconds(2),
    Duration.ofSeconds(4),
    Duration.ofSeconds(8),
    Duration.ofSeconds(15),
    Duration.ofSeconds(30),
    Duration.ofSeconds(45),
    Duration.ofSeconds(60),
    Duration.ofSeconds(90),
    Duration.ofSeconds(120),
    Duration.ofMinutes(5)
  };

  /** Time-to-first-token buckets, 50 ms to 60 s: 15 series per provider. */
  private static final Duration[] FIRST_TOKEN_BUCKETS = {
    Duration.ofMillis(50),
    Duration.ofMillis(100),
    Duration.ofMillis(200),
    Duration.ofMillis(300),
    Duration.ofMillis(500),
    Duration.ofMillis(750),
    Duration.ofSeconds(1),
    Duration.ofMillis(1500),
    Duration.ofSeconds(2),
    Duration.ofSeconds(3),
    Duration.ofSeconds(5),
    Duration.ofSeconds(10),
    Duration.ofSeconds(20),
    Duration.ofSeconds(30),
    Duration.ofSeconds(60)
  };

  /** One provider's meters. */
  private static final class Meters {
    final LazyMeter<Counter> succeeded;
    final LazyMeter<Counter> incomplete;
    final LazyMeter<Counter> failed;
    final LazyMeter<Timer> latency;
    final LazyMeter<Counter> inputTokens;
    final LazyMeter<Counter> cachedInputTokens;
    final LazyMeter<Counter> cacheWriteTokens;
    final LazyMeter<Counter> outputTokens;
    final LazyMeter<Counter> reasoningTokens;
    final LazyMeter<Counter> cost;
    final LazyMeter<Timer> timeToFirstToken;

    Meters(MeterRegistry metrics, ProviderKey key) {
      succeeded = requests(metrics, key, "succeeded");
      incomplete = requests(metrics, key, "incomplete");
      failed = requests(metrics, key, "failed");
      latency =
          new LazyMeter<>(
              () ->
                  Timer.builder("vera.provider.latency")
                      .description("Time a provider call took, to its last byte")
                      .tags(tags(key))
                      .serviceLevelObjectives(LATENCY_BUCKETS)
                      .register(metrics));
      inputTokens = tokens(metrics, key, "input");
      cachedInputTokens = tokens(metrics, key, "cached_input");
      cacheWriteTokens = tokens(metrics, key, "cache_write");
      outputTokens = tokens(metrics, key, "output");
      reasoningTokens = tokens(metrics, key, "reasoning");
      cost =
          new LazyMeter<>(
              () ->
                  Counter.builder("vera.provider.cost.usd")
                      .description("Spend on calls through a provider, in USD")
                      .tags(tags(key))
                      .register(metrics));
      timeToFirstToken =
          new LazyMeter<>(
              () ->
                  Timer.builder("vera.provider.time.to.first.token")
                      .description("Time from a streamed call's start to its first token")
                      .tags(tags(key))
                      .serviceLevelObjectives(FIRST_TOKEN_BUCKETS)
                      .register(metrics));
    }

    /**
     * The provider as {@code provider} ("namespace/name") and as separate {@code namespace} and
     * {@code name} labels.
     */
    static Tags tags(ProviderKey key) {
      return Tags.of("provider", key.toString(), "namespace", key.namespace(), "name", key.name());
    }

    private static LazyMeter<Counter> requests(
        MeterRegistry metrics, ProviderKey key, String outcome) {
      return new LazyMeter<>(
          () ->
              Counter.builder("vera.provider.requests")
                  .description("Calls through a provider by outcome")
                  .tags(tags(key))
                  .tag("outcome", outcome)
                  .register(metrics));
    }

    private static LazyMeter<Counter> tokens(MeterRegistry metrics, ProviderKey key, String type) {
      return new LazyMeter<>(
          () ->
              Counter.builder("vera.provider.tokens")
                  .description("Tokens of calls through a provider by type")
                  .tags(tags(key))
                  .tag("type", type)
                  .register(metrics));
    }
  }

  private static final Duration MINUTE = Duration.ofMinutes(1);

  private final UsageLedger ledger;
  private final MeterRegistry metrics;
  private final Clock clock;
  private final Map<ProviderKey, Live> live = new ConcurrentHashMap<>();
  private final GenAiMetrics genAi;
  private final ModelRoutes routes;

  public ProviderGateway(UsageLedger ledger, MeterRegistry metrics, Clock clock) {
    this.ledger = ledger;
    this.metrics = metrics;
    this.clock = clock;
    this.genAi = new GenAiMetrics(metrics);
    this.routes = new ModelRoutes(clock);
  }

  /** The routes the registered Providers declare, with their targets' health. */
  public ModelRoutes routes() {
    return routes;
  }

  /** Makes a provider callable (or replaces its client); the old client is closed. */
  public void register(ProviderKey key, ProviderClient client, ProviderSpec spec) {
    Live previous = live.put(key, new Live(client, spec, new Meters(metrics, key)));
    routes.declare(key, spec.routes);
    if (previous == null) {
      registerBudgetGauges(key);
    }
    if (previous != null && previous.client != client) {
      previous.client.close();
    }
  }

  /**
   * This month's spend and the monthly budget (NaN when none, so no alert fires) of a provider, for
   * the budget alerts. Read from the live registration, so a changed budget shows at once.
   */
  private void registerBudgetGauges(ProviderKey key) {
    Gauge.builder("vera.provider.month.cost.usd", () -> ledger.monthCost(key))
        .description("Spend through a provider in the current calendar month (UTC), in USD")
        .tags(Meters.tags(key))
        .register(metrics);
    Gauge.builder(
            "vera.provider.budget.monthly.usd",
            () ->
                Optional.ofNullable(live.get(key))
                    .map(l -> l.spec.limits)
                    .map(limits -> limits.monthlyBudgetUsd)
                    .orElse(Double.NaN))
        .description(
            "A provider's monthly budget (limits.monthlyBudgetUsd), in USD; NaN when unset")
        .tags(Meters.tags(key))
        .register(metrics);
  }

  void unregister(ProviderKey key) {
    routes.declare(key, null);
    Live previous = live.remove(key);
    if (previous != null) {
      previous.client.close();
    }
  }

  /** The ledger the calls are recorded in. */
  public UsageLedger ledger() {
    return ledger;
  }

  public boolean isRegistered(ProviderKey key) {
    return live.containsKey(key);
  }

  public Optional<ProviderSpec> spec(ProviderKey key) {
    return Optional.ofNullable(live.get(key)).map(l -> l.spec);
  }

  /** One call of a registered client. */
  @FunctionalInterface
  private interface Invocation {
    ProviderResult on(ProviderClient client) throws ProviderException;
  }

  /** What a call may cost at most, reserved against budgets before it is made. */
  @FunctionalInterface
  private interface Estimate {
    double of(ProviderClient client);
  }

  private static final Estimate NO_ESTIMATE = client -> 0;

  public ProviderResult call(ProviderKey key, ProviderRequest request) throws ProviderException {
    return invoke(
        key, request.model(), request.timeout(), null, NO_ESTIMATE, client -> client.call(request));
  }

  public ProviderResult stream(ProviderKey key, ProviderRequest request, Consumer<String> onChunk)
      throws ProviderException {
    return invoke(
        key,
        request.model(),
        request.timeout(),
        null,
        NO_ESTIMATE,
        client -> client.stream(request, onChunk));
  }

  /**
   * An OpenAI-shaped chat completion with an LLM Provider of any type, under the same limits and
   * ledger as every other call, attributed to {@code caller}, whose budgets apply too.
   */
  public ProviderResult chat(ProviderKey key, ChatRequest request, Caller caller)
      throws ProviderException {
    refuseUnpriced(key, request.model(), caller);
    return observeChat(
        key,
        request,
        invoke(
            key,
            request.model(),
            request.timeout(),
            caller,
            client -> estimate(key, client, request),
            client -> chatClient(key, client).chat(request)));
  }

  /** The streaming form of {@link #chat}; see {@link ChatCompletions#chatStream}. */
  public ProviderResult chatStream(
      ProviderKey key, ChatRequest request, Caller caller, Consumer<String> onChunk)
      throws ProviderException {
    refuseUnpriced(key, request.model(), caller);
    return observeChat(
        key,
        request,
        invoke(
            key,
            request.model(),
            request.timeout(),
            caller,
            client -> estimate(key, client, request),
            client -> chatClient(key, client).chatStream(request, onChunk)));
  }

  /**
   * What a chat call may cost at most, reserved against budgets before it is made: its {@link
   * ChatRequest#ceiling} priced for its model; 0 for a model with no price.
   */
  private double estimate(ProviderKey key, ProviderClient client, ChatRequest request) {
    if (!(client instanceof ChatCompletions chat)) {
      return 0;
    }
    ProviderSpec spec = spec(key).orElse(null);
    Integer defaultMax = spec == null || spec.defaults == null ? null : spec.defaults.maxTokens;
    Double cost = chat.cost(request.model(), request.ceiling(defaultMax));
    return cost == null ? 0 : cost;
  }

  private ProviderResult observeChat(ProviderKey key, ChatRequest request, ProviderResult result) {
    Live provider = live.get(key);
    genAi.chat(key, provider == null ? null : provider.spec.type, request.model(), result);
    return result;
  }

  /**
   * Refuses a call whose model has no price while the Provider has a budget, unless it allows
   * unpriced calls: its cost could not be counted, so the budget would not hold. Counted in {@code
   * vera.provider.unpriced.calls} either way.
   */
  private void refuseUnpriced(ProviderKey key, String model, Caller caller)
      throws ProviderException {
    Live provider = live.get(key);
    if (provider == null
        || !(provider.client instanceof ChatCompletions chat)
        || chat.prices(model)) {
      return;
    }
    ProviderSpec.Limits limits = provider.spec.limits;
    String budget = limits == null ? null : budgetOf(limits, caller);
    boolean refused = budget != null && !Boolean.TRUE.equals(limits.allowUnpricedCalls);
    unpriced(key, model, refused ? "refused" : "served");
    if (refused) {
      throw new RefusedCallException(
          400,
          RefusedCallException.Reason.MODEL_NOT_PRICED,
          String.format(
              "model '%s' has no price and provider %s has %s: price it in the Provider's"
                  + " spec.pricing or the pricing ConfigMap, or set"
                  + " spec.limits.allowUnpricedCalls",
              model, key.name(), budget));
    }
  }

  /** The first budget of {@code limits} that applies to a call of {@code caller}, or null. */
  private static String budgetOf(ProviderSpec.Limits limits, Caller caller) {
    if (limits.monthlyBudgetUsd != null) {
      return String.format("a monthly budget of $%.2f", limits.monthlyBudgetUsd);
    }
    if (limits.dailyBudgetUsd != null) {
      return String.format("a daily budget of $%.2f", limits.dailyBudgetUsd);
    }
    if (caller == null) {
      return null;
    }
    ProviderSpec.NamedBudget named = SpendAccounts.named(limits.callers, caller.name());
    if (named != null ? hasBudget(named) : hasBudget(limits.perCaller)) {
      return named != null ? "a budget for caller " + caller.name() : "a budget per caller";
    }
    if (caller.namespace().isEmpty()) {
      return null;
    }
    ProviderSpec.NamedBudget namespace = SpendAccounts.named(limits.namespaces, caller.namespace());
    if (namespace != null ? hasBudget(namespace) : hasBudget(limits.perNamespace)) {
      return namespace != null
          ? "a budget for namespace " + caller.namespace()
          : "a budget per namespace";
    }
    return null;
  }

  private static boolean hasBudget(ProviderSpec.Budget budget) {
    return budget != null && (budget.monthlyUsd != null || budget.dailyUsd != null);
  }

  private void unpriced(ProviderKey key, String model, String outcome) {
    Counter.builder("vera.provider.unpriced.calls")
        .description("Calls to a model with no price, served or refused")
        .tag("provider", key.toString())
        .tag("model", model == null ? "" : model)
        .tag("outcome", outcome)
        .register(metrics)
        .increment();
  }

  private static ChatCompletions chatClient(ProviderKey key, ProviderClient client)
      throws ProviderException {
    if (client instanceof ChatCompletions chat) {
      return chat;
    }
    throw new ProviderException(
        400,
        "provider "
            + key.name()
            + " is not an LLM provider; chat completions need OpenAI,"
            + " Anthropic or Gemini",
        false);
  }

  /**
   * OpenAI-shaped embeddings with an OpenAI, OpenAI-compatible or Gemini Provider, attributed to
   * {@code caller} under the same limits, budgets and ledger as chat; see {@link Embeddings}.
   */
  public ProviderResult embeddings(
      ProviderKey key, ObjectNode body, String model, Duration timeout, int retries, Caller caller)
      throws ProviderException {
    refuseUnpriced(key, model, caller);
    return invoke(
        key,
        model,
        timeout,
        caller,
        client -> {
          if (!(client instanceof ChatCompletions priced)) {
            return 0;
          }
          Double cost =
              priced.cost(
                  model, new TokenUsage(ChatRequest.textTokens(body.path("input")), 0, 0, 0, 0));
          return cost == null ? 0 : cost;
        },
        client -> {
          if (!(client instanceof Embeddings embeddings)) {
            throw new UnsupportedParamException(
                "model",
                "provider "
                    + key.name()
                    + " has no embeddings; use an OpenAI, OpenAI-compatible or Gemini Provider");
          }
          return embeddings.embeddings(body, model, timeout, retries);
        });
  }

  /**
   * OpenAI's audio transcriptions as a gateway caller sent them, attributed to {@code caller}; see
   * {@link OpenAiClient#transcription}. The audio's length is unknown before the call, so nothing
   * is reserved: budgets refuse transcriptions once spent, and count them after each call.
   */
  public ProviderResult transcription(
      ProviderKey key,
      byte[] audio,
      String fileName,
      String mediaType,
      String model,
      Map<String, List<String>> fields,
      Duration timeout,
      int retries,
      Caller caller)
      throws ProviderException {
    return invoke(
        key,
        model,
        timeout,
        caller,
        NO_ESTIMATE,
        client ->
            openAi(key, client, "audio transcriptions")
                .transcription(audio, fileName, mediaType, model, fields, timeout, retries));
  }

  private static OpenAiClient openAi(ProviderKey key, ProviderClient client, String what)
      throws ProviderException {
    if (client instanceof OpenAiClient openAi) {
      return openAi;
    }
    throw new UnsupportedParamException(
        "model",
        "provider "
            + key.name()
            + " has no "
            + what
            + " API in OpenAI's format; use an OpenAI or OpenAI-compatible Provider");
  }

  /**
   * Transcribes audio with an OpenAI or OpenAI-compatible Provider, under the same limits and
   * ledger as every other call.
   */
  public ProviderResult transcribe(ProviderKey key, TranscriptionRequest request)
      throws ProviderException {
    Duration timeout = request.timeout() == null ? Duration.ofMinutes(5) : request.timeout();
    return invoke(
        key,
        request.model(),
        timeout,
        null,
        NO_ESTIMATE,
        client -> {
          if (!(client instanceof OpenAiClient openAi)) {
            throw new ProviderException(
                422,
                "provider "
                    + key.name()
                    + " cannot transcribe audio; use an OpenAI or OpenAI-compatible Provider",
                false);
          }
          return openAi.transcribe(request);
        });
  }

  /**
   * Makes one call under the Provider's limits: reserves its {@code estimate} against every budget
   * that applies to the Provider and {@code caller} (null: the Provider's only), checks the rate
   * limits, takes a concurrency slot, calls, then settles the reservation with the exact cost and
   * records the call under {@code model} (null: the Provider's default model).
   */
  private ProviderResult invoke(
      ProviderKey key,
      String model,
      Duration timeout,
      Caller caller,
      Estimate estimate,
      Invocation invocation)
      throws ProviderException {
    Live provider = live.get(key);
    if (provider == null) {
      throw new ProviderException(
          404, "provider " + key.name() + " is not configured or not ready", false);
    }
    SpendAccounts.Reservation reservation =
        ledger
            .accounts(key)
            .reserve(
                key.name(),
                provider.spec.limits,
                caller,
                estimate.of(provider.client),
                clock.instant());
    try {
      admit(key, provider);
    } catch (ProviderException e) {
      reservation.release();
      throw e;
    }
    boolean acquired = false;
    long started = System.nanoTime();
    ProviderResult result = null;
    try {
      if (provider.concurrency != null) {
        acquired =
            provider.concurrency.tryAcquire(
                Math.min(timeout.toMillis(), 5000), TimeUnit.MILLISECONDS);
        if (!acquired) {
          throw new ProviderException(
              429,
              "provider "
                  + key.name()
                  + " is at its limit of "
                  + provider.spec.limits.maxConcurrency
                  + " concurrent calls",
              true,
              Duration.ofSeconds(1),
              null);
        }
      }
      result = invocation.on(provider.client);
      return result;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ProviderException(503, "interrupted while waiting for a free call slot", true);
    } finally {
      if (acquired) {
        provider.concurrency.release();
      }
      double latencyMs = result != null ? result.latencyMs() : (System.nanoTime() - started) / 1e6;
      double cost = result == null || result.costUsd() == null ? 0 : result.costUsd();
      reservation.settle(cost, clock.instant());
      ledger.record(key, model != null ? model : defaultModel(provider.spec), result, latencyMs);
      if (caller != null) {
        genAi.caller(caller, cost);
      }
      observe(provider, result, latencyMs);
    }
  }

  private static String defaultModel(ProviderSpec spec) {
    return spec.defaults == null ? null : spec.defaults.model;
  }

  /**
   * Why a call to a provider would be refused right now by its monthly budget or its rate limits,
   * without taking a place in them: for people looking at the queue (why tasks for it wait). Empty
   * when a call would be let through, or the provider is unknown.
   */
  public Optional<String> hold(ProviderKey key) {
    Live provider = live.get(key);
    ProviderSpec.Limits limits = provider == null ? null : provider.spec.limits;
    if (limits == null) {
      return Optional.empty();
    }
    if (limits.monthlyBudgetUsd != null && ledger.monthCost(key) >= limits.monthlyBudgetUsd) {
      return Optional.of(
          String.format(
              Locale.ROOT,
              "budget: provider %s has spent its monthly budget of $%.2f",
              key.name(),
              limits.monthlyBudgetUsd));
    }
    Instant windowStart = clock.instant().minus(MINUTE);
    synchronized (provider) {
      long requests =
          provider.recentRequests.stream().filter(t -> !t.isBefore(windowStart)).count();
      if (limits.requestsPerMinute != null && requests >= limits.requestsPerMinute) {
        return Optional.of(
            "rate limit: provider "
                + key.name()
                + " made its "
                + limits.requestsPerMinute
                + " requests of the last minute");
      }
      long tokens =
          provider.recentTokens.stream()
              .filter(e -> !e.getKey().isBefore(windowStart))
              .mapToLong(Map.Entry::getValue)
              .sum();
      if (limits.tokensPerMinute != null && tokens >= limits.tokensPerMinute) {
        return Optional.of(
            "rate limit: provider "
                + key.name()
                + " used its "
                + limits.tokensPerMinute
                + " tokens of the last minute");
      }
    }
    return Optional.empty();
  }

  /** Refuses a call the Provider's rate limits do not allow. */
  private void admit(ProviderKey key, Live provider) throws ProviderException {
    ProviderSpec.Limits limits = provider.spec.limits;
    if (limits == null) {
      return;
    }
    Instant now = clock.instant();
    synchronized (provider) {
      Instant windowStart = now.minus(MINUTE);
      while (!provider.recentRequests.isEmpty()
          && provider.recentRequests.peekFirst().isBefore(windowStart)) {
        provider.recentRequests.pollFirst();
      }
      while (!provider.recentTokens.isEmpty()
          && provider.recentTokens.peekFirst().getKey().isBefore(windowStart)) {
        provider.recentTokens.pollFirst();
      }
      if (limits.requestsPerMinute != null
          && provider.recentRequests.size() >= limits.requestsPerMinute) {
        Duration wait = Duration.between(windowStart, provider.recentRequests.peekFirst());
        throw new ProviderException(
            429,
            "provider "
                + key.name()
                + " is at its limit of "
                + limits.requestsPerMinute
                + " requests per minute",
            true,
            wait,
            null);
      }
      long tokens = provider.recentTokens.stream().mapToLong(Map.Entry::getValue).sum();
      if (limits.tokensPerMinute != null && tokens >= limits.tokensPerMinute) {
        Duration wait = Duration.between(windowStart, provider.recentTokens.peekFirst().getKey());
        throw new ProviderException(
            429,
            "provider "
                + key.name()
                + " used its "
                + limits.tokensPerMinute
                + " tokens for this minute",
            true,
            wait,
            null);
      }
      provider.recentRequests.addLast(now);
    }
  }

  private void observe(Live provider, ProviderResult result, double latencyMs) {
    Meters meters = provider.meters;
    LazyMeter<Counter> outcome =
        result == null ? meters.failed : result.complete() ? meters.succeeded : meters.incomplete;
    outcome.get().increment();
    meters.latency.get().record((long) (latencyMs * 1e6), TimeUnit.NANOSECONDS);
    if (result == null) {
      return;
    }
    TokenUsage usage = result.usage();
    // Only a tokens-per-minute limit reads this window; without one, calls need not meet here.
    if (provider.spec.limits != null && provider.spec.limits.tokensPerMinute != null) {
      synchronized (provider) {
        provider.recentTokens.addLast(Map.entry(clock.instant(), usage.totalTokens()));
      }
    }
    count(
        meters.inputTokens,
        usage.inputTokens() - usage.cachedInputTokens() - usage.cacheWriteTokens());
    count(meters.cachedInputTokens, usage.cachedInputTokens());
    count(meters.cacheWriteTokens, usage.cacheWriteTokens());
    count(meters.outputTokens, usage.outputTokens() - usage.reasoningTokens());
    count(meters.reasoningTokens, usage.reasoningTokens());
    if (result.costUsd() != null) {
      meters.cost.get().increment(result.costUsd());
    }
    if (result.timeToFirstTokenMs() != null) {
      meters
          .timeToFirstToken
          .get()
          .record(Duration.ofNanos(Math.round(result.timeToFirstTokenMs() * 1_000_000)));
    }
  }

  private static void count(LazyMeter<Counter> counter, long count) {
    if (count > 0) {
      counter.get().increment(count);
    }
  }
}
