package io.vera.operator.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.api.TaskType;
import io.vera.operator.task.PoolKey;
import io.vera.operator.task.PoolRegistry;
import io.vera.operator.task.PoolSettings;
import io.vera.operator.task.TaskAdmission;
import io.vera.operator.task.TaskError;
import io.vera.operator.task.TaskLeases;
import io.vera.operator.task.TaskSnapshot;
import io.vera.operator.task.TaskUsage;
import io.vera.operator.worker.Attempt;
import io.vera.operator.worker.AttemptBody;
import io.vera.operator.worker.AttemptFailure;
import io.vera.operator.worker.AttemptLoop;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Runs VeraTasks with a {@code providerRef}. Each callable Provider gets its own dispatcher queue
 * ({@link PoolKey#ofProvider}) served by worker threads inside the operator, because only the
 * operator holds the Provider's credentials and its {@link ProviderGateway} (limits, budget, usage
 * ledger); a task call is therefore limited and recorded exactly like a REST call. A queue per
 * Provider keeps one slow or rate-limited upstream from holding up calls to the others.
 *
 * <p>Concurrency: as many threads as the Provider's {@code limits.maxConcurrency}, else {@link
 * #DEFAULT_CONCURRENCY}, at most {@link #MAX_CONCURRENCY}. The queue orders by priority then
 * creation like every other queue; timeout, retries and cancel come from the dispatcher. A revoked
 * attempt (timeout, cancel, deletion) has its HTTP calls cancelled through {@link
 * CallCancellation}. The client itself does not retry: 429 (rate limit, budget) and 5xx failures
 * are retried by the task's own policy, waiting at least the upstream's Retry-After; other 4xx
 * answers fail the task at once.
 *
 * <p>A task whose {@code params} say {@code "stream": true} is made as a streamed call, and reports
 * about how many tokens arrived so far as its progress while the stream runs ({@link
 * StreamProgress}); its result is the same as a whole answer's.
 */
public final class ProviderTaskWorkers implements AutoCloseable {
  static final int DEFAULT_CONCURRENCY = 4;
  static final int MAX_CONCURRENCY = 64;
  private static final Duration LEASE_WAIT = Duration.ofSeconds(1);
  private static final int LEASE_SECONDS = 60;
  private static final Duration BACKSTOP = Duration.ofSeconds(2);
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private final PoolRegistry pools;
  private final TaskLeases leases;
  private final ProviderGateway gateway;
  private final Clock clock;
  private final Map<ProviderKey, Served> served = new ConcurrentHashMap<>();

  /**
   * @param dispatcher where each Provider's queue is registered and leased from
   */
  public <D extends PoolRegistry & TaskLeases> ProviderTaskWorkers(
      D dispatcher, ProviderGateway gateway, Clock clock) {
    this.pools = dispatcher;
    this.leases = dispatcher;
    this.gateway = gateway;
    this.clock = clock;
  }

  /** One Provider's queue, its threads, and why it cannot take calls now (null when Ready). */
  private final class Served {
    final ProviderKey key;
    final PoolKey queue;
    final List<AttemptLoop> workers = new ArrayList<>();
    volatile String notReady;

    Served(ProviderKey key) {
      this.key = key;
      this.queue = PoolKey.ofProvider(key.namespace(), key.name());
    }
  }

  /**
   * The Provider takes calls (or will once Ready): its queue exists and has its threads.
   *
   * @param notReady why it is not Ready (attempts fail with this, retryably), or null when Ready
   */
  public synchronized void serve(ProviderKey key, ProviderSpec spec, String notReady) {
    Served s = served.computeIfAbsent(key, Served::new);
    s.notReady = notReady;
    pools.upsertPool(s.queue, new PoolSettings(TaskType.LLM, false, null, LEASE_SECONDS), 0, 0);
    int want = concurrency(spec);
    while (s.workers.size() < want) {
      AttemptLoop worker = worker(s, s.workers.size());
      s.workers.add(worker);
      worker.start();
    }
    while (s.workers.size() > want) {
      s.workers.remove(s.workers.size() - 1).stop(false);
    }
  }

  /** The Provider is gone or takes no calls: its threads stop and its queue goes. */
  public synchronized void stop(ProviderKey key) {
    Served s = served.remove(key);
    if (s != null) {
      s.workers.forEach(w -> w.stop(true));
      pools.removePool(s.queue);
    }
  }

  @Override
  public synchronized void close() {
    for (Served s : served.values()) {
      s.workers.forEach(w -> w.stop(true));
    }
    served.clear();
  }

  static int concurrency(ProviderSpec spec) {
    Integer max = spec.limits == null ? null : spec.limits.maxConcurrency;
    return max == null ? DEFAULT_CONCURRENCY : Math.max(1, Math.min(MAX_CONCURRENCY, max));
  }

  /** One thread of a Provider's queue. */
  private AttemptLoop worker(Served s, int index) {
    String suffix = s.key.name() + "-" + (index + 1);
    return new AttemptLoop(
        TaskLeases.EMBEDDED_WORKER_PREFIX + "provider/" + suffix,
        "provider-worker-" + suffix,
        leases,
        (workerId, onRevoke) -> leases.lease(s.queue, workerId, LEASE_WAIT, () -> 0.0, onRevoke),
        attempt -> call(s, attempt));
  }

  /**
   * Makes the task's call; a revoked attempt has its HTTP calls cancelled and reports nothing (the
   * dispatcher already recorded why: timeout, cancel).
   */
  private AttemptBody.Result call(Served s, Attempt attempt)
      throws AttemptFailure, InterruptedException {
    String notReady = s.notReady;
    if (notReady != null) {
      throw new AttemptFailure(
          new TaskError(
              TaskError.PROVIDER_UNAVAILABLE,
              "Provider " + s.key.name() + " is not Ready: " + notReady),
          true);
    }
    CallCancellation calls = new CallCancellation();
    attempt.onRevoke(calls::cancel);
    // The dispatcher's deadline ends the attempt (revoking it cancels the call); the client's
    // own timeout is only a backstop a little later, so a timeout is always reported as one.
    ProviderRequest request = request(attempt.task(), attempt.timeLeft(clock).plus(BACKSTOP));
    boolean stream = attempt.task().payload().path("params").path("stream").asBoolean(false);
    ProviderResult result;
    try {
      result =
          calls.run(
              () ->
                  stream
                      ? gateway.stream(
                          s.key,
                          request,
                          new StreamProgress(maxTokens(s.key, request), attempt::progress))
                      : gateway.call(s.key, request));
    } catch (ProviderException e) {
      if (Thread.currentThread().isInterrupted()) {
        throw new InterruptedException("revoked");
      }
      throw failure(s, e);
    }
    return new AttemptBody.Result(output(result), usage(result));
  }

  private AttemptFailure failure(Served s, ProviderException e) {
    boolean unavailable = e.status() == 404 && !gateway.isRegistered(s.key);
    boolean retryable = unavailable || e.status() == 429 || e.status() >= 500 || e.retryable();
    return new AttemptFailure(
        new TaskError(
            unavailable ? TaskError.PROVIDER_UNAVAILABLE : TaskError.PROVIDER_ERROR,
            "Provider " + s.key.name() + " (HTTP " + e.status() + "): " + e.getMessage()),
        retryable,
        e.retryAfter());
  }

  /** The output token limit of a call: its {@code max_tokens}, else the Provider's default. */
  private Integer maxTokens(ProviderKey key, ProviderRequest request) {
    for (String name : new String[] {"max_tokens", "max_completion_tokens"}) {
      if (request.params().path(name).canConvertToInt()) {
        return request.params().path(name).asInt();
      }
    }
    return gateway
        .spec(key)
        .map(spec -> spec.defaults == null ? null : spec.defaults.maxTokens)
        .orElse(null);
  }

  /**
   * The gateway request a task's payload stands for; the task's retries replace the client's. A
   * {@code stream} param says how to call, so it is not passed on.
   */
  static ProviderRequest request(TaskSnapshot task, Duration timeout) {
    JsonNode target = task.payload();
    JsonNode input = target.path("input");
    JsonNode params = target.path("params");
    if (params.has("stream")) {
      params = ((ObjectNode) params).deepCopy().without("stream");
    }
    JsonNode args = input.path("args");
    JsonNode kwargs = input.path("kwargs");
    if (!kwargs.isObject() && input.isObject() && !input.has("args")) {
      kwargs = input;
    }
    return new ProviderRequest(
        target.path("task_name").asText(TaskAdmission.PROVIDER_CALL_HANDLER),
        target.path("prompt").asText(null),
        target.path("model").asText(null),
        params.isObject() ? params : MAPPER.createObjectNode(),
        args.isArray() ? args : MAPPER.createArrayNode(),
        kwargs.isObject() ? kwargs : MAPPER.createObjectNode(),
        timeout,
        0);
  }

  /** The task's result: what the provider answered and this call's usage. */
  static JsonNode output(ProviderResult result) {
    ObjectNode out = MAPPER.createObjectNode();
    out.set("output", result.output());
    out.put("model", result.model());
    out.put("complete", result.complete());
    ObjectNode usage = out.putObject("usage");
    TokenUsage tokens = result.usage();
    usage.put("tokens_in", tokens.inputTokens());
    usage.put("tokens_out", tokens.outputTokens());
    usage.put("cached_tokens", tokens.cachedInputTokens());
    usage.put("cache_write_tokens", tokens.cacheWriteTokens());
    usage.put("reasoning_tokens", tokens.reasoningTokens());
    if (result.costUsd() == null) {
      usage.putNull("cost_usd");
    } else {
      usage.put("cost_usd", result.costUsd());
    }
    usage.put("latency_ms", result.latencyMs());
    return out;
  }

  static TaskUsage usage(ProviderResult result) {
    return new TaskUsage(
        result.usage().inputTokens(),
        result.usage().outputTokens(),
        result.costUsd(),
        result.latencyMs());
  }
}
