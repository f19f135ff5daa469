package io.vera.operator.provider;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.vera.operator.api.ProviderSpec;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * The OpenTelemetry GenAI client metrics of the OpenAI-compatible gateway's calls, so dashboards
 * built for the semantic conventions read Vera as they read any instrumented client: {@code
 * gen_ai.client.token.usage} (by {@code gen_ai.token.type} input/output), {@code
 * gen_ai.client.operation.duration} and the time to the first chunk of a stream, each tagged with
 * {@code gen_ai.operation.name}, {@code gen_ai.provider.name} and {@code gen_ai.request.model},
 * plus Vera's cost counter by provider, namespace and model.
 *
 * <p>Buckets follow the conventions' advice, 14 per histogram rather than Micrometer's 69
 * percentile buckets: tokens in powers of 4 from 1 to 67M, durations doubling from 10 ms to 82 s.
 * Only answered calls are recorded: a failed call's model may be any string a caller sent, which
 * would make series without bound.
 */
final class GenAiMetrics {
  private static final double[] TOKEN_BUCKETS = {
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864
  };
  private static final Duration[] DURATION_BUCKETS = new Duration[14];

  static {
    for (int i = 0; i < DURATION_BUCKETS.length; i++) {
      DURATION_BUCKETS[i] = Duration.ofMillis(10L << i);
    }
  }

  /**
   * Most distinct callers, and caller namespaces, given their own label value; later ones are
   * counted as {@value #OTHER}, so a cluster with thousands of ServiceAccounts cannot grow the
   * series without bound. The ledger and {@code /orchestrator/external/spend} have every caller.
   */
  static final int MAX_CALLER_LABELS = 100;

  static final String OTHER = "other";

  /**
   * Most series whose meters are kept in hand (by provider and model, by caller); calls of any
   * further series look their meters up in the registry each time, as all calls once did.
   */
  static final int MAX_KEPT_SERIES = 10_000;

  private final MeterRegistry metrics;
  private final Set<String> callerLabels = ConcurrentHashMap.newKeySet();
  private final Set<String> namespaceLabels = ConcurrentHashMap.newKeySet();

  /**
   * Meters kept by series: finding a histogram's meter in the registry (its id, tags and bucket
   * configuration built anew) cost more per call than recording into it.
   */
  private final Map<ChatSeries, ChatMeters> chats = new ConcurrentHashMap<>();

  private final Map<CallerSeries, CallerMeters> callers = new ConcurrentHashMap<>();

  GenAiMetrics(MeterRegistry metrics) {
    this.metrics = metrics;
  }

  /**
   * Records one attributed gateway call: {@code vera_gateway_caller_requests_total} and {@code
   * vera_gateway_caller_cost_usd_total} by {@code caller} and {@code caller_namespace}.
   */
  void caller(Caller caller, double cost) {
    CallerSeries series =
        new CallerSeries(
            bounded(callerLabels, caller.name()), bounded(namespaceLabels, caller.namespace()));
    CallerMeters meters = kept(callers, series, CallerMeters::new);
    meters.requests.increment();
    if (cost > 0) {
      meters.cost.get().increment(cost);
    }
  }

  private record CallerSeries(String caller, String namespace) {}

  private final class CallerMeters {
    final Counter requests;
    final LazyMeter<Counter> cost;

    CallerMeters(CallerSeries series) {
      Tags tags = Tags.of("caller", series.caller(), "caller_namespace", series.namespace());
      requests =
          Counter.builder("vera.gateway.caller.requests")
              .description("Gateway calls by caller")
              .tags(tags)
              .register(metrics);
      cost =
          new LazyMeter<>(
              () ->
                  Counter.builder("vera.gateway.caller.cost.usd")
                      .description("Spend of gateway calls by caller, in USD")
                      .tags(tags)
                      .register(metrics));
    }
  }

  /** The meters kept for {@code series}, or new ones (kept while fewer than the cap are). */
  private static <K, M> M kept(Map<K, M> kept, K series, Function<K, M> create) {
    M meters = kept.get(series);
    if (meters != null) {
      return meters;
    }
    meters = create.apply(series);
    if (kept.size() < MAX_KEPT_SERIES) {
      M raced = kept.putIfAbsent(series, meters);
      return raced != null ? raced : meters;
    }
    return meters;
  }

  private static String bounded(Set<String> seen, String value) {
    if (seen.contains(value)) {
      return value;
    }
    synchronized (seen) {
      if (seen.size() < MAX_CALLER_LABELS) {
        seen.add(value);
        return value;
      }
    }
    return seen.contains(value) ? value : OTHER;
  }

  /** The conventions' provider name for a Provider type. */
  static String providerName(ProviderSpec.Type type) {
    if (type == null) {
      return "unknown";
    }
    return switch (type) {
      case OpenAI -> "openai";
      case Anthropic -> "anthropic";
      case Gemini -> "gcp.gemini";
      default -> type.name().toLowerCase(java.util.Locale.ROOT);
    };
  }

  /** Records one answered chat call. */
  void chat(ProviderKey key, ProviderSpec.Type type, String model, ProviderResult result) {
    ChatMeters meters =
        kept(
            chats,
            new ChatSeries(key, providerName(type), model == null ? "" : model),
            ChatMeters::new);
    meters.inputTokens.record(result.usage().inputTokens());
    meters.outputTokens.record(result.usage().outputTokens());
    meters.duration.record(Duration.ofNanos((long) (result.latencyMs() * 1e6)));
    if (result.timeToFirstTokenMs() != null) {
      meters.firstChunk.get().record(Duration.ofNanos((long) (result.timeToFirstTokenMs() * 1e6)));
    }
    if (result.costUsd() != null) {
      meters.cost.get().increment(result.costUsd());
    }
  }

  private record ChatSeries(ProviderKey key, String provider, String model) {}

  /** One series' meters; the time to the first chunk and the cost only once they are recorded. */
  private final class ChatMeters {
    final DistributionSummary inputTokens;
    final DistributionSummary outputTokens;
    final Timer duration;
    final LazyMeter<Timer> firstChunk;
    final LazyMeter<Counter> cost;

    ChatMeters(ChatSeries series) {
      inputTokens = tokens(series, "input");
      outputTokens = tokens(series, "output");
      duration = timer("gen_ai.client.operation.duration", "GenAI operation duration", series);
      firstChunk =
          new LazyMeter<>(
              () ->
                  timer(
                      "gen_ai.client.operation.time_to_first_chunk",
                      "Time from the request to the first chunk of a streamed answer",
                      series));
      cost =
          new LazyMeter<>(
              () ->
                  Counter.builder("vera.gateway.cost.usd")
                      .description("Spend of OpenAI-compatible gateway calls")
                      .tag("provider", series.key().name())
                      .tag("namespace", series.key().namespace())
                      .tag("model", series.model())
                      .register(metrics));
    }

    private Timer timer(String name, String description, ChatSeries series) {
      return Timer.builder(name)
          .description(description)
          .tag("gen_ai.operation.name", "chat")
          .tag("gen_ai.provider.name", series.provider())
          .tag("gen_ai.request.model", series.model())
          .serviceLevelObjectives(DURATION_BUCKETS)
          .register(metrics);
    }

    private DistributionSummary tokens(ChatSeries series, String type) {
      return DistributionSummary.builder("gen_ai.client.token.usage")
          .description("Number of input and output tokens used")
          .tag("gen_ai.operation.name", "chat")
          .tag("gen_ai.provider.name", series.provider())
          .tag("gen_ai.request.model", series.model())
          .tag("gen_ai.token.type", type)
          .serviceLevelObjectives(TOKEN_BUCKETS)
          .register(metrics);
    }
  }
}
