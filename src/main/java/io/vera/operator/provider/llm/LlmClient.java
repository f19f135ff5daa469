package io.vera.operator.provider.llm;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.vera.operator.provider.ChatCompletions;
import io.vera.operator.provider.ChatRequest;
import io.vera.operator.provider.Credentials;
import io.vera.operator.provider.ProviderClient;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderRequest;
import io.vera.operator.provider.ProviderResult;
import io.vera.operator.provider.TokenUsage;
import io.vera.operator.provider.pricing.CostCalculator;
import io.vera.operator.retry.Deadline;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import okhttp3.Call;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.sse.EventSource;
import okhttp3.sse.EventSourceListener;
import okhttp3.sse.EventSources;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the OpenAI, Anthropic and Gemini clients share, so the deadline, retries, stream handling,
 * timing and pricing behave identically and each client only builds requests and reads its wire
 * format.
 *
 * <p>Streams: each text delta is handed to the caller as it arrives. A stream ends complete only at
 * its protocol's end ({@code data: [DONE]}, {@code message_stop}, a Gemini {@code finishReason}). A
 * failure before any text was handed on is thrown (and retried if retryable); after that, a cut
 * connection, a timeout or an error event ends the call with what was received, {@code complete}
 * false and whatever usage had arrived, and is never replayed. If the caller's {@code onChunk}
 * throws, the stream is closed and likewise returned incomplete, so usage received so far can still
 * be recorded.
 *
 * <p>Results: {@code output} is the text, {@code model} the model the upstream says answered (else
 * the one asked), {@code latencyMs} from the first attempt to the last byte (waits between retries
 * included), {@code costUsd} from the answering model's price, else the asked model's, and null
 * when neither is priced or the upstream reported no usage.
 */
abstract class LlmClient implements ProviderClient, ChatCompletions {
  static final ObjectMapper JSON = new ObjectMapper();

  /** What OkHttp sent for a JSON string body; request bodies are now bytes with the same type. */
  static final MediaType JSON_TYPE = MediaType.get("application/json; charset=utf-8");

  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(300);
  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(10);
  private static final Logger LOG = LoggerFactory.getLogger(LlmClient.class);

  /** Text, model and usage read from a whole (non-streamed) answer; usage null if not reported. */
  record Answer(String text, String model, TokenUsage usage) {}

  /** Reads one provider's stream events. */
  interface StreamParser {
    /**
     * Reads one event.
     *
     * @return text to hand on, or null
     * @throws ProviderException for an error event or unreadable data
     */
    String onEvent(String type, String data) throws ProviderException;

    /** Whether the stream reached its protocol's end; {@code cleanEnd} when the body ended well. */
    boolean complete(boolean cleanEnd);

    /** The usage reported so far, or null if none was. */
    TokenUsage usage();

    /** The model the upstream says answers, or null. */
    String model();
  }

  /** Reads one stream's events and emits what to hand on, any number of pieces per event. */
  interface EventReader {
    /**
     * Reads one event.
     *
     * @throws ProviderException for an error event or unreadable data
     */
    void onEvent(String type, String data, Consumer<String> emit) throws ProviderException;

    /** Whether the stream reached its protocol's end; {@code cleanEnd} when the body ended well. */
    boolean complete(boolean cleanEnd);

    /** After a complete stream, emits what only its end can say (e.g. a final usage chunk). */
    default void onEnd(Consumer<String> emit) {}
  }

  /** Reads one upstream stream as OpenAI {@code chat.completion.chunk}s. */
  interface ChatStream extends EventReader {
    /** The usage reported so far, or null if none was. */
    TokenUsage usage();

    /** The model the upstream says answers, or null. */
    String model();
  }

  /** A whole chat answer in OpenAI's shape, with the model and usage read from the upstream. */
  record ChatAnswer(ObjectNode completion, String model, TokenUsage usage) {}

  /** How one stream ended: at its protocol's end or not, and when its first piece was handed on. */
  record StreamEnd(boolean complete, Long firstChunkNanos) {}

  final String provider;
  final LlmConfig config;
  final Credentials credentials;
  final HttpUrl baseUrl;
  final String defaultModel;
  final UpstreamErrors errors;
  private final CostCalculator costs;

  LlmClient(
      String provider,
      LlmConfig config,
      Credentials credentials,
      String defaultBaseUrl,
      String defaultModel) {
    this.provider = provider;
    this.config = config;
    this.credentials = credentials;
    this.baseUrl = HttpUrl.get(config.baseUrl() != null ? config.baseUrl() : defaultBaseUrl);
    this.defaultModel = config.defaultModel() != null ? config.defaultModel() : defaultModel;
    this.errors = new UpstreamErrors(provider, credentials.get("apiKey").orElse(null));
    this.costs = new CostCalculator(config.pricing());
  }

  /** The HTTP request for one call, refusing params this provider does not take. */
  abstract Request buildRequest(String model, ProviderRequest request, boolean stream)
      throws ProviderException;

  abstract Answer parseAnswer(JsonNode body) throws ProviderException;

  abstract StreamParser newStreamParser();

  /** A cheap authenticated request, such as listing models. */
  abstract Request probeRequest() throws ProviderException;

  /**
   * The HTTP request for an OpenAI-shaped chat completion, passed on or translated; what cannot be
   * translated is refused with a 400 naming the parameter.
   */
  abstract Request buildChatRequest(String model, ChatRequest request, boolean stream)
      throws ProviderException;

  /** A whole upstream answer as an OpenAI {@code chat.completion}. */
  abstract ChatAnswer parseChatAnswer(JsonNode body, String model) throws ProviderException;

  /** A reader turning this upstream's stream into OpenAI chunks for {@code request}. */
  abstract ChatStream newChatStream(ChatRequest request, String model);

  @Override
  public ProviderResult call(ProviderRequest request) throws ProviderException {
    String model = modelOf(request);
    Request http = buildRequest(model, request, false);
    long start = System.nanoTime();
    Answer answer =
        retrying(
            request.timeout(),
            request.maxRetries(),
            deadline -> {
              try (Response response = execute(http, deadline)) {
                return parseAnswer(readJson(response, deadline));
              }
            });
    return result(
        TextNode.valueOf(answer.text()), answer.model(), model, answer.usage(), start, null, true);
  }

  @Override
  public ProviderResult chat(ChatRequest request) throws ProviderException {
    String model = chatModel(request);
    Request http = buildChatRequest(model, request, false);
    long start = System.nanoTime();
    ChatAnswer answer =
        retrying(
            request.timeout(),
            request.maxRetries(),
            deadline -> {
              try (Response response = execute(http, deadline)) {
                return parseChatAnswer(readJson(response, deadline), model);
              }
            });
    return result(answer.completion(), answer.model(), model, answer.usage(), start, null, true);
  }

  @Override
  public ProviderResult chatStream(ChatRequest request, Consumer<String> onChunk)
      throws ProviderException {
    String model = chatModel(request);
    Request http = buildChatRequest(model, request, true);
    long start = System.nanoTime();
    return retrying(
        request.timeout(),
        request.maxRetries(),
        deadline -> {
          ChatStream reader = newChatStream(request, model);
          StreamEnd end = pump(http, deadline, reader, onChunk);
          return result(
              NullNode.getInstance(),
              reader.model(),
              model,
              reader.usage(),
              start,
              end.firstChunkNanos(),
              end.complete());
        });
  }

  @Override
  public ProviderResult stream(ProviderRequest request, Consumer<String> onChunk)
      throws ProviderException {
    String model = modelOf(request);
    Request http = buildRequest(model, request, true);
    long start = System.nanoTime();
    return retrying(
        request.timeout(),
        request.maxRetries(),
        deadline -> streamOnce(http, deadline, model, start, onChunk));
  }

  @Override
  public void probe() throws ProviderException {
    Request http = probeRequest();
    retrying(
        PROBE_TIMEOUT,
        0,
        deadline -> {
          try (Response response = execute(http, deadline)) {
            if (!response.isSuccessful()) {
              throw errors.fromResponse(response);
            }
            return null;
          }
        });
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "[" + baseUrl + ", default model " + defaultModel + "]";
  }

  /** The model a request is for, after checking it has a prompt. */
  String modelOf(ProviderRequest request) throws ProviderException {
    if (request.prompt() == null || request.prompt().isBlank()) {
      throw new ProviderException(422, "a prompt is required", false);
    }
    return request.model() == null || request.model().isBlank()
        ? defaultModel
        : request.model().trim();
  }

  @Override
  public boolean prices(String model) {
    return costs.pricesTokens(model == null || model.isBlank() ? defaultModel : model.trim());
  }

  @Override
  public Double cost(String model, TokenUsage usage) {
    return costs.tokenCost(model == null || model.isBlank() ? defaultModel : model.trim(), usage);
  }

  /** The upstream model a chat completion is for: the one it names, else the default. */
  String chatModel(ChatRequest request) {
    return request.model() == null || request.model().isBlank()
        ? defaultModel
        : request.model().trim();
  }

  /** Runs attempts under a call's deadline (null for the default) and retry budget. */
  <T> T retrying(Duration timeout, int maxRetries, UpstreamRetry.Attempt<T> attempt)
      throws ProviderException {
    return config
        .retry()
        .run(
            provider,
            timeout != null ? timeout : DEFAULT_TIMEOUT,
            Math.max(0, maxRetries),
            attempt);
  }

  /** Sends {@code http} with the time left as the whole exchange's timeout. */
  Response execute(Request http, Deadline deadline) throws ProviderException {
    Duration left = deadline.remaining();
    if (left.isZero()) {
      throw new ProviderException(
          504, provider + " did not answer within the call's timeout", false);
    }
    Call call = config.http().newCall(http);
    call.timeout().timeout(left.toNanos(), TimeUnit.NANOSECONDS);
    try {
      return call.execute();
    } catch (IOException e) {
      throw errors.fromIOException(e, deadline.remaining());
    }
  }

  /** The JSON body of a successful response, or the failure the response stands for. */
  JsonNode readJson(Response response, Deadline deadline) throws ProviderException {
    if (!response.isSuccessful()) {
      throw errors.fromResponse(response);
    }
    try {
      return JSON.readTree(response.body().byteStream());
    } catch (JsonProcessingException e) {
      throw errors.malformed("answer", e);
    } catch (IOException e) {
      throw errors.fromIOException(e, deadline.remaining());
    }
  }

  ProviderResult result(
      JsonNode output,
      String answeredModel,
      String askedModel,
      TokenUsage usage,
      long startNanos,
      Long firstChunkNanos,
      boolean complete) {
    String model = answeredModel != null && !answeredModel.isBlank() ? answeredModel : askedModel;
    Double cost = null;
    if (usage != null) {
      cost = costs.tokenCost(model, usage);
      if (cost == null && !model.equals(askedModel)) {
        cost = costs.tokenCost(askedModel, usage);
      }
    }
    return new ProviderResult(
        output,
        model,
        usage != null ? usage : TokenUsage.NONE,
        cost,
        millisSince(startNanos),
        firstChunkNanos == null ? null : (firstChunkNanos - startNanos) / 1e6,
        complete);
  }

  CostCalculator costs() {
    return costs;
  }

  /** The body serialised straight to UTF-8 bytes, without an intermediate String. */
  static RequestBody jsonBody(JsonNode body) {
    try {
      return RequestBody.create(JSON.writeValueAsBytes(body), JSON_TYPE);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree that cannot be written", e);
    }
  }

  static String textOrNull(JsonNode node) {
    return node.isValueNode() && !node.isNull() ? node.asText() : null;
  }

  static double millisSince(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e6;
  }

  private ProviderResult streamOnce(
      Request http, Deadline deadline, String model, long start, Consumer<String> onChunk)
      throws ProviderException {
    StreamParser parser = newStreamParser();
    StringBuilder text = new StringBuilder();
    EventReader reader =
        new EventReader() {
          @Override
          public void onEvent(String type, String data, Consumer<String> emit)
              throws ProviderException {
            String delta = parser.onEvent(type, data);
            if (delta != null && !delta.isEmpty()) {
              emit.accept(delta);
            }
          }

          @Override
          public boolean complete(boolean cleanEnd) {
            return parser.complete(cleanEnd);
          }
        };
    StreamEnd end =
        pump(
            http,
            deadline,
            reader,
            delta -> {
              text.append(delta);
              onChunk.accept(delta);
            });
    return result(
        TextNode.valueOf(text.toString()),
        parser.model(),
        model,
        parser.usage(),
        start,
        end.firstChunkNanos(),
        end.complete());
  }

  /**
   * Sends a streaming request and hands on what {@code reader} emits until the stream ends. A
   * failure before anything was handed on is thrown; after that the stream ends incomplete.
   */
  StreamEnd pump(Request http, Deadline deadline, EventReader reader, Consumer<String> onChunk)
      throws ProviderException {
    Response response = execute(http, deadline);
    if (!response.isSuccessful()) {
      try (response) {
        throw errors.fromResponse(response);
      }
    }
    MediaType type = response.body().contentType();
    if (type == null || !type.type().equals("text") || !type.subtype().equals("event-stream")) {
      response.close();
      throw errors.malformed("stream (content-type " + type + ")", null);
    }
    Collector collector = new Collector(reader, onChunk);
    EventSources.processResponse(response, collector);

    boolean complete;
    Throwable failure = collector.failure;
    if (failure == null) {
      complete = reader.complete(true);
      if (complete) {
        reader.onEnd(collector::emit);
        complete = collector.failure == null;
      }
    } else if (collector.consumerFailed) {
      LOG.debug("{}: the stream's consumer failed, closing the stream", provider, failure);
      complete = false;
    } else if (failure instanceof ProviderException e) {
      if (collector.handedOn == 0) {
        throw e;
      }
      LOG.debug("{}: stream ended by an error after output: {}", provider, e.getMessage());
      complete = false;
    } else {
      complete = reader.complete(false);
      if (collector.handedOn == 0 && !complete) {
        throw failure instanceof IOException io
            ? errors.fromIOException(io, deadline.remaining())
            : errors.malformed("stream", (Exception) failure);
      }
      LOG.debug("{}: stream cut after output: {}", provider, failure.toString());
    }
    return new StreamEnd(complete, collector.firstChunkNanos);
  }

  /** Hands pieces on as they arrive and remembers how the stream ended. */
  private static final class Collector extends EventSourceListener {
    private final EventReader reader;
    private final Consumer<String> onChunk;
    private EventSource source;
    int handedOn;
    Long firstChunkNanos;
    Throwable failure;
    boolean consumerFailed;

    Collector(EventReader reader, Consumer<String> onChunk) {
      this.reader = reader;
      this.onChunk = onChunk;
    }

    @Override
    public void onEvent(EventSource source, String id, String type, String data) {
      if (failure != null) {
        return;
      }
      this.source = source;
      try {
        reader.onEvent(type, data, this::emit);
      } catch (ProviderException e) {
        if (failure == null) {
          failure = e;
        }
        source.cancel();
      }
    }

    void emit(String piece) {
      if (failure != null) {
        return;
      }
      if (firstChunkNanos == null) {
        firstChunkNanos = System.nanoTime();
      }
      handedOn++;
      try {
        onChunk.accept(piece);
      } catch (RuntimeException e) {
        failure = e;
        consumerFailed = true;
        if (source != null) {
          source.cancel();
        }
      }
    }

    @Override
    public void onFailure(EventSource source, Throwable t, Response response) {
      if (failure == null) {
        failure = t;
      }
    }
  }
}
