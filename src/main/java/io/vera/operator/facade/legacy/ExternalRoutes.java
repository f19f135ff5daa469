package io.vera.operator.facade.legacy;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Condition;
import io.javalin.Javalin;
import io.javalin.http.ContentType;
import io.javalin.http.Context;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.facade.ApiException;
import io.vera.operator.facade.JsonBody;
import io.vera.operator.facade.QueryParams;
import io.vera.operator.facade.legacy.LegacyProviders.Legacy;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderGateway;
import io.vera.operator.provider.ProviderKey;
import io.vera.operator.provider.ProviderReconciler;
import io.vera.operator.provider.ProviderRequest;
import io.vera.operator.provider.ProviderResult;
import io.vera.operator.provider.UsageLedger;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * The legacy external router, {@code /orchestrator/external}: provider calls through the {@link
 * ProviderGateway} (so limits, budget and usage accounting always apply), with each response
 * carrying that request's own tokens, cost and latency. Keys given to {@code initialize} go into
 * Secrets and are never echoed.
 */
final class ExternalRoutes {
  static final String BASE = "/orchestrator/external";

  /** How long {@code initialize} waits for its Providers to serve calls. */
  static final Duration INITIALIZE_WAIT = Duration.ofSeconds(20);

  /** How much longer it waits, once a Provider serves calls, for its first probe to report. */
  static final Duration PROBE_GRACE = Duration.ofSeconds(2);

  /** Ready reasons of a Provider that no call can succeed with until its spec or Secret change. */
  private static final Set<String> UNUSABLE = Set.of("InvalidSpec", "CredentialsMissing");

  private final LegacyProviders providers;
  private final ProviderGateway gateway;
  private final UsageLedger ledger;

  /**
   * The key each name asked for resolved to, while that Provider is registered: every call names
   * its provider, and this spares each one the name checks. At most two names (legacy and resource)
   * per registered Provider; an entry goes when its Provider is no longer registered.
   */
  private final Map<String, ProviderKey> registeredKeys = new ConcurrentHashMap<>();

  ExternalRoutes(LegacyProviders providers, ProviderGateway gateway, UsageLedger ledger) {
    this.providers = providers;
    this.gateway = gateway;
    this.ledger = ledger;
  }

  /** Registers the routes, the calls first: they are the ones served under load. */
  void register(Javalin app) {
    app.post(BASE + "/execute", this::execute);
    app.post(BASE + "/execute/stream", this::executeStream);
    app.post(BASE + "/initialize", this::initialize);
    app.post(BASE + "/llm/complete", this::llmComplete);
    app.get(BASE + "/providers", this::listProviders);
    app.get(BASE + "/providers/{provider}/status", this::providerStatus);
    app.get(BASE + "/stats", this::allStats);
    app.get(BASE + "/stats/cost/summary", this::costSummary);
    app.get(BASE + "/stats/tokens/summary", this::tokenSummary);
    app.get(BASE + "/stats/{provider}", this::providerStats);
    app.get(BASE + "/health", this::health);
  }

  // ---- configuration -------------------------------------------------------------------------

  /**
   * Configures each named provider, then answers once every one of them serves calls with the
   * client built from this request (or has definitely failed, 422, or did not get there within
   * {@link #INITIALIZE_WAIT}, 504), with each one's first probe under {@code providers} when it
   * finished within {@link #PROBE_GRACE} of that.
   */
  private void initialize(Context ctx) throws InterruptedException {
    JsonBody body = JsonBody.of(ctx);
    List<String> initialized = new ArrayList<>();
    Map<Legacy, Provider> configured = new LinkedHashMap<>();
    for (Legacy legacy : Legacy.values()) {
      if (!body.has(legacy.legacyName)) {
        continue;
      }
      JsonBody config = body.nested(legacy.legacyName);
      Map<String, String> secret = new LinkedHashMap<>();
      ProviderSpec spec = new ProviderSpec();
      switch (legacy) {
        case AWS_LAMBDA -> {
          secret.put("accessKeyId", config.requireString("access_key", 256));
          secret.put("secretAccessKey", config.requireString("secret_key", 256));
          String session = config.string("session_token", null, 4096);
          if (session != null) {
            secret.put("sessionToken", session);
          }
          spec.region = config.string("region", "us-east-1", 64);
        }
        case HTTP_ENDPOINT -> {
          String apiKey = config.string("api_key", null, 4096);
          if (apiKey != null) {
            secret.put("apiKey", apiKey);
          }
          ProviderSpec.HttpEndpoint endpoint = new ProviderSpec.HttpEndpoint();
          endpoint.name = config.string("name", "default", 253);
          endpoint.url = url(config.requireString("url", 2048), legacy.legacyName + ".url");
          endpoint.method = config.string("method", "POST", 10);
          endpoint.headers = config.stringMap("headers", 50);
          spec.http = List.of(endpoint);
        }
        default -> {
          secret.put("apiKey", config.requireString("api_key", 4096));
          String baseUrl = config.string("base_url", null, 2048);
          if (baseUrl != null) {
            spec.endpoint = url(baseUrl, legacy.legacyName + ".base_url");
          }
        }
      }
      configured.put(legacy, providers.configure(legacy, secret, spec));
      initialized.add(legacy.legacyName);
    }
    if (initialized.isEmpty()) {
      throw ApiException.invalid(
          "name at least one provider to initialize: openai, anthropic, google, aws_lambda, runpod, http_endpoint");
    }
    Map<String, ExternalAnswers.Readiness> readiness = new LinkedHashMap<>();
    long until = System.nanoTime() + INITIALIZE_WAIT.toNanos();
    for (Map.Entry<Legacy, Provider> e : configured.entrySet()) {
      readiness.put(e.getKey().legacyName, awaitServing(e.getKey(), e.getValue(), until));
    }
    ctx.json(new ExternalAnswers.Initialized(initialized, readiness));
  }

  /**
   * Waits until the gateway serves the Provider with the client built from {@code stored} (its
   * Secret name is new on every initialize, so it tells the clients apart), then a little longer
   * for that client's first probe; refuses when the Provider cannot be used at all.
   */
  private ExternalAnswers.Readiness awaitServing(Legacy legacy, Provider stored, long untilNanos)
      throws InterruptedException {
    ProviderKey key = ProviderReconciler.key(stored);
    String secret = stored.getSpec().credentialsSecretRef.name;
    long generation = stored.getMetadata().getGeneration();
    long probeUntil = Long.MAX_VALUE;
    while (true) {
      boolean serving =
          gateway
              .spec(key)
              .map(
                  s -> s.credentialsSecretRef != null && secret.equals(s.credentialsSecretRef.name))
              .orElse(false);
      Optional<Condition> probed =
          providers
              .find(legacy.resourceName)
              .filter(
                  p ->
                      p.getStatus() != null
                          && p.getStatus().observedGeneration != null
                          && p.getStatus().observedGeneration >= generation)
              .flatMap(
                  p ->
                      p.getStatus().conditions.stream()
                          .filter(c -> "Ready".equals(c.getType()))
                          .findFirst());
      if (!serving && probed.isPresent() && UNUSABLE.contains(probed.get().getReason())) {
        throw ApiException.invalid(
            "provider " + legacy.legacyName + " cannot be used: " + probed.get().getMessage());
      }
      long now = System.nanoTime();
      if (serving && probeUntil == Long.MAX_VALUE) {
        probeUntil = now + PROBE_GRACE.toNanos();
      }
      boolean timeUp = now >= untilNanos;
      if (serving && (probed.isPresent() || timeUp || now >= probeUntil)) {
        return probed
            .map(c -> new ExternalAnswers.Readiness("True".equals(c.getStatus()), c.getMessage()))
            .orElse(
                new ExternalAnswers.Readiness(
                    null, "serving calls; its first probe has not finished yet"));
      }
      if (timeUp) {
        throw ApiException.timedOut(
            "provider "
                + legacy.legacyName
                + " was not ready to serve calls within "
                + INITIALIZE_WAIT.toSeconds()
                + " s");
      }
      Thread.sleep(20);
    }
  }

  private static String url(String value, String field) {
    if (!value.startsWith("http://") && !value.startsWith("https://")) {
      throw ApiException.invalid("field '" + field + "' must be an http(s) URL");
    }
    return value;
  }

  // ---- calls ---------------------------------------------------------------------------------

  /** A validated call: which provider and what to ask it. */
  private record Call(ProviderKey provider, String legacyName, ProviderRequest request) {}

  private Call parseExecute(JsonBody body) {
    String provider = body.requireString("provider", 253);
    String taskName = body.string("task_name", "llm.complete", 253);
    String prompt = body.string("prompt", null, 1_000_000);
    String model = body.string("model", null, 253);
    double timeout = body.number("timeout", 300, 1, 3600);
    int retries = body.integer("max_retries", 3, 0, 10);
    JsonNode args = body.raw("args");
    if (args != null && !args.isNull() && !args.isArray()) {
      throw ApiException.invalid("field 'args' must be a list");
    }
    ObjectNode kwargs = body.object("kwargs");
    ObjectNode extra = body.object("extra_params");
    return new Call(
        resolve(provider),
        provider,
        new ProviderRequest(
            taskName,
            prompt,
            model,
            extra == null ? JsonBody.MAPPER.createObjectNode() : extra,
            args == null || args.isNull() ? JsonBody.MAPPER.createArrayNode() : args,
            kwargs == null ? JsonBody.MAPPER.createObjectNode() : kwargs,
            Duration.ofMillis((long) (timeout * 1000)),
            retries));
  }

  private ProviderKey resolve(String name) {
    // A registered Provider needs no API-server round trip: this is every call's hot path.
    ProviderKey known = registeredKeys.get(name);
    if (known != null) {
      if (gateway.isRegistered(known)) {
        return known;
      }
      registeredKeys.remove(name);
    }
    Optional<ProviderKey> live = providers.key(name).filter(gateway::isRegistered);
    if (live.isPresent()) {
      registeredKeys.put(name, live.get());
      return live.get();
    }
    Provider provider =
        providers
            .find(name)
            .orElseThrow(
                () ->
                    ApiException.notFound(
                        "provider '" + ApiException.clip(name) + "' is not initialized"));
    return new ProviderKey(provider.getMetadata().getNamespace(), provider.getMetadata().getName());
  }

  private void execute(Context ctx) {
    JsonBody body = JsonBody.of(ctx);
    if (Boolean.TRUE.equals(body.bool("stream", false))) {
      throw ApiException.invalid("stream is true: use " + BASE + "/execute/stream");
    }
    respond(ctx, parseExecute(body));
  }

  private void respond(Context ctx, Call call) {
    ProviderResult result;
    try {
      result = gateway.call(call.provider(), call.request());
    } catch (ProviderException e) {
      throw refusal(e);
    }
    ctx.contentType(ContentType.APPLICATION_JSON)
        .result(executeAnswer(call.legacyName(), call.request().taskName(), result));
  }

  /**
   * The answer to a non-stream {@code execute}. Legacy clients know only {@code success} and {@code
   * error}: an answer that ended early is an {@code error}, with {@code "incomplete": true} saying
   * it was cut rather than refused, and the result and usage that arrived.
   */
  static byte[] executeAnswer(String provider, String taskName, ProviderResult result) {
    return JsonWrite.object(
        json -> {
          json.writeStringField("status", result.complete() ? "success" : "error");
          if (!result.complete()) {
            json.writeBooleanField("incomplete", true);
            json.writeStringField(
                "error",
                "the upstream's answer ended before it finished; the result and usage are what"
                    + " arrived");
          }
          json.writeStringField("provider", provider);
          json.writeStringField("task_name", taskName);
          json.writeFieldName("result");
          json.writeTree(result.output());
          usage(json, result);
        });
  }

  private void executeStream(Context ctx) {
    JsonBody body = JsonBody.of(ctx);
    if (!Boolean.TRUE.equals(body.bool("stream", false))) {
      throw ApiException.invalid("execute/stream needs \"stream\": true");
    }
    stream(ctx, parseExecute(body));
  }

  private void llmComplete(Context ctx) {
    String provider = requiredQuery(ctx, "provider");
    String prompt = requiredQuery(ctx, "prompt");
    ObjectNode params = JsonBody.MAPPER.createObjectNode();
    params.put("temperature", QueryParams.number(ctx, "temperature", 0.7, 0, 2));
    if (ctx.queryParam("max_tokens") != null) {
      params.put("max_tokens", (int) QueryParams.number(ctx, "max_tokens", 1, 1, 100_000));
    }
    boolean stream = "true".equalsIgnoreCase(ctx.queryParam("stream"));
    Call call =
        new Call(
            resolve(provider),
            provider,
            new ProviderRequest(
                "llm.complete",
                prompt,
                ctx.queryParam("model"),
                params,
                JsonBody.MAPPER.createArrayNode(),
                JsonBody.MAPPER.createObjectNode(),
                Duration.ofMinutes(5),
                3));
    if (stream) {
      stream(ctx, call);
    } else {
      respond(ctx, call);
    }
  }

  private static String requiredQuery(Context ctx, String name) {
    String value = ctx.queryParam(name);
    if (value == null || value.isBlank()) {
      throw ApiException.invalid("query parameter '" + name + "' is required");
    }
    return value;
  }

  /**
   * Streams as Server-Sent Events: {@code {"chunk": ...}} per piece, then {@code {"status":
   * "complete", ...usage}}, {@code {"status": "error", "incomplete": true, "error": ..., ...usage}}
   * when the upstream stream broke off, or {@code {"status": "error", "error": ...}}. Refusals
   * found before the call starts (unknown provider, bad input) are ordinary 4xx answers.
   */
  private void stream(Context ctx, Call call) {
    ctx.status(200);
    ctx.contentType("text/event-stream");
    ctx.header("Cache-Control", "no-cache");
    ctx.header("X-Accel-Buffering", "no");
    try {
      OutputStream out = ctx.res().getOutputStream();
      Consumer<String> onChunk =
          chunk -> send(out, JsonWrite.event(json -> json.writeStringField("chunk", chunk)));
      byte[] last;
      try {
        ProviderResult result = gateway.stream(call.provider(), call.request(), onChunk);
        last =
            JsonWrite.event(
                json -> {
                  // Legacy clients know only complete and error: a cut stream is an error,
                  // and "incomplete" says it was cut rather than refused.
                  json.writeStringField("status", result.complete() ? "complete" : "error");
                  if (!result.complete()) {
                    json.writeBooleanField("incomplete", true);
                    json.writeStringField(
                        "error",
                        "the upstream stream ended before it finished; the output and usage are"
                            + " what arrived");
                  }
                  usage(json, result);
                });
      } catch (ProviderException e) {
        last =
            JsonWrite.event(
                json -> {
                  json.writeStringField("status", "error");
                  json.writeStringField("error", e.getMessage());
                });
      }
      send(out, last);
    } catch (IOException | UncheckedIOException e) {
      // The client went away; the call's usage is already recorded.
    }
  }

  private static void send(OutputStream out, byte[] event) {
    try {
      out.write(event);
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void usage(JsonGenerator json, ProviderResult result) throws IOException {
    json.writeStringField("model", result.model());
    json.writeNumberField("tokens_in", result.usage().inputTokens());
    json.writeNumberField("tokens_out", result.usage().outputTokens());
    json.writeNumberField("cached_tokens", result.usage().cachedInputTokens());
    json.writeNumberField("cache_write_tokens", result.usage().cacheWriteTokens());
    json.writeNumberField("reasoning_tokens", result.usage().reasoningTokens());
    if (result.costUsd() == null) {
      json.writeNullField("cost_usd");
      json.writeBooleanField("priced", false);
    } else {
      json.writeNumberField("cost_usd", result.costUsd().doubleValue());
      json.writeBooleanField("priced", true);
    }
    json.writeNumberField("latency_ms", Math.round(result.latencyMs() * 10) / 10.0);
    if (result.timeToFirstTokenMs() != null) {
      json.writeNumberField(
          "time_to_first_token_ms", Math.round(result.timeToFirstTokenMs() * 10) / 10.0);
    }
  }

  private static ApiException refusal(ProviderException e) {
    int status = e.status() >= 400 && e.status() < 600 ? e.status() : 502;
    return new ApiException(status, e.getMessage());
  }

  // ---- providers and stats -------------------------------------------------------------------

  private void listProviders(Context ctx) {
    ctx.json(
        new ExternalAnswers.Providers(providers.list().stream().map(this::providerView).toList()));
  }

  private ExternalAnswers.ProviderView providerView(Provider provider) {
    String name = provider.getMetadata().getName();
    Condition ready =
        provider.getStatus() == null
            ? null
            : provider.getStatus().conditions.stream()
                .filter(c -> "Ready".equals(c.getType()))
                .findFirst()
                .orElse(null);
    return new ExternalAnswers.ProviderView(
        Legacy.byName(name).map(l -> l.legacyName).orElse(name),
        LegacyProviders.kind(provider.getSpec().type),
        provider.getSpec().type.name(),
        gateway.isRegistered(ProviderReconciler.key(provider)),
        ready != null && "True".equals(ready.getStatus()),
        ready == null ? "not probed yet" : ready.getMessage(),
        ready == null ? null : ready.getLastTransitionTime());
  }

  private void providerStatus(Context ctx) {
    String name = ctx.pathParam("provider");
    Provider provider =
        providers
            .find(name)
            .orElseThrow(
                () ->
                    ApiException.notFound(
                        "provider '" + ApiException.clip(name) + "' is not initialized"));
    ctx.json(providerView(provider));
  }

  private static ExternalAnswers.Stats stats(String legacyName, UsageLedger.Totals totals) {
    return new ExternalAnswers.Stats(
        legacyName,
        totals.requests(),
        totals.succeeded(),
        totals.failed(),
        Math.round(totals.successRate() * 1000) / 1000.0,
        totals.tokensIn(),
        totals.tokensOut(),
        Math.round(totals.costUsd() * 1e6) / 1e6,
        Math.round(totals.averageLatencyMs() * 10) / 10.0,
        TaskViews.epochSeconds(totals.lastRequest()),
        totals.month(),
        Math.round(totals.monthCostUsd() * 1e6) / 1e6);
  }

  private Map<String, UsageLedger.Totals> totalsByLegacyName() {
    Map<String, UsageLedger.Totals> byName = new LinkedHashMap<>();
    for (Provider provider : providers.list()) {
      String name = provider.getMetadata().getName();
      ledger
          .totals(ProviderReconciler.key(provider))
          .ifPresent(t -> byName.put(Legacy.byName(name).map(l -> l.legacyName).orElse(name), t));
    }
    return byName;
  }

  private void allStats(Context ctx) {
    Map<String, ExternalAnswers.Stats> byName = new LinkedHashMap<>();
    totalsByLegacyName().forEach((name, totals) -> byName.put(name, stats(name, totals)));
    ctx.json(byName);
  }

  private void providerStats(Context ctx) {
    String name = ctx.pathParam("provider");
    Provider provider =
        providers
            .find(name)
            .orElseThrow(
                () ->
                    ApiException.notFound(
                        "provider '" + ApiException.clip(name) + "' was never initialized"));
    String legacyName =
        Legacy.byName(provider.getMetadata().getName())
            .map(l -> l.legacyName)
            .orElse(provider.getMetadata().getName());
    UsageLedger.Totals totals =
        ledger
            .totals(ProviderReconciler.key(provider))
            .orElse(new UsageLedger.Totals(0, 0, 0, 0, 0, 0, 0, null, null, 0));
    ctx.json(stats(legacyName, totals));
  }

  private void costSummary(Context ctx) {
    Map<String, Double> byProvider = new LinkedHashMap<>();
    double total = 0;
    for (Map.Entry<String, UsageLedger.Totals> entry : totalsByLegacyName().entrySet()) {
      double cost = Math.round(entry.getValue().costUsd() * 1e6) / 1e6;
      byProvider.put(entry.getKey(), cost);
      total += cost;
    }
    ctx.json(new ExternalAnswers.CostSummary(Math.round(total * 1e6) / 1e6, byProvider));
  }

  private void tokenSummary(Context ctx) {
    Map<String, ExternalAnswers.Tokens> byProvider = new LinkedHashMap<>();
    long in = 0;
    long out = 0;
    for (Map.Entry<String, UsageLedger.Totals> entry : totalsByLegacyName().entrySet()) {
      long tokensIn = entry.getValue().tokensIn();
      long tokensOut = entry.getValue().tokensOut();
      byProvider.put(
          entry.getKey(), new ExternalAnswers.Tokens(tokensIn, tokensOut, tokensIn + tokensOut));
      in += tokensIn;
      out += tokensOut;
    }
    ctx.json(new ExternalAnswers.TokenSummary(in, out, in + out, byProvider));
  }

  private void health(Context ctx) {
    int ready = 0;
    List<Provider> all = providers.list();
    for (Provider provider : all) {
      if (gateway.isRegistered(ProviderReconciler.key(provider))) {
        ready++;
      }
    }
    ctx.json(new ExternalAnswers.Health(all.size(), ready));
  }
}
