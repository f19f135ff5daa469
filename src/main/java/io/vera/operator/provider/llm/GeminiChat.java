package io.vera.operator.provider.llm;

import static io.vera.operator.provider.llm.ChatShapes.invalid;
import static io.vera.operator.provider.llm.ChatShapes.object;
import static io.vera.operator.provider.llm.ChatShapes.unsupported;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.provider.ChatRequest;
import io.vera.operator.provider.TokenUsage;
import io.vera.operator.provider.UnsupportedParamException;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * OpenAI chat completions translated to Gemini's {@code generateContent} and back, streams
 * included.
 *
 * <p>Request: {@code system}/{@code developer} messages become {@code systemInstruction}; user
 * parts become text, {@code inlineData} (base64 {@code data:} URLs) or {@code fileData} (other
 * URLs); assistant turns are {@code model} turns with {@code functionCall} parts, and {@code tool}
 * messages {@code functionResponse} parts (named after the call they answer) in a user turn;
 * consecutive turns of one role are merged. {@code temperature}, {@code top_p}, {@code top_k},
 * {@code max_completion_tokens}/{@code max_tokens}, {@code stop}, {@code seed}, {@code
 * presence_penalty}, {@code frequency_penalty} go to {@code generationConfig}; {@code
 * response_format} {@code json_object} to {@code responseMimeType: application/json} and {@code
 * json_schema} additionally to {@code responseJsonSchema}; {@code tools} to {@code
 * functionDeclarations} (with {@code parametersJsonSchema}, which takes JSON Schema as OpenAI does)
 * and {@code tool_choice} to {@code functionCallingConfig}. Anything else is refused with a 400
 * naming it.
 *
 * <p>Answer: the first candidate's text parts (thoughts left out) are the content and its {@code
 * functionCall} parts the {@code tool_calls}; {@code STOP} finishes as {@code stop} (or {@code
 * tool_calls} when there are calls), {@code MAX_TOKENS} as {@code length}, the safety reasons as
 * {@code content_filter}.
 */
final class GeminiChat {
  private static final String UPSTREAM = "Gemini generateContent";

  private static final Set<String> TRANSLATED =
      Set.of(
          "model",
          "messages",
          "max_tokens",
          "max_completion_tokens",
          "temperature",
          "top_p",
          "top_k",
          "stop",
          "seed",
          "presence_penalty",
          "frequency_penalty",
          "stream",
          "stream_options",
          "tools",
          "tool_choice",
          "parallel_tool_calls",
          "response_format",
          "n");

  private static final Set<String> FILTERED =
      Set.of("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY");

  private GeminiChat() {}

  /** The {@code generateContent} body for an OpenAI chat completion body. */
  static ObjectNode request(JsonNode in) throws UnsupportedParamException {
    ChatShapes.refuseUntranslatable(in, TRANSLATED, UPSTREAM);
    ChatShapes.singleChoice(in, UPSTREAM);
    JsonNode parallel = in.path("parallel_tool_calls");
    if (parallel.isBoolean() && !parallel.asBoolean()) {
      throw unsupported("parallel_tool_calls", UPSTREAM);
    }
    ObjectNode out = object();
    contents(in.path("messages"), out);
    ObjectNode generation = object();
    copyNumber(in, "temperature", generation, "temperature");
    copyNumber(in, "top_p", generation, "topP");
    copyNumber(in, "top_k", generation, "topK");
    copyNumber(in, "seed", generation, "seed");
    copyNumber(in, "presence_penalty", generation, "presencePenalty");
    copyNumber(in, "frequency_penalty", generation, "frequencyPenalty");
    JsonNode maxTokens = ChatShapes.maxTokens(in);
    if (maxTokens != null) {
      generation.put("maxOutputTokens", maxTokens.asLong());
    }
    ArrayNode stop = ChatShapes.stopSequences(in);
    if (stop != null) {
      generation.set("stopSequences", stop);
    }
    JsonNode format = in.path("response_format");
    switch (format.path("type").asText("text")) {
      case "text" -> {}
      case "json_object" -> generation.put("responseMimeType", "application/json");
      case "json_schema" -> {
        JsonNode schema = format.path("json_schema").path("schema");
        if (!schema.isObject()) {
          throw invalid("response_format.json_schema.schema", "must be a JSON schema object");
        }
        generation.put("responseMimeType", "application/json");
        generation.set("responseJsonSchema", schema);
      }
      default -> throw invalid("response_format", "type must be text, json_object or json_schema");
    }
    if (!generation.isEmpty()) {
      out.set("generationConfig", generation);
    }
    tools(in, out);
    return out;
  }

  private static void copyNumber(JsonNode in, String name, ObjectNode out, String as)
      throws UnsupportedParamException {
    JsonNode value = in.path(name);
    if (value.isMissingNode() || value.isNull()) {
      return;
    }
    if (!value.isNumber()) {
      throw invalid(name, "must be a number");
    }
    out.set(as, value);
  }

  private static void contents(JsonNode messages, ObjectNode out) throws UnsupportedParamException {
    if (!messages.isArray() || messages.isEmpty()) {
      throw invalid("messages", "must be a non-empty list");
    }
    ArrayNode system = object().putArray("parts");
    ArrayNode contents = out.putArray("contents");
    Map<String, String> toolNames = new HashMap<>();
    for (int i = 0; i < messages.size(); i++) {
      JsonNode message = messages.get(i);
      String at = "messages[" + i + "]";
      if (message.hasNonNull("name")) {
        throw unsupported(at + ".name", UPSTREAM);
      }
      switch (message.path("role").asText()) {
        case "system", "developer" ->
            system
                .addObject()
                .put("text", ChatShapes.plainText(message.path("content"), at + ".content"));
        case "user" -> parts(contents, "user").addAll(userParts(message.path("content"), at));
        case "assistant" -> {
          ArrayNode parts = parts(contents, "model");
          String text = ChatShapes.plainText(message.path("content"), at + ".content");
          if (!text.isEmpty()) {
            parts.addObject().put("text", text);
          }
          JsonNode calls = message.path("tool_calls");
          for (int j = 0; j < calls.size(); j++) {
            JsonNode call = calls.get(j);
            String name = call.path("function").path("name").asText();
            toolNames.put(call.path("id").asText(), name);
            ObjectNode functionCall = parts.addObject().putObject("functionCall");
            functionCall.put("name", name);
            functionCall.set(
                "args",
                ChatShapes.arguments(
                    call.path("function").path("arguments"),
                    at + ".tool_calls[" + j + "].function.arguments"));
          }
        }
        case "tool" -> {
          String id = ChatShapes.text(message, "tool_call_id", at + ".tool_call_id");
          String name = id == null ? null : toolNames.get(id);
          if (name == null) {
            throw invalid(
                at + ".tool_call_id", "must name a tool call of an earlier assistant message");
          }
          ObjectNode response = parts(contents, "user").addObject().putObject("functionResponse");
          response.put("name", name);
          String content = ChatShapes.plainText(message.path("content"), at + ".content");
          JsonNode parsed = parseObject(content);
          response.set("response", parsed != null ? parsed : object().put("content", content));
        }
        default ->
            throw invalid(at + ".role", "must be system, developer, user, assistant or tool");
      }
    }
    if (!system.isEmpty()) {
      out.putObject("systemInstruction").set("parts", system);
    }
  }

  /** A tool's result when it is a JSON object (Gemini wants an object), else null. */
  private static JsonNode parseObject(String content) {
    try {
      JsonNode parsed = LlmClient.JSON.readTree(content);
      return parsed != null && parsed.isObject() ? parsed : null;
    } catch (Exception e) {
      return null;
    }
  }

  private static ArrayNode parts(ArrayNode contents, String role) {
    JsonNode last = contents.isEmpty() ? null : contents.get(contents.size() - 1);
    if (last != null && role.equals(last.path("role").asText())) {
      return (ArrayNode) last.get("parts");
    }
    return contents.addObject().put("role", role).putArray("parts");
  }

  private static ArrayNode userParts(JsonNode content, String at) throws UnsupportedParamException {
    ArrayNode parts = LlmClient.JSON.createArrayNode();
    if (content.isTextual()) {
      parts.addObject().put("text", content.asText());
      return parts;
    }
    if (!content.isArray()) {
      throw invalid(at + ".content", "must be a string or a list of content parts");
    }
    for (int j = 0; j < content.size(); j++) {
      JsonNode part = content.get(j);
      String partAt = at + ".content[" + j + "]";
      switch (part.path("type").asText()) {
        case "text" -> parts.addObject().put("text", part.path("text").asText());
        case "image_url" -> {
          String url = part.path("image_url").path("url").asText("");
          ChatShapes.InlineImage inline = ChatShapes.inlineImage(url, partAt + ".image_url.url");
          if (inline != null) {
            parts
                .addObject()
                .putObject("inlineData")
                .put("mimeType", inline.mediaType())
                .put("data", inline.base64());
          } else if (url.startsWith("https://") || url.startsWith("http://")) {
            parts.addObject().putObject("fileData").put("fileUri", url);
          } else {
            throw invalid(partAt + ".image_url.url", "must be an http(s) or data: URL");
          }
        }
        default -> throw unsupported(partAt + ".type=" + part.path("type").asText(), UPSTREAM);
      }
    }
    return parts;
  }

  private static void tools(JsonNode in, ObjectNode out) throws UnsupportedParamException {
    JsonNode tools = in.path("tools");
    if (tools.isArray() && !tools.isEmpty()) {
      ArrayNode declarations = out.putArray("tools").addObject().putArray("functionDeclarations");
      for (int j = 0; j < tools.size(); j++) {
        JsonNode tool = tools.get(j);
        if (!"function".equals(tool.path("type").asText())) {
          throw unsupported("tools[" + j + "].type=" + tool.path("type").asText(), UPSTREAM);
        }
        JsonNode function = tool.path("function");
        ObjectNode declaration = declarations.addObject();
        declaration.put("name", function.path("name").asText());
        if (function.hasNonNull("description")) {
          declaration.set("description", function.get("description"));
        }
        if (function.path("parameters").isObject()) {
          declaration.set("parametersJsonSchema", function.get("parameters"));
        }
      }
    }
    JsonNode choice = in.path("tool_choice");
    ObjectNode config = null;
    if (choice.isTextual()) {
      String mode =
          switch (choice.asText()) {
            case "auto" -> "AUTO";
            case "none" -> "NONE";
            case "required" -> "ANY";
            default -> throw invalid("tool_choice", "must be auto, none, required or a function");
          };
      config = object().put("mode", mode);
    } else if (choice.isObject()) {
      config = object().put("mode", "ANY");
      config.putArray("allowedFunctionNames").add(choice.path("function").path("name").asText());
    }
    if (config != null) {
      out.putObject("toolConfig").set("functionCallingConfig", config);
    }
  }

  /** Gemini's {@code finishReason} as OpenAI's {@code finish_reason}. */
  static String finishReason(String reason, boolean toolCalls) {
    if (reason.equals("MAX_TOKENS")) {
      return "length";
    }
    if (FILTERED.contains(reason)) {
      return "content_filter";
    }
    return toolCalls ? "tool_calls" : "stop";
  }

  /** A tool call for one {@code functionCall} part; Gemini's own id when it sent one. */
  private static ObjectNode toolCall(JsonNode functionCall, String fallbackId) {
    ObjectNode call = object();
    call.put("id", functionCall.path("id").asText(fallbackId));
    call.put("type", "function");
    call.putObject("function")
        .put("name", functionCall.path("name").asText())
        .put(
            "arguments",
            ChatShapes.json(
                functionCall.path("args").isObject() ? functionCall.path("args") : object()));
    return call;
  }

  /** A whole {@code generateContent} answer as a {@code chat.completion}. */
  static ObjectNode answer(JsonNode body, String model, TokenUsage usage) {
    JsonNode candidate = body.path("candidates").path(0);
    StringBuilder text = new StringBuilder();
    ArrayNode calls = LlmClient.JSON.createArrayNode();
    String id = body.path("responseId").asText(ChatShapes.newId());
    for (JsonNode part : candidate.path("content").path("parts")) {
      if (part.path("functionCall").isObject()) {
        calls.add(toolCall(part.path("functionCall"), id + "-call-" + calls.size()));
      } else if (part.path("text").isTextual() && !part.path("thought").asBoolean(false)) {
        text.append(part.path("text").asText());
      }
    }
    ObjectNode message = object().put("role", "assistant");
    if (text.length() == 0 && !calls.isEmpty()) {
      message.putNull("content");
    } else {
      message.put("content", text.toString());
    }
    if (!calls.isEmpty()) {
      message.set("tool_calls", calls);
    }
    message.putNull("refusal");
    return ChatShapes.completion(
        id,
        body.path("modelVersion").asText(model),
        message,
        finishReason(candidate.path("finishReason").asText("STOP"), !calls.isEmpty()),
        usage);
  }

  /**
   * Turns {@code streamGenerateContent} chunks into chunks: the role with the first, text and whole
   * tool calls as they come, the finish reason once a candidate has one, and, when asked, the usage
   * chunk after the stream's end (Gemini's usage is cumulative on every chunk).
   */
  static final class Stream {
    private final ChatRequest request;
    private final ChatShapes.Chunks chunks;
    private boolean started;
    private int toolCalls;

    Stream(ChatRequest request, String model) {
      this.request = request;
      this.chunks = new ChatShapes.Chunks(model);
    }

    void onChunk(JsonNode chunk, Consumer<String> emit) {
      if (!started && chunk.path("responseId").isTextual()) {
        chunks.id = chunk.path("responseId").asText();
      }
      if (chunk.path("modelVersion").isTextual()) {
        chunks.model = chunk.path("modelVersion").asText();
      }
      JsonNode candidate = chunk.path("candidates").path(0);
      StringBuilder text = new StringBuilder();
      ArrayNode calls = LlmClient.JSON.createArrayNode();
      for (JsonNode part : candidate.path("content").path("parts")) {
        if (part.path("functionCall").isObject()) {
          ObjectNode call = toolCall(part.path("functionCall"), chunks.id + "-call-" + toolCalls);
          call.put("index", toolCalls++);
          calls.add(call);
        } else if (part.path("text").isTextual() && !part.path("thought").asBoolean(false)) {
          text.append(part.path("text").asText());
        }
      }
      if (!started) {
        started = true;
        ObjectNode delta = object().put("role", "assistant").put("content", text.toString());
        emit.accept(chunks.delta(delta, null));
      } else if (text.length() > 0) {
        emit.accept(chunks.delta(object().put("content", text.toString()), null));
      }
      if (!calls.isEmpty()) {
        ObjectNode delta = object();
        delta.set("tool_calls", calls);
        emit.accept(chunks.delta(delta, null));
      }
      if (candidate.path("finishReason").isTextual()) {
        emit.accept(
            chunks.delta(
                object(), finishReason(candidate.path("finishReason").asText(), toolCalls > 0)));
      }
    }

    void onEnd(TokenUsage usage, Consumer<String> emit) {
      if (request.includeUsage()) {
        emit.accept(chunks.usage(usage));
      }
    }
  }
}
