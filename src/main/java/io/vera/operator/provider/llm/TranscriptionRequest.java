package io.vera.operator.provider.llm;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;

/**
 * One audio file to transcribe, as the {@code whisper.transcribe} handler asks for it.
 *
 * @param audio the file's bytes (OpenAI accepts up to 25 MB)
 * @param fileName sent as the part's file name; servers use its extension to tell the format
 * @param mediaType e.g. {@code audio/mpeg}, {@code audio/wav}
 * @param model null for {@code whisper-1}
 * @param params {@code language}, {@code prompt}, {@code temperature}, {@code response_format}
 *     ({@code json} or {@code verbose_json}); null or empty for none
 * @param timeout the whole call's deadline, retries included; null for 300 s
 * @param maxRetries attempts after the first for retryable failures
 */
public record TranscriptionRequest(
    byte[] audio,
    String fileName,
    String mediaType,
    String model,
    JsonNode params,
    Duration timeout,
    int maxRetries) {}
