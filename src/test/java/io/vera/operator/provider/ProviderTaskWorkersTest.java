package io.vera.operator.provider;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.api.VeraTaskStatus;
import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.provider.llm.LlmConfig;
import io.vera.operator.provider.llm.OpenAiClient;
import io.vera.operator.task.TaskAdmission;
import io.vera.operator.task.TaskDispatcher;
import io.vera.operator.task.TaskError;
import io.vera.operator.task.TaskKey;
import io.vera.operator.task.TaskSnapshot;
import io.vera.operator.task.TaskStatusMapper;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * VeraTasks with a providerRef, run by the operator's provider queue through the gateway against a
 * fake OpenAI upstream on 127.0.0.1 that answers in OpenAI's wire format.
 */
class ProviderTaskWorkersTest {
  private static final String NS = "ns";
  private static final ProviderKey KEY = new ProviderKey(NS, "openai");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String COMPLETION =
      """
      {"id":"chatcmpl-1","object":"chat.completion","created":1741570283,
       "model":"gpt-4o-2024-08-06",
       "choices":[{"index":0,"message":{"role":"assistant","content":"Queues put urgent work first."},
                   "finish_reason":"stop"}],
       "usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,
                "prompt_tokens_details":{"cached_tokens":200},
                "completion_tokens_details":{"reasoning_tokens":0}}}
      """;

  private final MockWebServer server = new MockWebServer();
  private final BlockingQueue<MockResponse> answers = new LinkedBlockingQueue<>();
  private final List<Long> arrivals = new CopyOnWriteArrayList<>();
  private final List<String> bodies = new CopyOnWriteArrayList<>();
  private final UsageLedger ledger = new UsageLedger(Clock.systemUTC());
  private final ProviderGateway gateway =
      new ProviderGateway(ledger, new SimpleMeterRegistry(), Clock.systemUTC());
  private final TaskDispatcher dispatcher =
      new TaskDispatcher(
          HandlerRegistry.loadDefault(),
          key -> {},
          new TaskDispatcher.Settings(100_000, 300, 0, Duration.ofSeconds(5)),
          Clock.systemUTC());
  private final ProviderTaskWorkers workers =
      new ProviderTaskWorkers(dispatcher, gateway, Clock.systemUTC());

  @BeforeEach
  void start() throws Exception {
    server.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            arrivals.add(System.nanoTime());
            bodies.add(request.getBody() == null ? "" : request.getBody().utf8());
            MockResponse next = answers.poll();
            return next != null ? next : json(200, COMPLETION);
          }
        });
    server.start();
    gateway.register(
        KEY,
        new OpenAiClient(
            LlmConfig.defaults().withBaseUrl(server.url("/v1").toString()),
            new Credentials(Map.of("apiKey", "sk-test-provider-task"))),
        spec());
    workers.serve(KEY, spec(), null);
  }

  @AfterEach
  void stop() throws Exception {
    workers.close();
    dispatcher.close();
    server.close();
  }

  private static ProviderSpec spec() {
    ProviderSpec spec = new ProviderSpec();
    spec.type = ProviderSpec.Type.OpenAI;
    spec.limits = new ProviderSpec.Limits();
    spec.limits.maxConcurrency = 1;
    return spec;
  }

  private static MockResponse json(int code, String body) {
    return new MockResponse.Builder()
        .code(code)
        .addHeader("Content-Type", "application/json")
        .body(body)
        .build();
  }

  private static VeraTask task(String name, String provider, int retries, int timeoutSeconds) {
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace(NS)
            .withName(name)
            .withUid(UUID.randomUUID().toString())
            .withGeneration(1L)
            .withCreationTimestamp(Instant.now().toString())
            .build());
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.handler = "llm.summarize";
    spec.providerRef = new VeraTaskSpec.ProviderTarget();
    spec.providerRef.name = provider;
    spec.providerRef.prompt = "Why order by priority?";
    spec.providerRef.model = "gpt-4o";
    spec.providerRef.params = JSON.createObjectNode().put("temperature", 0.2);
    spec.retries = new VeraTaskSpec.RetryPolicy();
    spec.retries.limit = retries;
    spec.retries.backoffSeconds = 0;
    spec.timeoutSeconds = timeoutSeconds;
    task.setSpec(spec);
    return task;
  }

  private TaskSnapshot get(String name) {
    return dispatcher.get(new TaskKey(NS, name)).orElseThrow();
  }

  private TaskSnapshot awaitPhase(String name, TaskPhase phase) {
    await().atMost(Duration.ofSeconds(30)).until(() -> get(name).phase() == phase);
    return get(name);
  }

  @Test
  void aCallSucceedsWithTheAnswerAndItsOwnUsageInStatusAndTheLedger() throws Exception {
    dispatcher.track(task("summary", "openai", 0, 60));

    TaskSnapshot done = awaitPhase("summary", TaskPhase.Succeeded);
    assertThat(done.handler()).isEqualTo(TaskAdmission.PROVIDER_CALL_HANDLER);
    assertThat(done.pool().name()).isEqualTo("provider:openai");
    assertThat(done.result().path("output").asText()).isEqualTo("Queues put urgent work first.");
    assertThat(done.result().path("model").asText()).isEqualTo("gpt-4o-2024-08-06");
    assertThat(done.result().path("usage").path("cached_tokens").asLong()).isEqualTo(200);
    VeraTaskStatus status = TaskStatusMapper.toStatus(done);
    assertThat(status.usage.tokensIn).isEqualTo(1000);
    assertThat(status.usage.tokensOut).isEqualTo(500);
    // gpt-4o: 800 fresh input at $2.50/M + 200 cached at $1.25/M + 500 output at $10/M
    assertThat(status.usage.costUsd).isCloseTo(0.00725, Offset.offset(1e-9));
    assertThat(status.usage.latencyMs).isPositive();
    assertThat(ledger.totals(KEY).orElseThrow().toStatus().tokensIn).isEqualTo(1000);
    assertThat(JSON.readTree(bodies.get(0)).path("messages").get(0).path("content").asText())
        .isEqualTo("Why order by priority?");
    assertThat(JSON.readTree(bodies.get(0)).path("temperature").asDouble()).isEqualTo(0.2);
  }

  @Test
  void aStreamedCallReportsTokensSoFarWhileItStreams() throws Exception {
    StringBuilder sse = new StringBuilder();
    for (int i = 0; i < 40; i++) {
      sse.append(
          "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
              + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word \"},"
              + "\"finish_reason\":null}]}\n\n");
    }
    sse.append(
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
            + "\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":40,"
            + "\"total_tokens\":52}}\n\ndata: [DONE]\n\n");
    // About ten pieces a second: the stream runs for some four seconds.
    answers.add(
        new MockResponse.Builder()
            .addHeader("Content-Type", "text/event-stream")
            .body(sse.toString())
            .throttleBody(150, 100, TimeUnit.MILLISECONDS)
            .build());
    VeraTask task = task("streamed", "openai", 0, 60);
    task.getSpec().providerRef.params =
        JSON.createObjectNode().put("stream", true).put("max_tokens", 100);
    dispatcher.track(task);

    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              TaskSnapshot running = get("streamed");
              assertThat(running.phase()).isEqualTo(TaskPhase.Running);
              assertThat(running.progress()).isNotNull();
              assertThat(running.progress().message())
                  .matches(
                      "streaming: about \\d+ tokens so far \\(\\d+ characters\\) of at most 100");
              assertThat(running.progress().fraction()).isBetween(0.01, 0.99);
            });
    TaskSnapshot done = awaitPhase("streamed", TaskPhase.Succeeded);
    assertThat(done.result().path("output").asText()).isEqualTo("word ".repeat(40));
    assertThat(done.usage().tokensOut()).isEqualTo(40);
    assertThat(JSON.readTree(bodies.get(0)).path("stream").asBoolean())
        .as("asked upstream as a stream")
        .isTrue();
  }

  @Test
  void aRateLimitIsRetriedNoSoonerThanRetryAfter() {
    answers.add(
        new MockResponse.Builder()
            .code(429)
            .addHeader("Content-Type", "application/json")
            .addHeader("Retry-After", "2")
            .body(
                "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}")
            .build());
    dispatcher.track(task("limited", "openai", 2, 60));

    TaskSnapshot done = awaitPhase("limited", TaskPhase.Succeeded);
    assertThat(done.attempts()).isEqualTo(2);
    assertThat(arrivals).hasSize(2);
    assertThat(Duration.ofNanos(arrivals.get(1) - arrivals.get(0)))
        .as("the backoff is 0s but Retry-After said 2s")
        .isGreaterThanOrEqualTo(Duration.ofMillis(1900));
  }

  @Test
  void anInputErrorFailsAtOnceWithoutRetries() {
    answers.add(
        json(
            400,
            "{\"error\":{\"message\":\"Invalid value for 'temperature'\",\"type\":\"invalid_request_error\",\"param\":\"temperature\",\"code\":null}}"));
    dispatcher.track(task("refused", "openai", 3, 60));

    TaskSnapshot done = awaitPhase("refused", TaskPhase.Failed);
    assertThat(done.attempts()).isEqualTo(1);
    assertThat(done.error().type()).isEqualTo(TaskError.PROVIDER_ERROR);
    assertThat(done.error().message()).contains("openai").contains("temperature");
    assertThat(done.usage()).isNull();
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void anUpstream5xxIsRetried() {
    answers.add(json(503, "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}"));
    dispatcher.track(task("flaky", "openai", 1, 60));

    assertThat(awaitPhase("flaky", TaskPhase.Succeeded).attempts()).isEqualTo(2);
  }

  @Test
  void aProviderThatIsNotReadyFailsTheTaskWithItsReason() {
    workers.serve(KEY, spec(), "ProbeFailed: OpenAI answered 401: invalid api key");
    dispatcher.track(task("unready", "openai", 0, 60));

    TaskSnapshot done = awaitPhase("unready", TaskPhase.Failed);
    assertThat(done.error().type()).isEqualTo(TaskError.PROVIDER_UNAVAILABLE);
    assertThat(done.error().message())
        .isEqualTo(
            "Provider openai is not Ready: ProbeFailed: OpenAI answered 401: invalid api key");
    assertThat(server.getRequestCount()).isZero();
  }

  @Test
  void aTaskForAMissingProviderWaitsWithAClearReason() {
    dispatcher.track(task("orphan", "nope", 0, 60));

    TaskSnapshot waiting = get("orphan");
    assertThat(waiting.phase()).isEqualTo(TaskPhase.Pending);
    assertThat(waiting.pendingReason()).contains("Provider nope does not exist in namespace ns");
  }

  @Test
  void cancelAbortsTheCallInFlightAndFreesTheSlot() {
    answers.add(
        new MockResponse.Builder()
            .headersDelay(60, TimeUnit.SECONDS)
            .addHeader("Content-Type", "application/json")
            .body(COMPLETION)
            .build());
    dispatcher.track(task("slow", "openai", 0, 120));
    await().atMost(Duration.ofSeconds(30)).until(() -> server.getRequestCount() == 1);

    dispatcher.cancel(new TaskKey(NS, "slow"), "cancelled by request");
    // One call at a time (maxConcurrency 1): the next task runs only if the slow call was aborted.
    dispatcher.track(task("next", "openai", 0, 120));

    assertThat(awaitPhase("next", TaskPhase.Succeeded).attempts()).isEqualTo(1);
    assertThat(get("slow").phase()).isEqualTo(TaskPhase.Cancelled);
  }

  @Test
  void aTimeoutEndsTheCallAsATimeout() {
    answers.add(
        new MockResponse.Builder()
            .headersDelay(60, TimeUnit.SECONDS)
            .addHeader("Content-Type", "application/json")
            .body(COMPLETION)
            .build());
    dispatcher.track(task("late", "openai", 0, 1));

    TaskSnapshot done = awaitPhase("late", TaskPhase.Failed);
    assertThat(done.error().type()).isEqualTo(TaskError.TIMEOUT);
    dispatcher.track(task("after", "openai", 0, 120));
    awaitPhase("after", TaskPhase.Succeeded);
  }
}
