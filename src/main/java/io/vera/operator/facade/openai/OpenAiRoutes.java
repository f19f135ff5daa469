package io.vera.operator.facade.openai;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.ContentType;
import io.javalin.http.Context;
import io.javalin.http.UploadedFile;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.facade.auth.RestGuard;
import io.vera.operator.facade.auth.RouteAccess;
import io.vera.operator.provider.Caller;
import io.vera.operator.provider.ChatRequest;
import io.vera.operator.provider.LegacyProviders;
import io.vera.operator.provider.ModelRoutes;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderGateway;
import io.vera.operator.provider.ProviderKey;
import io.vera.operator.provider.ProviderReconciler;
import io.vera.operator.provider.ProviderResult;
import io.vera.operator.provider.llm.AnthropicClient;
import io.vera.operator.provider.llm.GeminiClient;
import io.vera.operator.provider.llm.OpenAiClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The OpenAI-compatible gateway, {@code /v1}: chat completions (whole and streamed) and the model
 * list, in OpenAI's wire format, in front of every LLM Provider through the {@link ProviderGateway}
 * (so limits, budgets, the usage ledger and metrics apply as to every other call).
 *
 * <p>A model is {@code <provider>/<model>}: the Provider's name in the operator's namespace (or its
 * legacy name), then the model as its upstream names it, which may itself hold slashes. OpenAI and
 * compatible upstreams get the body passed on; Anthropic and Gemini get it translated (see {@code
 * AnthropicChat}, {@code GeminiChat}). Refusals are OpenAI-shaped (see {@link OpenAiError}).
 *
 * <p>Streams: nothing is written until the first chunk is ready, so a failure before it is an
 * ordinary error answer with its status; chunks then go out as they come, framed as SSE, ending
 * with {@code data: [DONE]}. A stream the upstream cut after its first chunk ends with an error
 * event instead (the OpenAI SDKs raise it), never with {@code [DONE]}.
 */
public final class OpenAiRoutes {
  public static final String BASE = "/v1";

  static final ObjectMapper JSON = new ObjectMapper();

  /** Chat bodies carry images as base64; larger than the REST API's 1 MiB cap. */
  static final int MAX_BODY_BYTES = 32 * 1024 * 1024;

  private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] END_OF_EVENT = "\n\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
  private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);
  private static final int DEFAULT_RETRIES = 3;

  /** Names the caller where no token is checked (embedded mode); ignored where tokens are. */
  public static final String CALLER_HEADER = "X-Vera-Caller";

  /** Names the Provider and model that answered, e.g. the route target that took the call. */
  public static final String TARGET_HEADER = "X-Vera-Target";

  /** The RBAC verb that lets a caller call a Provider's models (on {@code providers}, by name). */
  static final String CALL = "call";

  private final LegacyProviders providers;
  private final ProviderGateway gateway;
  private final RestGuard guard;

  /**
   * @param guard asks whether the caller may {@code call} the Provider a request names (always yes
   *     with auth off, as in embedded mode)
   */
  public OpenAiRoutes(LegacyProviders providers, ProviderGateway gateway, RestGuard guard) {
    this.providers = providers;
    this.gateway = gateway;
    this.guard = guard;
  }

  public void register(Javalin app) {
    app.post(BASE + "/chat/completions", this::chatCompletions);
    app.get(BASE + "/models", this::models);
    app.get(BASE + "/spend", this::spend);
    app.post(BASE + "/embeddings", this::embeddings);
    app.post(BASE + "/audio/transcriptions", this::transcriptions);
    app.exception(OpenAiError.class, (e, ctx) -> e.write(ctx));
  }

  /**
   * A model name resolved to the Provider that serves it and the model at its upstream; {@code
   * routed} is the route's target it stands for, null for a {@code <provider>/<model>} call.
   */
  record Target(ProviderKey provider, String model, ModelRoutes.Target routed) {}

  /** The Provider types that serve each kind of call. */
  private static final Set<ProviderSpec.Type> CHAT =
      Set.of(ProviderSpec.Type.OpenAI, ProviderSpec.Type.Anthropic, ProviderSpec.Type.Gemini);

  private static final Set<ProviderSpec.Type> EMBEDDINGS =
      Set.of(ProviderSpec.Type.OpenAI, ProviderSpec.Type.Gemini);
  private static final Set<ProviderSpec.Type> TRANSCRIPTIONS = Set.of(ProviderSpec.Type.OpenAI);

  /** One attempt of a call at one target; a failure it throws may go to the next target. */
  @FunctionalInterface
  private interface Attempt {
    void at(Target target, ProviderSpec spec) throws ProviderException;
  }

  /**
   * Calls the model a request names once, or a route's targets in its plan's order, falling back to
   * the next target on a failure {@link ModelRoutes#fallsBack} allows while {@code mayFallBack}
   * holds (nothing went to the caller yet). Returns once a target answered, else throws the last
   * failure. The caller needs {@code call} on the named Provider, or on the one that declares the
   * route (its targets are not asked).
   *
   * @param what the kind of call, as an error names it ({@code "embeddings"})
   * @param serving the Provider types that have it
   */
  private void call(
      Context ctx,
      String name,
      String what,
      Set<ProviderSpec.Type> serving,
      Attempt attempt,
      BooleanSupplier mayFallBack)
      throws ProviderException {
    List<ModelRoutes.Target> plan = null;
    if (name.indexOf('/') < 0) {
      ModelRoutes.Route route =
          gateway
              .routes()
              .route(name)
              .orElseThrow(
                  () ->
                      OpenAiError.modelNotFound(
                          "model '"
                              + clip(name)
                              + "' is neither a route nor '<provider>/<model>', e.g."
                              + " 'openai/gpt-4o-mini'"));
      requireCall(ctx, route.declaredBy().name());
      plan = gateway.routes().plan(route);
    } else {
      requireCall(ctx, providerName(name));
    }
    ProviderException last = null;
    int attempts = plan == null ? 1 : plan.size();
    for (int i = 0; i < attempts; i++) {
      Target target;
      if (plan == null) {
        target = serving(resolve(name), what, serving);
      } else {
        try {
          target = resolve(plan.get(i), what, serving);
        } catch (ProviderException e) {
          // A target that cannot take the call says less than an upstream's failure before it.
          last = last == null ? e : last;
          continue;
        }
      }
      ProviderSpec spec = gateway.spec(target.provider()).orElseThrow();
      ctx.header(TARGET_HEADER, target.provider().name() + "/" + target.model());
      try {
        attempt.at(target, spec);
        answered(target);
        return;
      } catch (ProviderException e) {
        last = e;
        failed(target, e);
        if (plan == null || !ModelRoutes.fallsBack(e) || !mayFallBack.getAsBoolean()) {
          break;
        }
      }
    }
    throw last != null
        ? last
        : new ProviderException(404, "route '" + clip(name) + "' has no targets", false);
  }

  private void chatCompletions(Context ctx) {
    ObjectNode body = readBody(ctx);
    String name = model(body);
    JsonNode messages = body.path("messages");
    if (!messages.isArray() || messages.isEmpty()) {
      throw OpenAiError.invalid("'messages' must be a non-empty list", "messages");
    }
    Caller caller = caller(ctx, body);
    boolean stream = body.path("stream").asBoolean(false);
    boolean includeUsage = body.path("stream_options").path("include_usage").asBoolean(false);
    StreamWriter writer = stream ? new StreamWriter(ctx) : null;
    try {
      call(
          ctx,
          name,
          "chat completions",
          CHAT,
          (target, spec) -> {
            ChatRequest request =
                new ChatRequest(body, target.model(), includeUsage, timeout(spec), retries(spec));
            if (stream) {
              stream(target, request, caller, writer);
            } else {
              write(ctx, gateway.chat(target.provider(), request, caller));
            }
          },
          () -> writer == null || !writer.started);
    } catch (ProviderException last) {
      if (writer != null && writer.started) {
        writer.last(
            errorEvent(
                last instanceof IncompleteStream
                    ? new OpenAiError(502, last.getMessage(), null, "upstream_stream_incomplete")
                    : OpenAiError.of(last)));
        return;
      }
      throw OpenAiError.of(last);
    }
  }

  /** The body's {@code model}, or a 400 naming it. */
  private static String model(JsonNode body) {
    JsonNode model = body.path("model");
    if (!model.isTextual() || model.asText().isBlank()) {
      throw OpenAiError.invalid("'model' is required: '<provider>/<model>' or a route", "model");
    }
    return model.asText();
  }

  private void answered(Target target) {
    if (target.routed() != null) {
      gateway.routes().succeeded(target.routed());
    }
  }

  private void failed(Target target, ProviderException e) {
    if (target.routed() != null && ModelRoutes.countsAgainstHealth(e)) {
      gateway.routes().failed(target.routed());
    }
  }

  private static void write(Context ctx, ProviderResult result) {
    try {
      ctx.contentType(ContentType.APPLICATION_JSON).result(JSON.writeValueAsBytes(result.output()));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree that cannot be written", e);
    }
  }

  /**
   * Streams one attempt. A failure before the first chunk is thrown, so the next target can take
   * the call; after it the stream ends with an error event, and the failure is thrown too, marked
   * by {@code writer.started}, so it counts against the target but goes nowhere else.
   */
  private void stream(Target target, ChatRequest request, Caller caller, StreamWriter writer)
      throws ProviderException {
    ProviderResult result = gateway.chatStream(target.provider(), request, caller, writer);
    if (result.complete()) {
      writer.last(DONE);
      return;
    }
    throw new IncompleteStream(target.provider());
  }

  /** An upstream stream that ended before it finished, after chunks went to the caller. */
  private static final class IncompleteStream extends ProviderException {
    IncompleteStream(ProviderKey provider) {
      super(
          502,
          "the upstream stream of "
              + provider.name()
              + " ended before it finished; the chunks sent are what arrived",
          false);
    }
  }

  private static byte[] errorEvent(OpenAiError error) {
    try {
      return ("data: " + JSON.writeValueAsString(error.body()) + "\n\n")
          .getBytes(StandardCharsets.UTF_8);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree that cannot be written", e);
    }
  }

  /** Writes chunks as SSE, sending the headers with the first one. */
  private static final class StreamWriter implements Consumer<String> {
    private final Context ctx;
    private OutputStream out;
    boolean started;

    StreamWriter(Context ctx) {
      this.ctx = ctx;
    }

    @Override
    public void accept(String chunk) {
      try {
        start();
        out.write(DATA);
        out.write(chunk.getBytes(StandardCharsets.UTF_8));
        out.write(END_OF_EVENT);
        out.flush();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /** The stream's last event; a caller that went away is no longer written to. */
    void last(byte[] event) {
      try {
        start();
        out.write(event);
        out.flush();
      } catch (IOException | UncheckedIOException e) {
        // The caller went away; the call's usage is already recorded.
      }
    }

    private void start() throws IOException {
      if (started) {
        return;
      }
      started = true;
      var response = ctx.res();
      response.setStatus(200);
      response.setContentType("text/event-stream; charset=utf-8");
      response.setHeader("Cache-Control", "no-cache");
      response.setHeader("X-Accel-Buffering", "no");
      out = response.getOutputStream();
    }
  }

  /**
   * OpenAI's embeddings, for OpenAI and OpenAI-compatible Providers (the body passed on with the
   * model after {@code <provider>/}, the answer as the upstream wrote it) and Gemini (translated),
   * by {@code <provider>/<model>} or a route.
   */
  private void embeddings(Context ctx) {
    ObjectNode body = readBody(ctx);
    String name = model(body);
    if (body.path("input").isMissingNode() || body.path("input").isNull()) {
      throw OpenAiError.invalid("'input' is required", "input");
    }
    Caller caller = caller(ctx, body);
    try {
      call(
          ctx,
          name,
          "embeddings",
          EMBEDDINGS,
          (target, spec) ->
              write(
                  ctx,
                  gateway.embeddings(
                      target.provider(),
                      body,
                      target.model(),
                      timeout(spec),
                      retries(spec),
                      caller)),
          () -> true);
    } catch (ProviderException e) {
      throw OpenAiError.of(e);
    }
  }

  /**
   * OpenAI's audio transcriptions (multipart), for OpenAI and OpenAI-compatible Providers, by
   * {@code <provider>/<model>} or a route: the file and the other fields passed on, the answer
   * (JSON or text, as {@code response_format} asks) as the upstream wrote it.
   */
  private void transcriptions(Context ctx) {
    if (!ctx.isMultipartFormData()) {
      throw OpenAiError.invalid("the body must be multipart/form-data with a 'file'", "file");
    }
    UploadedFile file = ctx.uploadedFile("file");
    if (file == null) {
      throw OpenAiError.invalid("'file' is required", "file");
    }
    String model = ctx.formParam("model");
    if (model == null || model.isBlank()) {
      throw OpenAiError.invalid("'model' is required: '<provider>/<model>' or a route", "model");
    }
    byte[] audio;
    try (InputStream in = file.content()) {
      audio = in.readNBytes(MAX_BODY_BYTES + 1);
    } catch (IOException e) {
      throw OpenAiError.invalid("the uploaded file could not be read", "file");
    }
    if (audio.length > MAX_BODY_BYTES) {
      throw new OpenAiError(
          413, "the file is larger than " + MAX_BODY_BYTES + " bytes", "file", null);
    }
    String user = ctx.formParam("user");
    Caller caller = caller(ctx, JSON.createObjectNode().put("user", user));
    try {
      call(
          ctx,
          model,
          "audio transcriptions",
          TRANSCRIPTIONS,
          (target, spec) -> {
            ProviderResult result =
                gateway.transcription(
                    target.provider(),
                    audio,
                    file.filename(),
                    file.contentType(),
                    target.model(),
                    ctx.formParamMap(),
                    timeout(spec),
                    retries(spec),
                    caller);
            if (result.output().isTextual()) {
              ctx.contentType("text/plain; charset=utf-8").result(result.output().asText());
            } else {
              write(ctx, result);
            }
          },
          () -> true);
    } catch (ProviderException e) {
      throw OpenAiError.of(e);
    }
  }

  /** {@code target} if its Provider has {@code what}, else a 400 naming the model. */
  private Target serving(Target target, String what, Set<ProviderSpec.Type> serving) {
    ProviderSpec.Type type = gateway.spec(target.provider()).map(s -> s.type).orElse(null);
    if (!serving.contains(type)) {
      throw new OpenAiError(
          400, noSuch(target.provider(), type, what), "model", "unsupported_model");
    }
    return target;
  }

  private static String noSuch(ProviderKey provider, ProviderSpec.Type type, String what) {
    return "provider '"
        + provider.name()
        + "' is a "
        + type
        + " Provider, which has no "
        + what
        + (what.equals("audio transcriptions")
            ? " in OpenAI's format; use an OpenAI or OpenAI-compatible Provider"
            : what.equals("embeddings")
                ? "; use an OpenAI, OpenAI-compatible or Gemini Provider"
                : "");
  }

  private static Duration timeout(ProviderSpec spec) {
    return spec.timeoutSeconds == null ? DEFAULT_TIMEOUT : Duration.ofSeconds(spec.timeoutSeconds);
  }

  private static int retries(ProviderSpec spec) {
    return spec.retries == null ? DEFAULT_RETRIES : spec.retries;
  }

  /**
   * A route's target to a registered Provider that has {@code what}, or a failure (404) the next
   * target can take.
   */
  private Target resolve(ModelRoutes.Target target, String what, Set<ProviderSpec.Type> serving)
      throws ProviderException {
    ProviderSpec.Type type = gateway.spec(target.provider()).map(s -> s.type).orElse(null);
    if (type == null) {
      throw new ProviderException(
          404, "provider " + target.provider().name() + " is not configured or not ready", false);
    }
    if (!serving.contains(type)) {
      throw new ProviderException(404, noSuch(target.provider(), type, what), false);
    }
    return new Target(target.provider(), target.model(), target);
  }

  /**
   * Refuses with 403 unless the caller may {@code call} the Provider named so (by its object name,
   * so RBAC {@code resourceNames} apply); always allowed with auth off. Asked before the Provider
   * is looked up, so a caller learns nothing of Providers it may not call.
   */
  private void requireCall(Context ctx, String providerName) {
    ProviderKey key =
        providers
            .key(providerName)
            .orElseThrow(
                () ->
                    OpenAiError.modelNotFound(
                        "'" + clip(providerName) + "' cannot be the name of a Provider"));
    guard.require(ctx, CALL, RouteAccess.PROVIDERS, key.name());
  }

  /** The {@code <provider>} of {@code <provider>/<model>}, or a 404 for any other name. */
  private static String providerName(String name) {
    int slash = name.indexOf('/');
    if (slash <= 0 || slash == name.length() - 1) {
      throw OpenAiError.modelNotFound(
          "model '" + clip(name) + "' is not '<provider>/<model>', e.g. 'openai/gpt-4o-mini'");
    }
    return name.substring(0, slash);
  }

  /** {@code <provider>/<model>} to a registered LLM Provider and the model at its upstream. */
  Target resolve(String name) {
    String providerName = providerName(name);
    int slash = providerName.length();
    ProviderKey key =
        providers
            .key(providerName)
            .filter(gateway::isRegistered)
            .orElseThrow(
                () ->
                    OpenAiError.modelNotFound(
                        "provider '"
                            + clip(providerName)
                            + "' of model '"
                            + clip(name)
                            + "' is not configured or not ready"));
    ProviderSpec.Type type = gateway.spec(key).map(s -> s.type).orElse(null);
    if (!isLlm(type)) {
      throw OpenAiError.modelNotFound(
          "provider '" + providerName + "' is a " + type + " Provider, not an LLM");
    }
    return new Target(key, name.substring(slash + 1), null);
  }

  private static boolean isLlm(ProviderSpec.Type type) {
    return type == ProviderSpec.Type.OpenAI
        || type == ProviderSpec.Type.Anthropic
        || type == ProviderSpec.Type.Gemini;
  }

  /**
   * The models of every ready LLM Provider the caller may call: its default model and the models
   * its {@code spec.pricing} names (any other model of the upstream can be called as well), and the
   * routes the Providers it may call declare.
   */
  private void models(Context ctx) {
    ObjectNode list = JSON.createObjectNode().put("object", "list");
    ArrayNode data = list.putArray("data");
    for (Provider provider : providers.list()) {
      ProviderKey key = ProviderReconciler.key(provider);
      ProviderSpec spec = provider.getSpec();
      if (spec == null || !isLlm(spec.type) || !gateway.isRegistered(key) || !mayCall(ctx, key)) {
        continue;
      }
      Set<String> models = new LinkedHashSet<>();
      models.add(
          spec.defaults != null && spec.defaults.model != null
              ? spec.defaults.model
              : defaultModel(spec.type));
      if (spec.pricing != null) {
        spec.pricing.forEach(price -> models.add(price.model));
      }
      for (String model : models) {
        data.addObject()
            .put("id", key.name() + "/" + model)
            .put("object", "model")
            .put("created", 0)
            .put("owned_by", key.name());
      }
    }
    for (ModelRoutes.Route route : gateway.routes().all()) {
      if (!mayCall(ctx, route.declaredBy())) {
        continue;
      }
      data.addObject()
          .put("id", route.name())
          .put("object", "model")
          .put("created", 0)
          .put("owned_by", route.declaredBy().name());
    }
    ctx.json(list);
  }

  private boolean mayCall(Context ctx, ProviderKey key) {
    return guard.allows(ctx, CALL, RouteAccess.PROVIDERS, key.name());
  }

  /**
   * Spend by Provider, caller, caller namespace and end user, month to date and today, as the
   * ledger holds it: {@code {"providers": [{"provider", "namespace", "month", "monthCostUsd",
   * "day", "dayCostUsd", "callers": [...], "namespaces": [...], "endUsers": [...]}]}}, optionally
   * only for {@code ?provider=} and only the entries of {@code ?caller=} or {@code ?namespace=}.
   */
  private void spend(Context ctx) {
    String onlyProvider = ctx.queryParam("provider");
    String onlyCaller = ctx.queryParam("caller");
    String onlyNamespace = ctx.queryParam("namespace");
    ObjectNode answer = JSON.createObjectNode();
    ArrayNode list = answer.putArray("providers");
    gateway
        .ledger()
        .spend()
        .forEach(
            (key, totals) -> {
              if (onlyProvider != null && !onlyProvider.equals(key.name())) {
                return;
              }
              ObjectNode entry = list.addObject();
              entry.put("provider", key.name()).put("namespace", key.namespace());
              ObjectNode spend = JSON.valueToTree(totals);
              spend.remove("requests");
              for (String kind : List.of("callers", "namespaces", "endUsers")) {
                JsonNode entries = spend.path(kind);
                ArrayNode kept = JSON.createArrayNode();
                for (JsonNode one : entries) {
                  boolean byCaller =
                      onlyCaller == null
                          || onlyCaller.equals(
                              kind.equals("endUsers")
                                  ? one.path("caller").asText()
                                  : kind.equals("callers") ? one.path("name").asText() : null);
                  boolean byNamespace =
                      onlyNamespace == null
                          || onlyNamespace.equals(
                              kind.equals("namespaces")
                                  ? one.path("name").asText()
                                  : one.path("namespace").asText());
                  if (byCaller && byNamespace) {
                    kept.add(one);
                  }
                }
                spend.set(kind, kept);
              }
              entry.setAll(spend);
            });
    ctx.json(answer);
  }

  private static String defaultModel(ProviderSpec.Type type) {
    return switch (type) {
      case Anthropic -> AnthropicClient.DEFAULT_MODEL;
      case Gemini -> GeminiClient.DEFAULT_MODEL;
      default -> OpenAiClient.DEFAULT_MODEL;
    };
  }

  /**
   * Who is calling: the Kubernetes user of the bearer token where tokens are checked, else the
   * {@value #CALLER_HEADER} header or {@code anonymous}; OpenAI's {@code user} field names the
   * application's end user.
   */
  static Caller caller(Context ctx, JsonNode body) {
    JsonNode user = body.path("user");
    String endUser = user.isTextual() ? user.asText() : null;
    return RestGuard.identity(ctx)
        .map(identity -> Caller.kubernetes(identity.username(), endUser))
        .orElseGet(() -> Caller.unauthenticated(ctx.header(CALLER_HEADER), endUser));
  }

  private static ObjectNode readBody(Context ctx) {
    byte[] bytes;
    try (InputStream in = ctx.req().getInputStream()) {
      bytes = in.readNBytes(MAX_BODY_BYTES + 1);
    } catch (IOException e) {
      throw OpenAiError.invalid("the request body could not be read", null);
    }
    if (bytes.length > MAX_BODY_BYTES) {
      throw new OpenAiError(
          413, "the request body is larger than " + MAX_BODY_BYTES + " bytes", null, null);
    }
    JsonNode body;
    try {
      body = JSON.readTree(bytes);
    } catch (IOException e) {
      throw OpenAiError.invalid("the request body is not valid JSON", null);
    }
    if (body == null || !body.isObject()) {
      throw OpenAiError.invalid("the request body must be a JSON object", null);
    }
    return (ObjectNode) body;
  }

  private static String clip(String value) {
    return value.length() <= 120 ? value : value.substring(0, 120) + "...";
  }
}
