package io.vera.operator.provider;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.vera.operator.api.ProviderSpec;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

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

  private final MeterRegistry metrics;
  private final Set<String> callerLabels = ConcurrentHashMap.newKeySet();
  private final Set<String> namespaceLabels = ConcurrentHashMap.newKeySet();

  GenAiMetrics(MeterRegistry metrics) {
    this.metrics = metrics;
  }

  /**
   * Records one attributed gateway call: {@code vera_gateway_caller_requests_total} and {@code
   * vera_gateway_caller_cost_usd_total} by {@code caller} and {@code caller_namespace}.
   */
  void caller(Caller caller, double cost) {
    Tags tags =
        Tags.of(
            "caller",
            bounded(callerLabels, caller.name()),
            "caller_namespace",
            bounded(namespaceLabels, caller.namespace()));
    Counter.builder("vera.gateway.caller.requests")
        .description("Gateway calls by caller")
        .tags(tags)
        .register(metrics)
        .increment();
    if (cost > 0) {
      Counter.builder("vera.gateway.caller.cost.usd")
          .description("Spend of gateway calls by caller, in USD")
          .tags(tags)
          .register(metrics)
          .increment(cost);
    }
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
    String provider = providerName(type);
    String requestModel = model == null ? "" : model;
    tokens(provider, requestModel, "input", result.usage().inputTokens());
    tokens(provider, requestModel, "output", result.usage().outputTokens());
    Timer.builder("gen_ai.client.operation.duration")
        .description("GenAI operation duration")
        .tag("gen_ai.operation.name", "chat")
        .tag("gen_ai.provider.name", provider)
        .tag("gen_ai.request.model", requestModel)
        .serviceLevelObjectives(DURATION_BUCKETS)
        .register(metrics)
        .record(Duration.ofNanos((long) (result.latencyMs() * 1e6)));
    if (result.timeToFirstTokenMs() != null) {
      Timer.builder("gen_ai.client.operation.time_to_first_chunk")
          .description("Time from the request to the first chunk of a streamed answer")
          .tag("gen_ai.operation.name", "chat")
          .tag("gen_ai.provider.name", provider)
          .tag("gen_ai.request.model", requestModel)
          .serviceLevelObjectives(DURATION_BUCKETS)
          .register(metrics)
          .record(Duration.ofNanos((long) (result.timeToFirstTokenMs() * 1e6)));
    }
    if (result.costUsd() != null) {
      Counter.builder("vera.gateway.cost.usd")
          .description("Spend of OpenAI-compatible gateway calls")
          .tag("provider", key.name())
          .tag("namespace", key.namespace())
          .tag("model", requestModel)
          .register(metrics)
          .increment(result.costUsd());
    }
  }

  private void tokens(String provider, String model, String type, long count) {
    DistributionSummary.builder("gen_ai.client.token.usage")
        .description("Number of input and output tokens used")
        .tag("gen_ai.operation.name", "chat")
        .tag("gen_ai.provider.name", provider)
        .tag("gen_ai.request.model", model)
        .tag("gen_ai.token.type", type)
        .serviceLevelObjectives(TOKEN_BUCKETS)
        .register(metrics)
        .record(count);
  }
}
