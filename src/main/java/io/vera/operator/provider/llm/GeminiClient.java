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
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import okhttp3.HttpUrl;
import okhttp3.Request;

/**
 * Google's Gemini API ({@code generateContent}, and {@code streamGenerateContent?alt=sse} for
 * streams), with the API key in the {@code x-goog-api-key} header and never in the URL, so it
 * cannot end up in access logs or exception messages.
 *
 * <p>Params: {@code temperature}, {@code top_p}, {@code top_k}, {@code max_tokens} (as {@code
 * maxOutputTokens}), {@code stop} (as {@code stopSequences}), {@code seed}, {@code
 * presence_penalty}, {@code frequency_penalty} go to {@code generationConfig}; {@code system}
 * becomes {@code systemInstruction}. Anything else is refused with 422.
 *
 * <p>Usage: {@code promptTokenCount} plus {@code toolUsePromptTokenCount} as input tokens (which
 * include {@code cachedContentTokenCount}); output tokens are {@code candidatesTokenCount} plus
 * {@code thoughtsTokenCount}, since Gemini reports thinking apart from the answer but bills it as
 * output, with the thoughts also as reasoning tokens. In streams every chunk carries cumulative
 * {@code usageMetadata}; the last one is taken. A stream is complete once a candidate has a {@code
 * finishReason}; a prompt blocked outright ({@code promptFeedback.blockReason}) is refused with
 * 422.
 */
public final class GeminiClient extends LlmClient implements Embeddings {
  public static final String DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta";
  public static final String DEFAULT_MODEL = "gemini-2.5-flash";

  private static final Map<String, Kind> PARAMS =
      Map.ofEntries(
          entry("temperature", Kind.NUMBER),
          entry("top_p", Kind.NUMBER),
          entry("top_k", Kind.POSITIVE_INTEGER),
          entry("max_tokens", Kind.POSITIVE_INTEGER),
          entry("stop", Kind.STRINGS),
          entry("system", Kind.STRING),
          entry("seed", Kind.NUMBER),
          entry("presence_penalty", Kind.NUMBER),
          entry("frequency_penalty", Kind.NUMBER));

  /** At most this many call URLs are kept; the models a Provider is asked for are few. */
  private static final int MAX_CACHED_URLS = 64;

  /**
   * Call URLs by their last path segment ({@code model:generateContent}), built once: parsing a URL
   * costs more than the rest of a request.
   */
  private final Map<String, HttpUrl> callUrls = new ConcurrentHashMap<>();

  private final String apiKey;

  public GeminiClient(LlmConfig config, Credentials credentials) {
    super("gemini", config, credentials, DEFAULT_BASE_URL, DEFAULT_MODEL);
    this.apiKey = credentials.get("apiKey").orElse(null);
  }

  @Override
  Request buildRequest(String model, ProviderRequest request, boolean stream)
      throws ProviderException {
    Params params = Params.check(provider, request.params(), PARAMS);
    ObjectNode body = JSON.createObjectNode();
    body.putArray("contents")
        .addObject()
        .put("role", "user")
        .putArray("parts")
        .addObject()
        .put("text", request.prompt());
    if (params.get("system") != null) {
      body.putObject("systemInstruction")
          .putArray("parts")
          .addObject()
          .set("text", params.get("system"));
    }
    ObjectNode generation = JSON.createObjectNode();
    params.copy("temperature", generation, "temperature");
    params.copy("top_p", generation, "topP");
    params.copy("top_k", generation, "topK");
    params.copy("max_tokens", generation, "maxOutputTokens");
    params.copy("stop", generation, "stopSequences");
    params.copy("seed", generation, "seed");
    params.copy("presence_penalty", generation, "presencePenalty");
    params.copy("frequency_penalty", generation, "frequencyPenalty");
    if (!generation.isEmpty()) {
      body.set("generationConfig", generation);
    }
    return authorized(callUrl(model, stream)).post(jsonBody(body)).build();
  }

  /** The {@code generateContent} or streaming URL of {@code model}. */
  private HttpUrl callUrl(String model, boolean stream) {
    return callUrl(model, stream ? "streamGenerateContent" : "generateContent", stream);
  }

  /** The URL of {@code model}'s {@code method}, as server-sent events if {@code stream}. */
  private HttpUrl callUrl(String model, String method, boolean stream) {
    String id = model.startsWith("models/") ? model.substring("models/".length()) : model;
    String segment = id + ":" + method;
    HttpUrl url = callUrls.get(segment);
    if (url == null) {
      HttpUrl.Builder builder =
          baseUrl.newBuilder().addPathSegment("models").addPathSegment(segment);
      if (stream) {
        builder.addQueryParameter("alt", "sse");
      }
      url = builder.build();
      if (callUrls.size() < MAX_CACHED_URLS) {
        callUrls.put(segment, url);
      }
    }
    return url;
  }

  /**
   * OpenAI's embeddings through {@code batchEmbedContents}, translated both ways by {@link
   * GeminiEmbeddings}, priced by the input tokens.
   */
  @Override
  public ProviderResult embeddings(ObjectNode body, String model, Duration timeout, int retries)
      throws ProviderException {
    Request http =
        authorized(callUrl(model, "batchEmbedContents", false))
            .post(jsonBody(GeminiEmbeddings.request(body, model)))
            .build();
    long start = System.nanoTime();
    JsonNode answer =
        retrying(
            timeout,
            retries,
            deadline -> {
              try (okhttp3.Response response = execute(http, deadline)) {
                return readJson(response, deadline);
              }
            });
    TokenUsage usage = GeminiEmbeddings.usage(answer, body.path("input"));
    return result(
        GeminiEmbeddings.answer(answer, body, model, usage),
        model,
        model,
        usage,
        start,
        null,
        true);
  }

  @Override
  Request buildChatRequest(String model, ChatRequest request, boolean stream)
      throws ProviderException {
    return authorized(callUrl(model, stream))
        .post(jsonBody(GeminiChat.request(request.body())))
        .build();
  }

  @Override
  ChatAnswer parseChatAnswer(JsonNode body, String model) throws ProviderException {
    refuseBlockedPrompt(body);
    TokenUsage usage = readUsage(body);
    return new ChatAnswer(
        GeminiChat.answer(body, model, usage), textOrNull(body.path("modelVersion")), usage);
  }

  @Override
  ChatStream newChatStream(ChatRequest request, String model) {
    GeminiChat.Stream translation = new GeminiChat.Stream(request, model);
    return new ChatStream() {
      private TokenUsage usage;
      private String answeredModel;
      private boolean finished;

      @Override
      public void onEvent(String type, String data, Consumer<String> emit)
          throws ProviderException {
        JsonNode chunk = readChunk(data);
        if (chunk.path("modelVersion").isTextual()) {
          answeredModel = chunk.path("modelVersion").asText();
        }
        TokenUsage reported = readUsage(chunk);
        if (reported != null) {
          usage = reported;
        }
        if (chunk.path("candidates").path(0).path("finishReason").isTextual()) {
          finished = true;
        }
        translation.onChunk(chunk, emit);
      }

      @Override
      public boolean complete(boolean cleanEnd) {
        return finished;
      }

      @Override
      public void onEnd(Consumer<String> emit) {
        translation.onEnd(usage, emit);
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

  /** One stream chunk, or the failure an error or a blocked prompt stands for. */
  private JsonNode readChunk(String data) throws ProviderException {
    JsonNode chunk;
    try {
      chunk = JSON.readTree(data);
    } catch (JsonProcessingException e) {
      throw errors.malformed("stream chunk", e);
    }
    JsonNode error = chunk.path("error");
    if (error.isObject()) {
      String status = textOrNull(error.path("status"));
      throw errors.fromStreamError(
          error.path("code").asInt(500), status, status, textOrNull(error.path("message")));
    }
    refuseBlockedPrompt(chunk);
    return chunk;
  }

  @Override
  Answer parseAnswer(JsonNode body) throws ProviderException {
    refuseBlockedPrompt(body);
    return new Answer(text(body), textOrNull(body.path("modelVersion")), readUsage(body));
  }

  @Override
  StreamParser newStreamParser() {
    return new StreamParser() {
      private TokenUsage usage;
      private String model;
      private boolean finished;

      @Override
      public String onEvent(String type, String data) throws ProviderException {
        JsonNode chunk = readChunk(data);
        if (chunk.path("modelVersion").isTextual()) {
          model = chunk.path("modelVersion").asText();
        }
        TokenUsage reported = readUsage(chunk);
        if (reported != null) {
          usage = reported;
        }
        if (chunk.path("candidates").path(0).path("finishReason").isTextual()) {
          finished = true;
        }
        return text(chunk);
      }

      @Override
      public boolean complete(boolean cleanEnd) {
        return finished;
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

  @Override
  Request probeRequest() throws ProviderException {
    return authorized(baseUrl.newBuilder().addPathSegment("models").build()).get().build();
  }

  private Request.Builder authorized(HttpUrl url) throws ProviderException {
    return new Request.Builder()
        .url(url)
        .header("x-goog-api-key", apiKey != null ? apiKey : credentials.require("apiKey"));
  }

  private void refuseBlockedPrompt(JsonNode response) throws ProviderException {
    JsonNode reason = response.path("promptFeedback").path("blockReason");
    if (reason.isTextual() && response.path("candidates").isEmpty()) {
      throw new ProviderException(
          422, "gemini blocked the prompt (" + reason.asText() + ")", false);
    }
  }

  /** The text of the first candidate, without thought summaries. */
  private static String text(JsonNode response) {
    StringBuilder text = new StringBuilder();
    for (JsonNode part : response.path("candidates").path(0).path("content").path("parts")) {
      if (part.path("text").isTextual() && !part.path("thought").asBoolean(false)) {
        text.append(part.path("text").asText());
      }
    }
    return text.toString();
  }

  private static TokenUsage readUsage(JsonNode response) {
    JsonNode usage = response.path("usageMetadata");
    if (!usage.isObject()) {
      return null;
    }
    long thoughts = usage.path("thoughtsTokenCount").asLong();
    return new TokenUsage(
        usage.path("promptTokenCount").asLong() + usage.path("toolUsePromptTokenCount").asLong(),
        usage.path("candidatesTokenCount").asLong() + thoughts,
        usage.path("cachedContentTokenCount").asLong(),
        0,
        thoughts);
  }
}
