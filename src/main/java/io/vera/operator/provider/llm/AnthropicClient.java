package io.vera.operator.provider.llm;

import static java.util.Map.entry;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.provider.ChatRequest;
import io.vera.operator.provider.Credentials;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderRequest;
import io.vera.operator.provider.TokenUsage;
import io.vera.operator.provider.llm.Params.Kind;
import java.util.Map;
import java.util.function.Consumer;
import okhttp3.HttpUrl;
import okhttp3.Request;

/**
 * Anthropic's Messages API ({@code x-api-key}, {@code anthropic-version: 2023-06-01}), with usage
 * read from the wire and normalised to what {@link TokenUsage} means.
 *
 * <p>Params: {@code temperature}, {@code top_p}, {@code top_k}, {@code max_tokens} (required by the
 * API; {@value #DEFAULT_MAX_TOKENS} when not given), {@code stop} as {@code stop_sequences}, {@code
 * system} as the top-level system prompt. Anything else is refused with 422.
 *
 * <p>Usage: Anthropic's {@code input_tokens} exclude the tokens read from or written to the prompt
 * cache, so {@code inputTokens} here is {@code input_tokens + cache_read_input_tokens +
 * cache_creation_input_tokens}, with the two cache counts also in {@code cachedInputTokens} and
 * {@code cacheWriteTokens}; every prompt token is then counted once in {@code inputTokens}, as for
 * the other providers. Thinking tokens are part of {@code output_tokens} and not reported apart. In
 * streams {@code message_start} carries the first usage and each {@code message_delta} cumulative
 * counts, which replace (never add to) the earlier ones.
 */
public final class AnthropicClient extends LlmClient {
  public static final String DEFAULT_BASE_URL = "https://api.anthropic.com";
  public static final String DEFAULT_MODEL = "claude-sonnet-4-20250514";
  static final String API_VERSION = "2023-06-01";
  static final int DEFAULT_MAX_TOKENS = 4096;

  private static final Map<String, Kind> PARAMS =
      Map.ofEntries(
          entry("temperature", Kind.NUMBER),
          entry("top_p", Kind.NUMBER),
          entry("top_k", Kind.POSITIVE_INTEGER),
          entry("max_tokens", Kind.POSITIVE_INTEGER),
          entry("stop", Kind.STRINGS),
          entry("system", Kind.STRING));

  /** Built once: parsing a URL and reading the key cost more than the rest of a request. */
  private final HttpUrl messagesUrl;

  private final String apiKey;

  public AnthropicClient(LlmConfig config, Credentials credentials) {
    super("anthropic", config, credentials, DEFAULT_BASE_URL, DEFAULT_MODEL);
    this.messagesUrl = baseUrl.newBuilder().addPathSegments("v1/messages").build();
    this.apiKey = credentials.get("apiKey").orElse(null);
  }

  @Override
  Request buildRequest(String model, ProviderRequest request, boolean stream)
      throws ProviderException {
    Params params = Params.check(provider, request.params(), PARAMS);
    ObjectNode body = JSON.createObjectNode().put("model", model);
    if (params.get("max_tokens") != null) {
      params.copy("max_tokens", body, "max_tokens");
    } else {
      body.put("max_tokens", DEFAULT_MAX_TOKENS);
    }
    params.copy("system", body, "system");
    body.putArray("messages").addObject().put("role", "user").put("content", request.prompt());
    params.copy("temperature", body, "temperature");
    params.copy("top_p", body, "top_p");
    params.copy("top_k", body, "top_k");
    params.copy("stop", body, "stop_sequences");
    if (stream) {
      body.put("stream", true);
    }
    return authorized(messagesUrl).post(jsonBody(body)).build();
  }

  @Override
  Answer parseAnswer(JsonNode body) throws ProviderException {
    if (!body.path("content").isArray()) {
      throw errors.malformed("answer (no content)", null);
    }
    StringBuilder text = new StringBuilder();
    for (JsonNode block : body.path("content")) {
      if (block.path("type").asText().equals("text")) {
        text.append(block.path("text").asText());
      }
    }
    Usage usage = new Usage();
    usage.update(body.path("usage"));
    return new Answer(text.toString(), textOrNull(body.path("model")), usage.toTokenUsage());
  }

  @Override
  StreamParser newStreamParser() {
    return new StreamParser() {
      private final Usage usage = new Usage();
      private String model;
      private boolean stopped;

      @Override
      public String onEvent(String type, String data) throws ProviderException {
        JsonNode event = readEvent(data);
        String kind = event.path("type").asText(type == null ? "" : type);
        switch (kind) {
          case "message_start" -> {
            model = textOrNull(event.path("message").path("model"));
            usage.update(event.path("message").path("usage"));
          }
          case "content_block_delta" -> {
            JsonNode delta = event.path("delta");
            if (delta.path("type").asText().equals("text_delta")) {
              return delta.path("text").asText();
            }
          }
          case "message_delta" -> usage.update(event.path("usage"));
          case "message_stop" -> stopped = true;
          case "error" -> throw streamError(event);
          default -> {}
        }
        return null;
      }

      @Override
      public boolean complete(boolean cleanEnd) {
        return stopped;
      }

      @Override
      public TokenUsage usage() {
        return usage.toTokenUsage();
      }

      @Override
      public String model() {
        return model;
      }
    };
  }

  @Override
  Request buildChatRequest(String model, ChatRequest request, boolean stream)
      throws ProviderException {
    return authorized(messagesUrl)
        .post(jsonBody(AnthropicChat.request(request.body(), model, stream)))
        .build();
  }

  @Override
  ChatAnswer parseChatAnswer(JsonNode body, String model) throws ProviderException {
    if (!body.path("content").isArray()) {
      throw errors.malformed("answer (no content)", null);
    }
    Usage usage = new Usage();
    usage.update(body.path("usage"));
    TokenUsage tokens = usage.toTokenUsage();
    return new ChatAnswer(
        AnthropicChat.answer(body, model, tokens), textOrNull(body.path("model")), tokens);
  }

  @Override
  ChatStream newChatStream(ChatRequest request, String model) {
    AnthropicChat.Stream translation = new AnthropicChat.Stream(request, model);
    return new ChatStream() {
      private final Usage usage = new Usage();
      private String answeredModel;
      private boolean stopped;

      @Override
      public void onEvent(String type, String data, Consumer<String> emit)
          throws ProviderException {
        JsonNode event = readEvent(data);
        switch (event.path("type").asText(type == null ? "" : type)) {
          case "message_start" -> {
            answeredModel = textOrNull(event.path("message").path("model"));
            usage.update(event.path("message").path("usage"));
            translation.onStart(event.path("message"), emit);
          }
          case "content_block_start" -> translation.onBlockStart(event, emit);
          case "content_block_delta" -> translation.onBlockDelta(event, emit);
          case "message_delta" -> {
            usage.update(event.path("usage"));
            translation.onMessageDelta(event, emit);
          }
          case "message_stop" -> {
            stopped = true;
            translation.onStop(usage.toTokenUsage(), emit);
          }
          case "error" -> throw streamError(event);
          default -> {}
        }
      }

      @Override
      public boolean complete(boolean cleanEnd) {
        return stopped;
      }

      @Override
      public TokenUsage usage() {
        return usage.toTokenUsage();
      }

      @Override
      public String model() {
        return answeredModel;
      }
    };
  }

  private JsonNode readEvent(String data) throws ProviderException {
    try {
      return JSON.readTree(data);
    } catch (JsonProcessingException e) {
      throw errors.malformed("stream event", e);
    }
  }

  private ProviderException streamError(JsonNode event) {
    JsonNode error = event.path("error");
    String errorType = textOrNull(error.path("type"));
    return errors.fromStreamError(
        statusOf(errorType), errorType, errorType, textOrNull(error.path("message")));
  }

  @Override
  Request probeRequest() throws ProviderException {
    return authorized(baseUrl.newBuilder().addPathSegments("v1/models").build()).get().build();
  }

  private Request.Builder authorized(HttpUrl url) throws ProviderException {
    return new Request.Builder()
        .url(url)
        .header("x-api-key", apiKey != null ? apiKey : credentials.require("apiKey"))
        .header("anthropic-version", API_VERSION);
  }

  /** The HTTP status an error event's type stands for. */
  private static int statusOf(String type) {
    if (type == null) {
      return 500;
    }
    return switch (type) {
      case "invalid_request_error" -> 400;
      case "authentication_error" -> 401;
      case "permission_error" -> 403;
      case "not_found_error" -> 404;
      case "request_too_large" -> 413;
      case "rate_limit_error" -> 429;
      case "overloaded_error" -> 529;
      default -> 500;
    };
  }

  /** Anthropic's usage counts as last reported; a later report replaces the fields it carries. */
  private static final class Usage {
    private boolean reported;
    private long input;
    private long cacheRead;
    private long cacheWrite;
    private long output;

    void update(JsonNode usage) {
      if (!usage.isObject()) {
        return;
      }
      reported = true;
      input = count(usage, "input_tokens", input);
      cacheRead = count(usage, "cache_read_input_tokens", cacheRead);
      cacheWrite = count(usage, "cache_creation_input_tokens", cacheWrite);
      output = count(usage, "output_tokens", output);
    }

    TokenUsage toTokenUsage() {
      return reported
          ? new TokenUsage(input + cacheRead + cacheWrite, output, cacheRead, cacheWrite, 0)
          : null;
    }

    private static long count(JsonNode usage, String field, long previous) {
      JsonNode value = usage.path(field);
      return value.isNumber() ? value.asLong() : previous;
    }
  }
}
