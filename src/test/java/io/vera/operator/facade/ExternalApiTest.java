package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.vera.operator.api.Provider;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.app.OperatorHarness.Response;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The legacy external API end to end, against a fake OpenAI-compatible upstream on 127.0.0.1 that
 * answers with OpenAI's wire format: keys go to Secrets, calls carry their own usage and cost, and
 * the key shows up nowhere a client or an operator could read it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ExternalApiTest {
  private static final String KEY = "sk-test-RECOGNISABLE-0123456789";
  private final MockWebServer upstream = new MockWebServer();
  private final List<RecordedRequest> seen = new CopyOnWriteArrayList<>();
  private OperatorHarness harness;

  @BeforeAll
  void start() throws Exception {
    upstream.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            seen.add(request);
            String path = request.getUrl().encodedPath();
            if (path.endsWith("/models")) {
              return json(
                  "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\",\"object\":\"model\"}]}");
            }
            if (path.endsWith("/audio/transcriptions")) {
              return json(
                  "{\"task\":\"transcribe\",\"language\":\"english\",\"duration\":8.47,\"text\":\"Hello from the beach.\",\"segments\":[],\"usage\":{\"type\":\"duration\",\"seconds\":9}}");
            }
            if (request.getBody() != null && request.getBody().utf8().contains("\"stream\":true")) {
              return new MockResponse.Builder()
                  .addHeader("Content-Type", "text/event-stream")
                  .body(
                      "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Once\"},\"finish_reason\":null}]}\n\n"
                          + "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" upon\"},\"finish_reason\":\"stop\"}]}\n\n"
                          + "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n"
                          + "data: [DONE]\n\n")
                  .build();
            }
            return json(
                "{\"id\":\"c2\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Distributed computing offers scale.\"},\"finish_reason\":\"stop\"}],"
                    + "\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":500,\"total_tokens\":1500,\"prompt_tokens_details\":{\"cached_tokens\":200},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}");
          }
        });
    upstream.start();
    harness = new OperatorHarness();
  }

  @AfterAll
  void stop() throws Exception {
    harness.close();
    upstream.close();
  }

  private static MockResponse json(String body) {
    return new MockResponse.Builder()
        .addHeader("Content-Type", "application/json")
        .body(body)
        .build();
  }

  private void initialize() {
    Response init =
        harness.post(
            "/orchestrator/external/initialize",
            "{\"openai\": {\"api_key\": \""
                + KEY
                + "\", \"base_url\": \""
                + upstream.url("/v1")
                + "\"}}");
    assertThat(init.status()).as(init.text()).isEqualTo(200);
    assertThat(init.text()).doesNotContain(KEY);
    harness.awaitProviderReady("openai", Duration.ofSeconds(15));
  }

  @Test
  void executeReturnsThisRequestsOwnUsageAndCostAndTotalsAccumulate() {
    initialize();
    String body =
        "{\"provider\": \"openai\", \"task_name\": \"llm.summarize\", \"prompt\": \"Summarize\", \"model\": \"gpt-4o\", \"extra_params\": {\"temperature\": 0.2}}";
    JsonNode first = harness.post("/orchestrator/external/execute", body).json();
    assertThat(first.get("status").asText()).isEqualTo("success");
    assertThat(first.get("result").asText()).isEqualTo("Distributed computing offers scale.");
    assertThat(first.get("tokens_in").asLong()).isEqualTo(1000);
    assertThat(first.get("tokens_out").asLong()).isEqualTo(500);
    assertThat(first.get("cached_tokens").asLong()).isEqualTo(200);
    // gpt-4o: 800 fresh input at $2.50/M + 200 cached at $1.25/M + 500 output at $10/M
    assertThat(first.get("cost_usd").asDouble())
        .isCloseTo(0.00725, org.assertj.core.data.Offset.offset(1e-9));
    JsonNode second = harness.post("/orchestrator/external/execute", body).json();
    assertThat(second.get("tokens_in").asLong())
        .as("per request, not running totals")
        .isEqualTo(1000);

    JsonNode stats = harness.get("/orchestrator/external/stats/openai").json();
    assertThat(stats.get("total_requests").asLong()).isGreaterThanOrEqualTo(2);
    assertThat(stats.get("total_tokens_in").asLong()).isGreaterThanOrEqualTo(2000);
    JsonNode cost = harness.get("/orchestrator/external/stats/cost/summary").json();
    assertThat(cost.get("by_provider").get("openai").asDouble())
        .isGreaterThanOrEqualTo(0.0145 - 1e-9);
    assertThat(
            harness
                .get("/orchestrator/external/stats/tokens/summary")
                .json()
                .get("total_tokens")
                .asLong())
        .isGreaterThanOrEqualTo(3000);
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              Provider provider =
                  harness
                      .client()
                      .resources(Provider.class)
                      .inNamespace(OperatorHarness.NAMESPACE)
                      .withName("openai")
                      .get();
              assertThat(provider.getStatus().usage.requests).isGreaterThanOrEqualTo(2);
              assertThat(provider.getStatus().usage.tokensIn).isGreaterThanOrEqualTo(2000);
            });
    RecordedRequest call =
        seen.stream()
            .filter(r -> r.getUrl().encodedPath().endsWith("/chat/completions"))
            .findFirst()
            .orElseThrow();
    assertThat(call.getHeaders().get("Authorization")).isEqualTo("Bearer " + KEY);
  }

  @Test
  void aVeraTaskWithProviderRefWritesItsAnswerAndUsageToStatus() {
    initialize();
    harness
        .client()
        .resource(
            Serialization.unmarshal(
                "apiVersion: vera.io/v1alpha1\nkind: VeraTask\nmetadata: {name: ask-openai}\n"
                    + "spec: {handler: llm.summarize, providerRef: {name: openai, model: gpt-4o,"
                    + " prompt: Summarize}, timeoutSeconds: 60}\n",
                VeraTask.class))
        .inNamespace(OperatorHarness.NAMESPACE)
        .create();
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              VeraTask task = harness.task("ask-openai");
              assertThat(task.getStatus()).isNotNull();
              assertThat(task.getStatus().phase).isEqualTo(TaskPhase.Succeeded);
              assertThat(task.getStatus().result.path("output").asText())
                  .isEqualTo("Distributed computing offers scale.");
              assertThat(task.getStatus().usage.tokensIn).isEqualTo(1000);
              assertThat(task.getStatus().usage.tokensOut).isEqualTo(500);
              assertThat(task.getStatus().usage.costUsd)
                  .isCloseTo(0.00725, org.assertj.core.data.Offset.offset(1e-9));
              assertThat(task.getStatus().pool).isEqualTo("provider:openai");
            });
  }

  @Test
  void workerPodsCannotLeaseAProvidersQueue() {
    initialize();
    Response lease =
        harness.post(
            "/internal/v1/namespaces/default/pools/provider:openai/lease",
            "{\"worker_id\": \"pod-1\", \"wait_seconds\": 0}");
    assertThat(lease.status()).as(lease.text()).isEqualTo(404);
  }

  @Test
  void anEmbeddedWhisperPoolRunsWhisperTranscribe() {
    initialize();
    harness.createEmbeddedPool("whisper-pool", TaskType.WHISPER, 1, false);
    harness
        .client()
        .resource(
            Serialization.unmarshal(
                "apiVersion: vera.io/v1alpha1\nkind: VeraTask\nmetadata: {name: transcribe-1}\n"
                    + "spec: {handler: whisper.transcribe, payload: {provider: openai,"
                    + " audio_base64: SUQzA2Zha2UtbXAzLWZyYW1lcw==, file_name: clip.mp3}}\n",
                VeraTask.class))
        .inNamespace(OperatorHarness.NAMESPACE)
        .create();
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              VeraTask task = harness.task("transcribe-1");
              assertThat(task.getStatus()).isNotNull();
              assertThat(task.getStatus().phase).isEqualTo(TaskPhase.Succeeded);
              assertThat(task.getStatus().pool).isEqualTo("whisper-pool");
              assertThat(task.getStatus().result.path("text").asText())
                  .isEqualTo("Hello from the beach.");
              assertThat(task.getStatus().result.path("cost_usd").asDouble())
                  .isCloseTo(0.0009, org.assertj.core.data.Offset.offset(1e-12));
            });
  }

  @Test
  void streamSendsChunksThenTheUsageOfTheStream() {
    initialize();
    Response stream =
        harness.post(
            "/orchestrator/external/execute/stream",
            "{\"provider\": \"openai\", \"task_name\": \"llm.generate\", \"prompt\": \"story\", \"model\": \"gpt-4o\", \"stream\": true}");
    assertThat(stream.status()).isEqualTo(200);
    assertThat(stream.text())
        .contains("data: {\"chunk\":\"Once\"}")
        .contains("data: {\"chunk\":\" upon\"}")
        .contains("\"status\":\"complete\"")
        .contains("\"tokens_in\":9")
        .contains("\"tokens_out\":2");
    assertThat(
            harness
                .post(
                    "/orchestrator/external/execute/stream",
                    "{\"provider\": \"openai\", \"prompt\": \"x\"}")
                .status())
        .isEqualTo(422);
  }

  @Test
  void unknownProvidersAndBadInputAreRefused() {
    assertThat(harness.get("/orchestrator/external/stats/anthropic").status()).isEqualTo(404);
    Response unknown =
        harness.post(
            "/orchestrator/external/execute", "{\"provider\": \"nope\", \"prompt\": \"x\"}");
    assertThat(unknown.status()).isEqualTo(404);
    assertThat(unknown.json().get("detail").asText()).contains("not initialized");
    assertThat(
            harness
                .post(
                    "/orchestrator/external/execute", "{\"provider\": \"openai\", \"timeout\": 0}")
                .status())
        .isEqualTo(422);
    assertThat(harness.post("/orchestrator/external/initialize", "{\"openai\": {}}").status())
        .isEqualTo(422);
    assertThat(harness.post("/orchestrator/external/initialize", "{}").status()).isEqualTo(422);
  }

  @Test
  void theKeyIsNeverShownInResponsesStatusOrEvents() {
    initialize();
    harness.post(
        "/orchestrator/external/execute", "{\"provider\": \"openai\", \"prompt\": \"hi\"}");
    for (String path :
        List.of(
            "/orchestrator/external/providers",
            "/orchestrator/external/providers/openai/status",
            "/orchestrator/external/stats",
            "/orchestrator/external/stats/openai",
            "/orchestrator/external/health",
            "/metrics")) {
      assertThat(harness.get(path).text()).as(path).doesNotContain(KEY);
    }
    Provider provider =
        harness
            .client()
            .resources(Provider.class)
            .inNamespace(OperatorHarness.NAMESPACE)
            .withName("openai")
            .get();
    assertThat(io.fabric8.kubernetes.client.utils.Serialization.asJson(provider))
        .doesNotContain(KEY);
    assertThat(
            io.fabric8.kubernetes.client.utils.Serialization.asJson(
                harness.client().v1().events().inNamespace(OperatorHarness.NAMESPACE).list()))
        .doesNotContain(KEY);
  }
}
