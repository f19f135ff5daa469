package io.vera.operator.provider.llm;

import static io.vera.operator.provider.llm.Fixtures.CREDENTIALS;
import static io.vera.operator.provider.llm.Fixtures.KEY;
import static io.vera.operator.provider.llm.Fixtures.json;
import static io.vera.operator.provider.llm.Fixtures.jsonResponse;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.offset;

import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderResult;
import io.vera.operator.provider.TokenUsage;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import okhttp3.MediaType;
import org.junit.jupiter.api.Test;

class TranscriptionTest {
  @StartStop final MockWebServer server = new MockWebServer();
  private final FakeTime time = new FakeTime();
  private static final byte[] AUDIO =
      "ID3\u0003fake-mp3-frames".getBytes(StandardCharsets.ISO_8859_1);

  private OpenAiClient client() {
    return new OpenAiClient(
        LlmConfig.defaults().withBaseUrl(server.url("/v1").toString()).withRetry(time.retry()),
        CREDENTIALS);
  }

  private static TranscriptionRequest request(String model, String params) {
    return new TranscriptionRequest(
        AUDIO, "meeting.mp3", "audio/mpeg", model, json(params), Duration.ofSeconds(60), 2);
  }

  @Test
  void sendsAMultipartFormAndPricesTheBilledSecondsPerMinute() throws Exception {
    server.enqueue(
        jsonResponse(
            200,
            """
            {"task": "transcribe", "language": "english", "duration": 8.47,
             "text": "The beach was a popular spot on a hot summer day.",
             "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 3.32,
                           "text": " The beach was a popular spot on a hot summer day.",
                           "tokens": [50364, 440], "temperature": 0.0, "avg_logprob": -0.28,
                           "compression_ratio": 1.2, "no_speech_prob": 0.009}],
             "usage": {"type": "duration", "seconds": 9}}
            """));

    ProviderResult result =
        client().transcribe(request(null, "{\"language\": \"en\", \"temperature\": 0}"));

    RecordedRequest sent = server.takeRequest();
    assertThat(sent.getRequestLine()).isEqualTo("POST /v1/audio/transcriptions HTTP/1.1");
    assertThat(sent.getHeaders().get("Authorization")).isEqualTo("Bearer " + KEY);
    MediaType type = MediaType.get(sent.getHeaders().get("Content-Type"));
    assertThat(type.type() + "/" + type.subtype()).isEqualTo("multipart/form-data");
    String boundary = type.parameter("boundary");
    String form = sent.getBody().string(StandardCharsets.ISO_8859_1);
    assertThat(form)
        .contains(
            "--"
                + boundary
                + "\r\n"
                + "Content-Disposition: form-data; name=\"file\"; filename=\"meeting.mp3\"\r\n"
                + "Content-Type: audio/mpeg\r\n\r\n"
                + new String(AUDIO, StandardCharsets.ISO_8859_1)
                + "\r\n")
        .contains(part(boundary, "model", "whisper-1"))
        .contains(part(boundary, "response_format", "verbose_json"))
        .contains(part(boundary, "language", "en"))
        .contains(part(boundary, "temperature", "0"))
        .endsWith("--" + boundary + "--\r\n");
    assertThat(result.output())
        .isEqualTo(
            json(
                "{\"text\": \"The beach was a popular spot on a hot summer day.\","
                    + " \"language\": \"english\", \"duration\": 8.47}"));
    assertThat(result.model()).isEqualTo("whisper-1");
    assertThat(result.costUsd()).isCloseTo(0.006 * 9 / 60, offset(1e-12));
    assertThat(result.usage()).isEqualTo(TokenUsage.NONE);
  }

  @Test
  void withoutBilledSecondsPricesTheReportedDuration() throws Exception {
    server.enqueue(
        jsonResponse(200, "{\"task\": \"transcribe\", \"duration\": 120.0, \"text\": \"hi\"}"));

    ProviderResult result = client().transcribe(request("whisper-1", "{}"));

    assertThat(result.costUsd()).isCloseTo(0.012, offset(1e-12));
    assertThat(result.output().get("duration").asDouble()).isEqualTo(120.0);
  }

  @Test
  void tokenReportingModelsGetTokenUsageAndCompatibleServersWithoutPriceAreUnpriced()
      throws Exception {
    server.enqueue(
        jsonResponse(
            200,
            "{\"text\": \"hello\", \"usage\": {\"type\": \"tokens\", \"input_tokens\": 14,"
                + " \"input_token_details\": {\"text_tokens\": 0, \"audio_tokens\": 14},"
                + " \"output_tokens\": 45, \"total_tokens\": 59}}"));

    ProviderResult result =
        client().transcribe(request("local-transcriber", "{\"response_format\": \"json\"}"));

    assertThat(result.usage()).isEqualTo(new TokenUsage(14, 45, 0, 0, 0));
    assertThat(result.costUsd()).isNull();
    assertThat(result.output()).isEqualTo(json("{\"text\": \"hello\"}"));
  }

  @Test
  void refusesFormatsItCannotRead() {
    assertThatThrownBy(() -> client().transcribe(request(null, "{\"response_format\": \"srt\"}")))
        .isInstanceOfSatisfying(
            ProviderException.class, e -> assertThat(e.status()).isEqualTo(422));
    assertThatThrownBy(() -> client().transcribe(request(null, "{\"timestamp\": true}")))
        .isInstanceOfSatisfying(
            ProviderException.class, e -> assertThat(e.status()).isEqualTo(422));
    assertThat(server.getRequestCount()).isZero();
  }

  private static String part(String boundary, String name, String value) {
    return "--"
        + boundary
        + "\r\nContent-Disposition: form-data; name=\""
        + name
        + "\"\r\n\r\n"
        + value
        + "\r\n";
  }
}
