package io.vera.operator.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.TaskType;
import io.vera.operator.handler.HandlerInfo;
import io.vera.operator.handler.TaskHandler;
import io.vera.operator.handler.TaskInputException;
import io.vera.operator.handler.TaskInvocation;
import io.vera.operator.provider.llm.TranscriptionRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The built-in {@code whisper.transcribe} handler: transcribes audio with an OpenAI (or
 * OpenAI-compatible) Provider in the task's namespace, through the {@link ProviderGateway}, so the
 * Provider's limits and budget apply and the call is priced per audio minute and recorded in its
 * usage totals.
 *
 * <p>It needs the operator's services (credentials, gateway), so it is registered by the operator
 * and runs in Embedded WHISPER pools; worker pods do not offer it. The audio travels in the payload
 * as base64: the operator never fetches a URL or reads a path a task names, so a task cannot make
 * it reach an arbitrary address.
 *
 * <p>Payload: {@code provider} (required), {@code audio_base64} (required), {@code file_name} (its
 * extension tells the server the format; {@code audio.mp3} by default), {@code media_type} (from
 * the extension by default), {@code model} ({@code whisper-1} by default), {@code language}, {@code
 * prompt}, {@code temperature}, {@code response_format} ({@code json} or {@code verbose_json}).
 */
@HandlerInfo(
    name = WhisperTranscribe.NAME,
    taskType = TaskType.WHISPER,
    priority = TaskPriority.NORMAL,
    timeoutSeconds = 600,
    maxRetries = 2,
    cpuCores = 0.05,
    memoryMb = 64,
    labels = {"audio", "provider"},
    description =
        "Transcribes base64 audio (payload.audio_base64) with the OpenAI-compatible Provider"
            + " payload.provider; priced per audio minute")
public final class WhisperTranscribe implements TaskHandler {
  public static final String NAME = "whisper.transcribe";

  /** OpenAI's upload limit. */
  static final int MAX_AUDIO_BYTES = 25 * 1024 * 1024;

  private static final List<String> REFUSED_SOURCES =
      List.of("audio_url", "url", "file_url", "file_path", "audio_path", "path");
  private static final List<String> PARAMS =
      List.of("language", "prompt", "temperature", "response_format");
  private static final Map<String, String> MEDIA_TYPES =
      Map.of(
          "mp3", "audio/mpeg",
          "mpga", "audio/mpeg",
          "mpeg", "audio/mpeg",
          "wav", "audio/wav",
          "m4a", "audio/mp4",
          "mp4", "audio/mp4",
          "webm", "audio/webm",
          "ogg", "audio/ogg",
          "flac", "audio/flac");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final ProviderGateway gateway;

  /** The call runs here so the attempt's thread can abort it when interrupted (cancel). */
  private final ExecutorService calls =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "whisper-call");
            t.setDaemon(true);
            return t;
          });

  public WhisperTranscribe(ProviderGateway gateway) {
    this.gateway = gateway;
  }

  @Override
  public JsonNode handle(TaskInvocation invocation) throws Exception {
    if (invocation.namespace() == null) {
      throw new TaskInputException(
          NAME + " runs only in the operator's Embedded pools, which hold the Provider's keys");
    }
    JsonNode payload = invocation.payload();
    if (!payload.isObject()) {
      throw new TaskInputException("the payload must be a JSON object");
    }
    for (String field : REFUSED_SOURCES) {
      if (payload.has(field)) {
        throw new TaskInputException(
            "payload."
                + field
                + " is refused: the operator does not fetch addresses or read files; send the"
                + " audio itself as payload.audio_base64");
      }
    }
    String provider = text(payload, "provider", true);
    byte[] audio = audio(text(payload, "audio_base64", true));
    String fileName = text(payload, "file_name", false);
    if (fileName == null) {
      fileName = "audio.mp3";
    }
    String mediaType = text(payload, "media_type", false);
    if (mediaType == null) {
      String extension = fileName.substring(fileName.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
      mediaType = MEDIA_TYPES.getOrDefault(extension, "application/octet-stream");
    }
    ObjectNode params = JSON.createObjectNode();
    for (String name : PARAMS) {
      if (payload.hasNonNull(name)) {
        params.set(name, payload.get(name));
      }
    }
    Duration left = Duration.between(Instant.now(), invocation.deadline());
    TranscriptionRequest request =
        new TranscriptionRequest(
            audio,
            fileName,
            mediaType,
            text(payload, "model", false),
            params,
            left.isNegative() ? Duration.ZERO : left,
            0);
    ProviderResult result = call(new ProviderKey(invocation.namespace(), provider), request);
    ObjectNode out = result.output().deepCopy();
    out.put("provider", provider);
    out.put("model", result.model());
    if (result.costUsd() == null) {
      out.putNull("cost_usd");
    } else {
      out.put("cost_usd", result.costUsd());
    }
    out.put("latency_ms", result.latencyMs());
    return out;
  }

  /** Makes the call on a helper thread; an interrupt of this one cancels it. */
  private ProviderResult call(ProviderKey key, TranscriptionRequest request) throws Exception {
    CallCancellation scope = new CallCancellation();
    Future<ProviderResult> call =
        calls.submit(() -> scope.run(() -> gateway.transcribe(key, request)));
    try {
      return call.get();
    } catch (InterruptedException e) {
      scope.cancel();
      call.cancel(true);
      throw e;
    } catch (ExecutionException e) {
      if (e.getCause() instanceof ProviderException failure) {
        boolean inputError =
            failure.status() >= 400
                && failure.status() < 500
                && failure.status() != 429
                && failure.status() != 404;
        String message = "Provider " + key.name() + " (HTTP " + failure.status() + "): ";
        if (inputError) {
          throw new TaskInputException(message + failure.getMessage());
        }
        throw new ProviderException(
            failure.status(), message + failure.getMessage(), true, failure.retryAfter(), null);
      }
      throw e;
    }
  }

  private static String text(JsonNode payload, String field, boolean required)
      throws TaskInputException {
    JsonNode value = payload.get(field);
    if (value == null || value.isNull()) {
      if (required) {
        throw new TaskInputException("payload." + field + " is required");
      }
      return null;
    }
    if (!value.isTextual() || value.asText().isBlank()) {
      throw new TaskInputException("payload." + field + " must be a non-empty string");
    }
    return value.asText();
  }

  private static byte[] audio(String base64) throws TaskInputException {
    if (base64.length() > MAX_AUDIO_BYTES / 3 * 4 + 4) {
      throw new TaskInputException(
          "payload.audio_base64 is over the " + MAX_AUDIO_BYTES + "-byte limit of the upload");
    }
    String compact = base64.replaceAll("\\s", "");
    if (compact.contains("://")) {
      throw new TaskInputException(
          "payload.audio_base64 holds an address: the operator does not fetch addresses; send"
              + " the audio itself, base64-encoded");
    }
    byte[] audio;
    try {
      audio = Base64.getDecoder().decode(compact);
    } catch (IllegalArgumentException e) {
      throw new TaskInputException("payload.audio_base64 is not base64: " + e.getMessage());
    }
    if (audio.length == 0) {
      throw new TaskInputException("payload.audio_base64 holds no audio");
    }
    return audio;
  }
}
