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
 * OpenAI chat completions translated to Anthropic's Messages API and back, streams included.
 *
 * <p>Request: {@code system} and {@code developer} messages become the top-level {@code system};
 * user content parts become text and image blocks (base64 {@code data:} URLs as base64 sources,
 * others as URL sources); assistant {@code tool_calls} become {@code tool_use} blocks and {@code
 * tool} messages {@code tool_result} blocks in a user turn; consecutive turns of one role are
 * merged, as the API wants them alternating. {@code max_completion_tokens}/{@code max_tokens}
 * (default {@value AnthropicClient#DEFAULT_MAX_TOKENS}), {@code temperature}, {@code top_p}, {@code
 * top_k}, {@code stop} ({@code stop_sequences}), {@code tools}, {@code tool_choice}, {@code
 * parallel_tool_calls: false} ({@code disable_parallel_tool_use}) and {@code user} ({@code
 * metadata.user_id}) map one to one. {@code response_format} {@code json_object} or {@code
 * json_schema} becomes one forced tool whose input is the JSON answer, handed back as the message
 * content (Anthropic's documented way to get JSON); it cannot be combined with the caller's own
 * tools. Anything else is refused with a 400 naming it.
 *
 * <p>Answer: text blocks are the content, {@code tool_use} blocks the {@code tool_calls}; {@code
 * end_turn}/{@code stop_sequence} finish as {@code stop}, {@code max_tokens} as {@code length},
 * {@code tool_use} as {@code tool_calls}, {@code refusal} as {@code content_filter}. Thinking
 * blocks are not passed on.
 */
final class AnthropicChat {
  private static final String UPSTREAM = "Anthropic Messages";

  /** The forced tool that carries a JSON answer for {@code response_format}. */
  static final String JSON_TOOL = "json_response";

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
          "stream",
          "stream_options",
          "tools",
          "tool_choice",
          "parallel_tool_calls",
          "response_format",
          "user",
          "n");

  private AnthropicChat() {}

  /** The Messages request body for an OpenAI chat completion body. */
  static ObjectNode request(JsonNode in, String model, boolean stream)
      throws UnsupportedParamException {
    ChatShapes.refuseUntranslatable(in, TRANSLATED, UPSTREAM);
    ChatShapes.singleChoice(in, UPSTREAM);
    ObjectNode out = object().put("model", model);
    JsonNode maxTokens = ChatShapes.maxTokens(in);
    if (maxTokens != null) {
      out.put("max_tokens", maxTokens.asLong());
    } else {
      out.put("max_tokens", AnthropicClient.DEFAULT_MAX_TOKENS);
    }
    messages(in.path("messages"), out);
    for (String name : new String[] {"temperature", "top_p", "top_k"}) {
      JsonNode value = in.path(name);
      if (!value.isMissingNode() && !value.isNull()) {
        if (!value.isNumber()) {
          throw invalid(name, "must be a number");
        }
        out.set(name, value);
      }
    }
    ArrayNode stop = ChatShapes.stopSequences(in);
    if (stop != null) {
      out.set("stop_sequences", stop);
    }
    String user = ChatShapes.text(in, "user", "user");
    if (user != null) {
      out.putObject("metadata").put("user_id", user);
    }
    tools(in, out);
    if (stream) {
      out.put("stream", true);
    }
    return out;
  }

  private static void messages(JsonNode messages, ObjectNode out) throws UnsupportedParamException {
    if (!messages.isArray() || messages.isEmpty()) {
      throw invalid("messages", "must be a non-empty list");
    }
    ArrayNode system = object().putArray("system");
    ArrayNode turns = out.putArray("messages");
    for (int i = 0; i < messages.size(); i++) {
      JsonNode message = messages.get(i);
      String at = "messages[" + i + "]";
      if (message.hasNonNull("name")) {
        throw unsupported(at + ".name", UPSTREAM);
      }
      String role = message.path("role").asText();
      switch (role) {
        case "system", "developer" -> {
          String text = ChatShapes.plainText(message.path("content"), at + ".content");
          system.addObject().put("type", "text").put("text", text);
        }
        case "user" -> turn(turns, "user").addAll(userBlocks(message.path("content"), at));
        case "assistant" -> turn(turns, "assistant").addAll(assistantBlocks(message, at));
        case "tool" -> {
          String id = ChatShapes.text(message, "tool_call_id", at + ".tool_call_id");
          if (id == null) {
            throw invalid(at + ".tool_call_id", "is required on a tool message");
          }
          ObjectNode result = object().put("type", "tool_result").put("tool_use_id", id);
          result.put("content", ChatShapes.plainText(message.path("content"), at + ".content"));
          turn(turns, "user").add(result);
        }
        default ->
            throw invalid(at + ".role", "must be system, developer, user, assistant or tool");
      }
    }
    if (!system.isEmpty()) {
      out.set("system", system);
    }
  }

  /** The content list of the last turn if it has {@code role}, else of a new turn. */
  private static ArrayNode turn(ArrayNode turns, String role) {
    JsonNode last = turns.isEmpty() ? null : turns.get(turns.size() - 1);
    if (last != null && role.equals(last.path("role").asText())) {
      return (ArrayNode) last.get("content");
    }
    ObjectNode turn = turns.addObject().put("role", role);
    return turn.putArray("content");
  }

  private static ArrayNode userBlocks(JsonNode content, String at)
      throws UnsupportedParamException {
    ArrayNode blocks = LlmClient.JSON.createArrayNode();
    if (content.isTextual()) {
      blocks.addObject().put("type", "text").put("text", content.asText());
      return blocks;
    }
    if (!content.isArray()) {
      throw invalid(at + ".content", "must be a string or a list of content parts");
    }
    for (int j = 0; j < content.size(); j++) {
      JsonNode part = content.get(j);
      String partAt = at + ".content[" + j + "]";
      switch (part.path("type").asText()) {
        case "text" ->
            blocks.addObject().put("type", "text").put("text", part.path("text").asText());
        case "image_url" -> {
          String url = part.path("image_url").path("url").asText("");
          ChatShapes.InlineImage inline = ChatShapes.inlineImage(url, partAt + ".image_url.url");
          ObjectNode source = blocks.addObject().put("type", "image").putObject("source");
          if (inline != null) {
            source
                .put("type", "base64")
                .put("media_type", inline.mediaType())
                .put("data", inline.base64());
          } else if (url.startsWith("https://") || url.startsWith("http://")) {
            source.put("type", "url").put("url", url);
          } else {
            throw invalid(partAt + ".image_url.url", "must be an http(s) or data: URL");
          }
        }
        default -> throw unsupported(partAt + ".type=" + part.path("type").asText(), UPSTREAM);
      }
    }
    return blocks;
  }

  private static ArrayNode assistantBlocks(JsonNode message, String at)
      throws UnsupportedParamException {
    ArrayNode blocks = LlmClient.JSON.createArrayNode();
    String text = ChatShapes.plainText(message.path("content"), at + ".content");
    if (!text.isEmpty()) {
      blocks.addObject().put("type", "text").put("text", text);
    }
    JsonNode calls = message.path("tool_calls");
    for (int j = 0; j < calls.size(); j++) {
      JsonNode call = calls.get(j);
      String callAt = at + ".tool_calls[" + j + "]";
      blocks
          .addObject()
          .put("type", "tool_use")
          .put("id", call.path("id").asText())
          .put("name", call.path("function").path("name").asText())
          .set(
              "input",
              ChatShapes.arguments(
                  call.path("function").path("arguments"), callAt + ".function.arguments"));
    }
    if (blocks.isEmpty()) {
      blocks.addObject().put("type", "text").put("text", "");
    }
    return blocks;
  }

  private static void tools(JsonNode in, ObjectNode out) throws UnsupportedParamException {
    JsonNode tools = in.path("tools");
    JsonNode format = in.path("response_format");
    String formatType = format.path("type").asText("text");
    boolean json = formatType.equals("json_object") || formatType.equals("json_schema");
    if (!formatType.equals("text") && !json) {
      throw invalid("response_format", "type must be text, json_object or json_schema");
    }
    if (json) {
      if (tools.isArray() && !tools.isEmpty()) {
        throw invalid(
            "response_format",
            "cannot be combined with tools for Anthropic (it is sent as a forced tool)");
      }
      JsonNode schema =
          formatType.equals("json_schema")
              ? format.path("json_schema").path("schema")
              : object().put("type", "object");
      if (!schema.isObject()) {
        throw invalid("response_format.json_schema.schema", "must be a JSON schema object");
      }
      out.putArray("tools")
          .addObject()
          .put("name", JSON_TOOL)
          .put("description", "Answer with a JSON value matching this schema.")
          .set("input_schema", schema);
      out.putObject("tool_choice").put("type", "tool").put("name", JSON_TOOL);
      return;
    }
    if (tools.isArray() && !tools.isEmpty()) {
      ArrayNode declared = out.putArray("tools");
      for (int j = 0; j < tools.size(); j++) {
        JsonNode tool = tools.get(j);
        if (!"function".equals(tool.path("type").asText())) {
          throw unsupported("tools[" + j + "].type=" + tool.path("type").asText(), UPSTREAM);
        }
        JsonNode function = tool.path("function");
        ObjectNode entry = declared.addObject().put("name", function.path("name").asText());
        if (function.hasNonNull("description")) {
          entry.set("description", function.get("description"));
        }
        entry.set(
            "input_schema",
            function.path("parameters").isObject()
                ? function.get("parameters")
                : object().put("type", "object"));
      }
    }
    JsonNode choice = in.path("tool_choice");
    ObjectNode toolChoice = null;
    if (choice.isTextual()) {
      toolChoice =
          switch (choice.asText()) {
            case "auto" -> object().put("type", "auto");
            case "none" -> object().put("type", "none");
            case "required" -> object().put("type", "any");
            default -> throw invalid("tool_choice", "must be auto, none, required or a function");
          };
    } else if (choice.isObject()) {
      toolChoice =
          object().put("type", "tool").put("name", choice.path("function").path("name").asText());
    }
    JsonNode parallel = in.path("parallel_tool_calls");
    if (parallel.isBoolean() && !parallel.asBoolean()) {
      if (toolChoice == null) {
        toolChoice = object().put("type", "auto");
      }
      toolChoice.put("disable_parallel_tool_use", true);
    }
    if (toolChoice != null) {
      out.set("tool_choice", toolChoice);
    }
  }

  /** Anthropic's {@code stop_reason} as OpenAI's {@code finish_reason}. */
  static String finishReason(String stopReason) {
    if (stopReason == null) {
      return "stop";
    }
    return switch (stopReason) {
      case "max_tokens", "model_context_window_exceeded" -> "length";
      case "tool_use" -> "tool_calls";
      case "refusal" -> "content_filter";
      default -> "stop";
    };
  }

  /** A whole Messages answer as a {@code chat.completion}. */
  static ObjectNode answer(JsonNode body, String model, TokenUsage usage) {
    StringBuilder text = new StringBuilder();
    ArrayNode calls = LlmClient.JSON.createArrayNode();
    boolean jsonAnswer = false;
    for (JsonNode block : body.path("content")) {
      switch (block.path("type").asText()) {
        case "text" -> text.append(block.path("text").asText());
        case "tool_use" -> {
          if (JSON_TOOL.equals(block.path("name").asText())) {
            text.append(ChatShapes.json(block.path("input")));
            jsonAnswer = true;
          } else {
            ObjectNode call = calls.addObject();
            call.put("id", block.path("id").asText());
            call.put("type", "function");
            call.putObject("function")
                .put("name", block.path("name").asText())
                .put("arguments", ChatShapes.json(block.path("input")));
          }
        }
        default -> {}
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
    String finish =
        jsonAnswer ? "stop" : finishReason(LlmClient.textOrNull(body.path("stop_reason")));
    return ChatShapes.completion(
        body.path("id").asText(ChatShapes.newId()),
        body.path("model").asText(model),
        message,
        finish,
        usage);
  }

  /**
   * Turns Messages stream events into chunks: the role on {@code message_start}, text and tool call
   * deltas as they come, the finish reason on {@code message_delta} and, when asked, the usage
   * chunk on {@code message_stop}.
   */
  static final class Stream {
    private final ChatRequest request;
    private final ChatShapes.Chunks chunks;
    private final Map<Integer, Integer> toolIndexByBlock = new HashMap<>();
    private int jsonBlock = -1;
    private boolean jsonAnswer;

    Stream(ChatRequest request, String model) {
      this.request = request;
      this.chunks = new ChatShapes.Chunks(model);
    }

    void onStart(JsonNode message, Consumer<String> emit) {
      if (message.path("id").isTextual()) {
        chunks.id = message.path("id").asText();
      }
      if (message.path("model").isTextual()) {
        chunks.model = message.path("model").asText();
      }
      emit.accept(chunks.delta(object().put("role", "assistant").put("content", ""), null));
    }

    void onBlockStart(JsonNode event, Consumer<String> emit) {
      JsonNode block = event.path("content_block");
      if (!"tool_use".equals(block.path("type").asText())) {
        return;
      }
      int index = event.path("index").asInt();
      if (JSON_TOOL.equals(block.path("name").asText())) {
        jsonBlock = index;
        jsonAnswer = true;
        return;
      }
      int toolIndex = toolIndexByBlock.size();
      toolIndexByBlock.put(index, toolIndex);
      ObjectNode call = object().put("index", toolIndex);
      call.put("id", block.path("id").asText());
      call.put("type", "function");
      call.putObject("function").put("name", block.path("name").asText()).put("arguments", "");
      ObjectNode delta = object();
      delta.putArray("tool_calls").add(call);
      emit.accept(chunks.delta(delta, null));
    }

    void onBlockDelta(JsonNode event, Consumer<String> emit) {
      JsonNode delta = event.path("delta");
      int index = event.path("index").asInt();
      switch (delta.path("type").asText()) {
        case "text_delta" ->
            emit.accept(chunks.delta(object().put("content", delta.path("text").asText()), null));
        case "input_json_delta" -> {
          String partial = delta.path("partial_json").asText();
          if (index == jsonBlock) {
            emit.accept(chunks.delta(object().put("content", partial), null));
          } else if (toolIndexByBlock.containsKey(index)) {
            ObjectNode call = object().put("index", toolIndexByBlock.get(index));
            call.putObject("function").put("arguments", partial);
            ObjectNode out = object();
            out.putArray("tool_calls").add(call);
            emit.accept(chunks.delta(out, null));
          }
        }
        default -> {}
      }
    }

    void onMessageDelta(JsonNode event, Consumer<String> emit) {
      JsonNode stopReason = event.path("delta").path("stop_reason");
      if (stopReason.isTextual()) {
        String finish = jsonAnswer ? "stop" : finishReason(stopReason.asText());
        emit.accept(chunks.delta(object(), finish));
      }
    }

    void onStop(TokenUsage usage, Consumer<String> emit) {
      if (request.includeUsage()) {
        emit.accept(chunks.usage(usage));
      }
    }
  }
}
