package io.vera.operator.provider.llm;

import static java.util.Map.entry;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.provider.ChatRequest;
import io.vera.operator.provider.Credentials;
import io.vera.operator.provider.Embeddings;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderRequest;
import io.vera.operator.provider.ProviderResult;
import io.vera.operator.provider.TokenUsage;
import io.vera.operator.provider.llm.Params.Kind;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.MultipartBody;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * OpenAI chat completions and audio transcriptions, and any server that speaks the same API (vLLM,
 * Ollama, LiteLLM, whisper servers), with usage read from the wire.
 *
 * <p>Params: {@code temperature}, {@code top_p}, {@code max_tokens}, {@code max_completion_tokens}
 * (what o-series models need instead of {@code max_tokens}), {@code stop}, {@code seed}, {@code
 * presence_penalty}, {@code frequency_penalty}, {@code reasoning_effort} go to the fields of the
 * same name; {@code system} becomes a system message before the prompt's user message. Anything
 * else is refused with 422.
 *
 * <p>Usage: {@code prompt_tokens} (which include {@code prompt_tokens_details.cached_tokens}) and
 * {@code completion_tokens} (which include {@code completion_tokens_details.reasoning_tokens}).
 * Streams ask for {@code stream_options.include_usage}; usage is taken from whichever chunk carries
 * it, the last one winning (OpenAI sends it on a final chunk with no choices, some compatible
 * servers on content chunks). The API key, optional for compatible servers, is sent as a bearer
 * token.
 */
public final class OpenAiClient extends LlmClient implements Embeddings {
  public static final String DEFAULT_BASE_URL = "https://api.openai.com/v1";
  public static final String DEFAULT_MODEL = "gpt-4o-mini";
  static final String DEFAULT_TRANSCRIPTION_MODEL = "whisper-1";

  private static final Map<String, Kind> PARAMS =
      Map.ofEntries(
          entry("temperature", Kind.NUMBER),
          entry("top_p", Kind.NUMBER),
          entry("max_tokens", Kind.POSITIVE_INTEGER),
          entry("max_completion_tokens", Kind.POSITIVE_INTEGER),
          entry("stop", Kind.STRINGS),
          entry("system", Kind.STRING),
          entry("seed", Kind.NUMBER),
          entry("presence_penalty", Kind.NUMBER),
          entry("frequency_penalty", Kind.NUMBER),
          entry("reasoning_effort", Kind.STRING));
  private static final Map<String, Kind> TRANSCRIPTION_PARAMS =
      Map.of(
          "language", Kind.STRING,
          "prompt", Kind.STRING,
          "temperature", Kind.NUMBER,
          "response_format", Kind.STRING);

  /** Built once: parsing a URL and reading the key cost more than the rest of a request. */
  private final HttpUrl chatUrl;

  private final String authorization;

  public OpenAiClient(LlmConfig config, Credentials credentials) {
    super("openai", config, credentials, DEFAULT_BASE_URL, DEFAULT_MODEL);
    this.chatUrl = url("chat/completions");
    this.authorization = credentials.get("apiKey").map(key -> "Bearer " + key).orElse(null);
  }

  /**
   * Transcribes audio with {@code POST audio/transcriptions} (multipart). The output is {@code
   * {"text": ..., "language": ..., "duration": seconds}} with language and duration present when
   * the server reports them: {@code response_format} defaults to {@code verbose_json}, which
   * carries them; pass {@code json} for models that only offer it (gpt-4o-transcribe), which then
   * report tokens instead. Cost is per audio minute for the seconds the server bills ({@code
   * usage.seconds}), else for the reported duration; token-priced models by their token usage.
   */
  public ProviderResult transcribe(TranscriptionRequest request) throws ProviderException {
    Params params = Params.check(provider, request.params(), TRANSCRIPTION_PARAMS);
    String format =
        params.get("response_format") == null
            ? "verbose_json"
            : params.get("response_format").asText();
    if (!format.equals("json") && !format.equals("verbose_json")) {
      throw new ProviderException(
          422, "param 'response_format' must be json or verbose_json", false);
    }
    String model =
        request.model() == null || request.model().isBlank()
            ? DEFAULT_TRANSCRIPTION_MODEL
            : request.model().trim();
    MultipartBody.Builder form =
        new MultipartBody.Builder()
            .setType(MultipartBody.FORM)
            .addFormDataPart(
                "file",
                request.fileName(),
                RequestBody.create(request.audio(), MediaType.parse(request.mediaType())))
            .addFormDataPart("model", model)
            .addFormDataPart("response_format", format);
    for (String name : new String[] {"language", "prompt", "temperature"}) {
      JsonNode value = params.get(name);
      if (value != null) {
        form.addFormDataPart(name, value.asText());
      }
    }
    Request http = authorized(url("audio/transcriptions")).post(form.build()).build();
    long start = System.nanoTime();
    JsonNode body =
        retrying(
            request.timeout(),
            request.maxRetries(),
            deadline -> {
              try (Response response = execute(http, deadline)) {
                return readJson(response, deadline);
              }
            });
    ObjectNode output = JSON.createObjectNode();
    output.put("text", body.path("text").asText(""));
    if (body.path("language").isTextual()) {
      output.put("language", body.path("language").asText());
    }
    JsonNode usage = body.path("usage");
    Double duration = body.path("duration").isNumber() ? body.path("duration").asDouble() : null;
    Double billedSeconds =
        "duration".equals(usage.path("type").asText()) && usage.path("seconds").isNumber()
            ? Double.valueOf(usage.path("seconds").asDouble())
            : duration;
    if (duration != null || billedSeconds != null) {
      output.put("duration", duration != null ? duration : billedSeconds);
    }
    TokenUsage tokens = null;
    if ("tokens".equals(usage.path("type").asText())) {
      tokens =
          new TokenUsage(
              usage.path("input_tokens").asLong(), usage.path("output_tokens").asLong(), 0, 0, 0);
    }
    Double cost = billedSeconds != null ? costs().audioCost(model, billedSeconds) : null;
    if (cost == null && tokens != null) {
      cost = costs().tokenCost(model, tokens);
    }
    return new ProviderResult(
        output,
        model,
        tokens != null ? tokens : TokenUsage.NONE,
        cost,
        millisSince(start),
        null,
        true);
  }

  /**
   * OpenAI's {@code POST embeddings} with the gateway caller's body passed on ({@code model} set to
   * {@code model}); the answer comes back as the upstream wrote it, priced by its {@code
   * usage.prompt_tokens}.
   */
  @Override
  public ProviderResult embeddings(
      ObjectNode callerBody, String model, Duration timeout, int retries) throws ProviderException {
    ObjectNode body = callerBody.deepCopy().put("model", model);
    Request http = authorized(url("embeddings")).post(jsonBody(body)).build();
    long start = System.nanoTime();
    JsonNode answer =
        retrying(
            timeout,
            retries,
            deadline -> {
              try (Response response = execute(http, deadline)) {
                return readJson(response, deadline);
              }
            });
    TokenUsage usage =
        new TokenUsage(answer.path("usage").path("prompt_tokens").asLong(), 0, 0, 0, 0);
    String answered = answer.path("model").asText(model);
    Double cost = costs().tokenCost(answered, usage);
    if (cost == null && !answered.equals(model)) {
      cost = costs().tokenCost(model, usage);
    }
    return new ProviderResult(answer, answered, usage, cost, millisSince(start), null, true);
  }

  /**
   * OpenAI's {@code POST audio/transcriptions} as a gateway caller sent it: the file and every
   * other form field passed on, {@code model} set to {@code model}. A JSON answer ({@code json},
   * {@code verbose_json}) comes back as a JSON tree and is priced from its {@code usage} (seconds
   * or tokens) or {@code duration}; a text answer ({@code text}, {@code srt}, {@code vtt}) as a
   * text node, unpriced, since it carries neither.
   */
  public ProviderResult transcription(
      byte[] audio,
      String fileName,
      String mediaType,
      String model,
      Map<String, List<String>> fields,
      Duration timeout,
      int retries)
      throws ProviderException {
    MultipartBody.Builder form =
        new MultipartBody.Builder()
            .setType(MultipartBody.FORM)
            .addFormDataPart(
                "file",
                fileName,
                RequestBody.create(
                    audio,
                    MediaType.parse(mediaType == null ? "application/octet-stream" : mediaType)))
            .addFormDataPart("model", model);
    fields.forEach(
        (name, values) -> {
          if (!name.equals("model") && !name.equals("file")) {
            values.forEach(value -> form.addFormDataPart(name, value));
          }
        });
    Request http = authorized(url("audio/transcriptions")).post(form.build()).build();
    long start = System.nanoTime();
    JsonNode answer =
        retrying(
            timeout,
            retries,
            deadline -> {
              try (Response response = execute(http, deadline)) {
                if (!response.isSuccessful()) {
                  throw errors.fromResponse(response);
                }
                MediaType type = response.body().contentType();
                if (type != null && "json".equals(type.subtype())) {
                  return readJson(response, deadline);
                }
                try {
                  return JSON.getNodeFactory().textNode(response.body().string());
                } catch (java.io.IOException e) {
                  throw errors.fromIOException(e, deadline.remaining());
                }
              }
            });
    JsonNode usage = answer.path("usage");
    TokenUsage tokens = TokenUsage.NONE;
    Double cost = null;
    if ("tokens".equals(usage.path("type").asText())) {
      tokens =
          new TokenUsage(
              usage.path("input_tokens").asLong(), usage.path("output_tokens").asLong(), 0, 0, 0);
      cost = costs().tokenCost(model, tokens);
    } else if ("duration".equals(usage.path("type").asText()) && usage.path("seconds").isNumber()) {
      cost = costs().audioCost(model, usage.path("seconds").asDouble());
    } else if (answer.path("duration").isNumber()) {
      cost = costs().audioCost(model, answer.path("duration").asDouble());
    }
    return new ProviderResult(answer, model, tokens, cost, millisSince(start), null, true);
  }

  @Override
  Request buildRequest(String model, ProviderRequest request, boolean stream)
      throws ProviderException {
    Params params = Params.check(provider, request.params(), PARAMS);
    ObjectNode body = JSON.createObjectNode().put("model", model);
    var messages = body.putArray("messages");
    if (params.get("system") != null) {
      messages.addObject().put("role", "system").set("content", params.get("system"));
    }
    messages.addObject().put("role", "user").put("content", request.prompt());
    params.forEach(
        (name, value) -> {
          if (!name.equals("system")) {
            body.set(name, value);
          }
        });
    if (stream) {
      body.put("stream", true);
      body.putObject("stream_options").put("include_usage", true);
    }
    return authorized(chatUrl).post(jsonBody(body)).build();
  }

  @Override
  Answer parseAnswer(JsonNode body) throws ProviderException {
    JsonNode message = body.path("choices").path(0).path("message");
    if (!body.path("choices").isArray()) {
      throw errors.malformed("answer (no choices)", null);
    }
    String text =
        message.path("content").isTextual()
            ? message.path("content").asText()
            : message.path("refusal").asText("");
    return new Answer(text, textOrNull(body.path("model")), readUsage(body.path("usage")));
  }

  @Override
  StreamParser newStreamParser() {
    return new StreamParser() {
      private String model;
      private TokenUsage usage;
      private boolean finishReason;
      private boolean done;

      @Override
      public String onEvent(String type, String data) throws ProviderException {
        if (data.equals("[DONE]")) {
          done = true;
          return null;
        }
        if (data.isBlank()) {
          return null;
        }
        JsonNode chunk = readChunk(data);
        if (chunk.path("model").isTextual()) {
          model = chunk.path("model").asText();
        }
        TokenUsage reported = readUsage(chunk.path("usage"));
        if (reported != null) {
          usage = reported;
        }
        JsonNode choice = chunk.path("choices").path(0);
        if (choice.path("finish_reason").isTextual()) {
          finishReason = true;
        }
        JsonNode content = choice.path("delta").path("content");
        return content.isTextual() ? content.asText() : null;
      }

      @Override
      public boolean complete(boolean cleanEnd) {
        return done || cleanEnd && finishReason;
      }

      @Override
      public TokenUsage usage() {
        return usage;
      }

      @Override
      public String model() {
        return model;
      }
    };
  }

  /**
   * The caller's body passed on as it is (no parameter list, so new upstream features need no
   * release), with the upstream's model name and, for streams, {@code stream_options.include_usage}
   * set so that usage is always read.
   */
  @Override
  Request buildChatRequest(String model, ChatRequest request, boolean stream) {
    ObjectNode body = request.body().deepCopy();
    body.put("model", model);
    if (stream) {
      body.put("stream", true);
      JsonNode options = body.path("stream_options");
      (options.isObject() ? (ObjectNode) options : body.putObject("stream_options"))
          .put("include_usage", true);
    } else {
      body.remove("stream");
      body.remove("stream_options");
    }
    return authorized(chatUrl).post(jsonBody(body)).build();
  }

  @Override
  ChatAnswer parseChatAnswer(JsonNode body, String model) throws ProviderException {
    if (!body.isObject() || !body.path("choices").isArray()) {
      throw errors.malformed("answer (no choices)", null);
    }
    return new ChatAnswer(
        (ObjectNode) body, textOrNull(body.path("model")), readUsage(body.path("usage")));
  }

  /**
   * Chunks are handed on as the upstream wrote them; only the usage-only chunk (no choices) is held
   * back from a caller that did not ask for it.
   */
  @Override
  ChatStream newChatStream(ChatRequest request, String model) {
    return new ChatStream() {
      private String answeredModel;
      private TokenUsage usage;
      private boolean finishReason;
      private boolean done;

      @Override
      public void onEvent(String type, String data, Consumer<String> emit)
          throws ProviderException {
        if (data.equals("[DONE]")) {
          done = true;
          return;
        }
        if (data.isBlank()) {
          return;
        }
        JsonNode chunk = readChunk(data);
        if (chunk.path("model").isTextual()) {
          answeredModel = chunk.path("model").asText();
        }
        TokenUsage reported = readUsage(chunk.path("usage"));
        if (reported != null) {
          usage = reported;
        }
        JsonNode choices = chunk.path("choices");
        if (choices.path(0).path("finish_reason").isTextual()) {
          finishReason = true;
        }
        if (reported != null && choices.isEmpty() && !request.includeUsage()) {
          return;
        }
        emit.accept(data);
      }

      @Override
      public boolean complete(boolean cleanEnd) {
        return done || cleanEnd && finishReason;
      }

      @Override
      public TokenUsage usage() {
        return usage;
      }

      @Override
      public String model() {
        return answeredModel;
      }
    };
  }

  @Override
  Request probeRequest() {
    return authorized(url("models")).get().build();
  }

  /** One stream chunk, or the failure an error chunk stands for. */
  private JsonNode readChunk(String data) throws ProviderException {
    JsonNode chunk;
    try {
      chunk = JSON.readTree(data);
    } catch (JsonProcessingException e) {
      throw errors.malformed("stream chunk", e);
    }
    JsonNode error = chunk.path("error");
    if (!error.isMissingNode() && !error.isNull()) {
      String errorType = textOrNull(error.path("type"));
      String code = textOrNull(error.path("code"));
      int status =
          error.path("code").isInt() ? error.path("code").asInt() : statusOf(errorType, code);
      throw errors.fromStreamError(status, errorType, code, textOrNull(error.path("message")));
    }
    return chunk;
  }

  private Request.Builder authorized(HttpUrl url) {
    Request.Builder builder = new Request.Builder().url(url);
    if (authorization != null) {
      builder.header("Authorization", authorization);
    }
    return builder;
  }

  private HttpUrl url(String path) {
    return baseUrl.newBuilder().addPathSegments(path).build();
  }

  /** The HTTP status an error object in a 200 stream stands for, by its type or code. */
  private static int statusOf(String type, String code) {
    for (String name : new String[] {code, type}) {
      if (name != null) {
        switch (name) {
          case "invalid_request_error", "context_length_exceeded" -> {
            return 400;
          }
          case "authentication_error", "invalid_api_key" -> {
            return 401;
          }
          case "rate_limit_exceeded", "rate_limit_error", "insufficient_quota" -> {
            return 429;
          }
          default -> {}
        }
      }
    }
    return 500;
  }

  /** OpenAI's usage object as {@link TokenUsage}; null when there is none. */
  static TokenUsage readUsage(JsonNode usage) {
    if (!usage.isObject()) {
      return null;
    }
    return new TokenUsage(
        usage.path("prompt_tokens").asLong(),
        usage.path("completion_tokens").asLong(),
        usage.path("prompt_tokens_details").path("cached_tokens").asLong(),
        0,
        usage.path("completion_tokens_details").path("reasoning_tokens").asLong());
  }
}
