package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.utils.Serialization;
import io.vera.operator.api.Provider;
import io.vera.operator.api.VeraTask;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.app.OperatorHarness.Response;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Runs the main flows with recognisable fake keys, including upstreams that echo the key back in
 * their errors, and fails if a key shows up in the logs, a Provider or VeraTask status, an Event, a
 * REST answer, a WebSocket message or {@code /metrics}.
 */
class SecretLeakTest {
  private static final String OPENAI_KEY = "sk-VERA-LEAK-CANARY-" + UUID.randomUUID();
  private static final String ANTHROPIC_KEY = "sk-ant-VERA-LEAK-CANARY-" + UUID.randomUUID();

  /** A part of a key, as an upstream that quotes "sk-...abcd" would. */
  private static final String CANARY = "VERA-LEAK-CANARY";

  private final MockWebServer upstream = new MockWebServer();
  private final ByteArrayOutputStream logs = new ByteArrayOutputStream();
  private PrintStream originalErr;
  private OperatorHarness harness;
  private final Map<String, String> seen = new LinkedHashMap<>();
  private final List<String> wsMessages = new CopyOnWriteArrayList<>();
  private int upstreamErrorsServed;

  @BeforeEach
  void start() throws Exception {
    // slf4j-simple writes to whatever System.err is when it logs: keep a copy of everything.
    originalErr = System.err;
    System.setErr(new PrintStream(new Tee(originalErr, logs), true, StandardCharsets.UTF_8));
    upstream.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            return answer(request);
          }
        });
    upstream.start();
    harness = new OperatorHarness();
  }

  @AfterEach
  void stop() throws Exception {
    try {
      harness.close();
      upstream.close();
    } finally {
      System.setErr(originalErr);
    }
  }

  /** Answers like the providers do, quoting the key back whenever it can. */
  private MockResponse answer(RecordedRequest request) {
    String body = request.getBody() == null ? "" : request.getBody().utf8();
    String path = request.getUrl().encodedPath();
    String anthropicKey = request.getHeaders().get("x-api-key");
    if (anthropicKey != null) {
      upstreamErrorsServed++;
      return json(
          401,
          "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid"
              + " x-api-key: "
              + anthropicKey
              + "\"}}");
    }
    String bearer =
        String.valueOf(request.getHeaders().get("Authorization")).replace("Bearer ", "");
    if (path.endsWith("/models")) {
      return json(200, "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\"}]}");
    }
    if (body.contains("echo the key as a 400")) {
      upstreamErrorsServed++;
      return json(
          400,
          "{\"error\":{\"message\":\"Invalid request made with key "
              + bearer
              + "\",\"type\":\"invalid_request_error\"}}");
    }
    if (body.contains("echo the key as a 500")) {
      upstreamErrorsServed++;
      return json(500, "{\"error\":{\"message\":\"crashed while serving " + bearer + "\"}}");
    }
    if (body.contains("echo the key as a 401")) {
      upstreamErrorsServed++;
      return json(
          401,
          "{\"error\":{\"message\":\"Incorrect API key provided: "
              + bearer
              + "\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}");
    }
    if (body.contains("\"stream\":true") && body.contains("echo the key in the stream")) {
      upstreamErrorsServed++;
      return new MockResponse.Builder()
          .addHeader("Content-Type", "text/event-stream")
          .body(
              "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
                  + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n"
                  + "data: {\"error\":{\"message\":\"stream failed for "
                  + bearer
                  + "\",\"type\":\"server_error\"}}\n\n")
          .build();
    }
    if (body.contains("\"stream\":true")) {
      return new MockResponse.Builder()
          .addHeader("Content-Type", "text/event-stream")
          .body(
              "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
                  + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n"
                  + "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
                  + "\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n"
                  + "data: [DONE]\n\n")
          .build();
    }
    return json(
        200,
        "{\"id\":\"c\",\"object\":\"chat.completion\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":\"fine\"},\"finish_reason\":\"stop\"}],"
            + "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}");
  }

  private static MockResponse json(int code, String body) {
    return new MockResponse.Builder()
        .code(code)
        .addHeader("Content-Type", "application/json")
        .body(body)
        .build();
  }

  @Test
  void noKeyAppearsAnywhereAUserOrOperatorCanLook() throws Exception {
    WebSocket socket = watchUpdates();
    harness.createEmbeddedPool("leak-pool", io.vera.operator.api.TaskType.GENERAL, 1, false);

    rest(
        "POST",
        "/orchestrator/external/initialize",
        "{\"openai\": {\"api_key\": \""
            + OPENAI_KEY
            + "\", \"base_url\": \""
            + upstream.url("/v1")
            + "\"}, \"anthropic\": {\"api_key\": \""
            + ANTHROPIC_KEY
            + "\", \"base_url\": \""
            + upstream.url("/")
            + "\"}}",
        200);
    harness.awaitProviderReady("openai", Duration.ofSeconds(20));

    String call =
        "{\"provider\": \"%s\", \"prompt\": \"%s\", \"model\": \"%s\", \"max_retries\": 0%s}";
    rest(
        "POST",
        "/orchestrator/external/execute",
        call.formatted("openai", "hello", "gpt-4o", ""),
        200);
    rest(
        "POST",
        "/orchestrator/external/execute/stream",
        call.formatted("openai", "hello", "gpt-4o", ", \"stream\": true"),
        200);
    rest(
        "POST",
        "/orchestrator/external/llm/complete?provider=openai&prompt=hi&stream=true",
        null,
        200);
    rest(
        "POST",
        "/orchestrator/external/execute",
        call.formatted("openai", "echo the key as a 400", "gpt-4o", ""),
        422);
    rest(
        "POST",
        "/orchestrator/external/execute",
        call.formatted("openai", "echo the key as a 500", "gpt-4o", ""),
        502);
    rest(
        "POST",
        "/orchestrator/external/execute",
        call.formatted("openai", "echo the key as a 401", "gpt-4o", ""),
        502);
    rest(
        "POST",
        "/orchestrator/external/execute/stream",
        call.formatted("openai", "echo the key in the stream", "gpt-4o", ", \"stream\": true"),
        200);
    rest(
        "POST",
        "/orchestrator/external/execute",
        call.formatted("anthropic", "hello", "claude-3-5-haiku-20241022", ""),
        502);
    // Tasks run next to the provider calls; their events go out on the WebSocket.
    Response submitted =
        rest(
            "POST",
            "/orchestrator/tasks/submit",
            "{\"name\": \"fail\", \"payload\": {\"message\": \"no secret here\"}, \"max_retries\": 0}",
            200);
    String task = submitted.json().path("task_id").asText();
    rest("GET", "/orchestrator/tasks/result/" + task + "?timeout=10", null, 200);
    for (String path :
        List.of(
            "/orchestrator/status",
            "/orchestrator/tasks/history",
            "/orchestrator/external/providers",
            "/orchestrator/external/providers/openai/status",
            "/orchestrator/external/providers/anthropic/status",
            "/orchestrator/external/stats",
            "/orchestrator/external/stats/openai",
            "/orchestrator/external/stats/anthropic",
            "/orchestrator/external/stats/cost/summary",
            "/orchestrator/external/health",
            "/metrics")) {
      rest("GET", path, null, 200);
    }
    assertThat(upstreamErrorsServed).as("upstream errors that quoted a key").isGreaterThan(4);

    // The Anthropic probe was refused with the key quoted: that reaches its status and Events.
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                !harness
                    .get("/orchestrator/external/providers/anthropic/status")
                    .json()
                    .path("ready")
                    .asBoolean());
    Thread.sleep(1500); // status and Events are written in batches
    for (Provider provider :
        harness
            .client()
            .resources(Provider.class)
            .inNamespace(OperatorHarness.NAMESPACE)
            .list()
            .getItems()) {
      seen.put("Provider " + provider.getMetadata().getName(), Serialization.asJson(provider));
    }
    for (VeraTask stored :
        harness
            .client()
            .resources(VeraTask.class)
            .inNamespace(OperatorHarness.NAMESPACE)
            .list()
            .getItems()) {
      seen.put("VeraTask " + stored.getMetadata().getName(), Serialization.asJson(stored));
    }
    seen.put("Events", Serialization.asJson(harness.events()));
    socket.sendClose(WebSocket.NORMAL_CLOSURE, "done").join();
    seen.put("WebSocket messages", String.join("\n", wsMessages));
    System.err.flush();
    seen.put("log", logs.toString(StandardCharsets.UTF_8));

    List<String> leaks = new ArrayList<>();
    seen.forEach(
        (where, text) -> {
          if (text.contains(CANARY)) {
            int at = text.indexOf(CANARY);
            leaks.add(
                where
                    + ": ..."
                    + text.substring(Math.max(0, at - 120), Math.min(text.length(), at + 60)));
          }
        });
    assertThat(leaks).as("places a key appeared").isEmpty();
    assertThat(wsMessages).as("the WebSocket carried the task's events").isNotEmpty();
    assertThat(logs.size()).as("the operator logged while the test ran").isPositive();
  }

  private Response rest(String method, String path, String body, int expected) {
    Response answer = harness.send(method, path, body);
    seen.put(method + " " + path + " (" + seen.size() + ")", answer.text());
    assertThat(answer.status())
        .as(method + " " + path + " -> " + answer.text())
        .isEqualTo(expected);
    return answer;
  }

  private WebSocket watchUpdates() {
    return HttpClient.newHttpClient()
        .newWebSocketBuilder()
        .buildAsync(
            URI.create(harness.baseUrl().replace("http", "ws") + "/orchestrator/ws/updates"),
            new WebSocket.Listener() {
              private final StringBuilder partial = new StringBuilder();

              @Override
              public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                partial.append(data);
                if (last) {
                  wsMessages.add(partial.toString());
                  partial.setLength(0);
                }
                ws.request(1);
                return null;
              }
            })
        .join();
  }

  /** Writes to two streams. */
  private static final class Tee extends OutputStream {
    private final OutputStream first;
    private final OutputStream second;

    Tee(OutputStream first, OutputStream second) {
      this.first = first;
      this.second = second;
    }

    @Override
    public synchronized void write(int b) throws java.io.IOException {
      first.write(b);
      second.write(b);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws java.io.IOException {
      first.write(b, off, len);
      second.write(b, off, len);
    }

    @Override
    public synchronized void flush() throws java.io.IOException {
      first.flush();
      second.flush();
    }
  }
}
