package io.vera.operator.provider;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.offset;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.handler.TaskInputException;
import io.vera.operator.handler.TaskInvocation;
import io.vera.operator.provider.llm.AnthropicClient;
import io.vera.operator.provider.llm.LlmConfig;
import io.vera.operator.provider.llm.OpenAiClient;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import mockwebserver3.junit5.StartStop;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** whisper.transcribe against a fake upstream that answers with OpenAI's transcription format. */
class WhisperTranscribeTest {
  private static final ProviderKey KEY = new ProviderKey("ns", "openai");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final byte[] AUDIO =
      "ID3\u0003fake-mp3-frames".getBytes(StandardCharsets.ISO_8859_1);
  private static final String VERBOSE_JSON =
      """
      {"task": "transcribe", "language": "english", "duration": 8.47,
       "text": "The beach was a popular spot on a hot summer day.",
       "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 3.32,
                     "text": " The beach was a popular spot on a hot summer day.",
                     "tokens": [50364, 440], "temperature": 0.0, "avg_logprob": -0.28,
                     "compression_ratio": 1.2, "no_speech_prob": 0.009}],
       "usage": {"type": "duration", "seconds": 9}}
      """;

  @StartStop final MockWebServer server = new MockWebServer();
  private final UsageLedger ledger = new UsageLedger(Clock.systemUTC());
  private final ProviderGateway gateway =
      new ProviderGateway(ledger, new SimpleMeterRegistry(), Clock.systemUTC());
  private final WhisperTranscribe handler = new WhisperTranscribe(gateway);

  @BeforeEach
  void register() {
    ProviderSpec spec = new ProviderSpec();
    spec.type = ProviderSpec.Type.OpenAI;
    gateway.register(
        KEY,
        new OpenAiClient(
            LlmConfig.defaults().withBaseUrl(server.url("/v1").toString()),
            new Credentials(Map.of("apiKey", "sk-test-whisper"))),
        spec);
  }

  private static ObjectNode payload() {
    ObjectNode payload = JSON.createObjectNode();
    payload.put("provider", "openai");
    payload.put("audio_base64", Base64.getEncoder().encodeToString(AUDIO));
    payload.put("file_name", "meeting.mp3");
    payload.put("language", "en");
    return payload;
  }

  private JsonNode run(JsonNode payload) throws Exception {
    return handler.handle(
        new TaskInvocation(
            "t1", WhisperTranscribe.NAME, payload, null, 1, Instant.now().plusSeconds(60), "ns"));
  }

  @Test
  void transcribesPricesPerAudioMinuteAndRecordsTheCall() throws Exception {
    server.enqueue(
        new MockResponse.Builder()
            .addHeader("Content-Type", "application/json")
            .body(VERBOSE_JSON)
            .build());

    JsonNode result = run(payload());

    assertThat(result.path("text").asText())
        .isEqualTo("The beach was a popular spot on a hot summer day.");
    assertThat(result.path("language").asText()).isEqualTo("english");
    assertThat(result.path("duration").asDouble()).isEqualTo(8.47);
    // whisper-1 at $0.006 per minute for the 9 billed seconds
    assertThat(result.path("cost_usd").asDouble()).isCloseTo(0.0009, offset(1e-12));
    RecordedRequest sent = server.takeRequest();
    assertThat(sent.getRequestLine()).isEqualTo("POST /v1/audio/transcriptions HTTP/1.1");
    String form = sent.getBody().string(StandardCharsets.ISO_8859_1);
    assertThat(form)
        .contains("filename=\"meeting.mp3\"")
        .contains("Content-Type: audio/mpeg")
        .contains(new String(AUDIO, StandardCharsets.ISO_8859_1))
        .contains("whisper-1")
        .contains("name=\"language\"");
    UsageLedger.Totals totals = ledger.totals(KEY).orElseThrow();
    assertThat(totals.toStatus().requests).isEqualTo(1);
    assertThat(totals.toStatus().costUsd).isCloseTo(0.0009, offset(1e-12));
  }

  @Test
  void addressesAndFilesAreRefusedWithoutAnyCall() {
    ObjectNode byUrl = payload();
    byUrl.remove("audio_base64");
    byUrl.put("audio_url", "http://127.0.0.1:1/a.mp3");
    assertThatThrownBy(() -> run(byUrl))
        .isInstanceOf(TaskInputException.class)
        .hasMessageContaining("payload.audio_url is refused");
    ObjectNode urlAsAudio = payload().put("audio_base64", "http://127.0.0.1:1/a.mp3");
    assertThatThrownBy(() -> run(urlAsAudio))
        .isInstanceOf(TaskInputException.class)
        .hasMessageContaining("does not fetch addresses");
    assertThatThrownBy(() -> run(payload().put("audio_base64", "not base64!")))
        .isInstanceOf(TaskInputException.class)
        .hasMessageContaining("not base64");
    assertThatThrownBy(() -> run(payload().put("provider", "")))
        .isInstanceOf(TaskInputException.class);
    assertThat(server.getRequestCount()).isZero();
  }

  @Test
  void anUpstreamInputErrorIsNotRetriedButAServerErrorIs() {
    server.enqueue(
        new MockResponse.Builder()
            .code(400)
            .addHeader("Content-Type", "application/json")
            .body(
                "{\"error\":{\"message\":\"Invalid file format.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}")
            .build());
    assertThatThrownBy(() -> run(payload()))
        .isInstanceOf(TaskInputException.class)
        .hasMessageContaining("Invalid file format");
    server.enqueue(
        new MockResponse.Builder()
            .code(500)
            .addHeader("Content-Type", "application/json")
            .body("{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}")
            .build());
    assertThatThrownBy(() -> run(payload()))
        .isInstanceOf(ProviderException.class)
        .isNotInstanceOf(TaskInputException.class);
  }

  @Test
  void aProviderThatCannotTranscribeIsAnInputError() throws Exception {
    ProviderSpec spec = new ProviderSpec();
    spec.type = ProviderSpec.Type.Anthropic;
    gateway.register(
        new ProviderKey("ns", "claude"),
        new AnthropicClient(
            LlmConfig.defaults().withBaseUrl(server.url("/v1").toString()),
            new Credentials(Map.of("apiKey", "x"))),
        spec);
    assertThatThrownBy(() -> run(payload().put("provider", "claude")))
        .isInstanceOf(TaskInputException.class)
        .hasMessageContaining("cannot transcribe audio");
  }

  @Test
  void theOperatorRegistryOffersItAsAWhisperHandler() {
    HandlerRegistry registry = HandlerRegistry.loadDefault().with(handler);
    assertThat(registry.find(WhisperTranscribe.NAME).orElseThrow().metadata().taskType().name())
        .isEqualTo("WHISPER");
    assertThat(HandlerRegistry.loadDefault().find(WhisperTranscribe.NAME))
        .as("worker pods have no gateway and do not offer it")
        .isEmpty();
  }
}
