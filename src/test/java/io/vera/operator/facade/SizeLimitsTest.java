package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vera.operator.app.OperatorHarness;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The REST API refuses a body over 1 MiB with 413 {@code {"detail"}}; a WebSocket client that sends
 * a message over 64 KiB is closed with 1009 (message too big), and other clients carry on.
 */
class SizeLimitsTest {
  private static final OperatorHarness harness = new OperatorHarness();
  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpClient http = HttpClient.newHttpClient();

  @AfterAll
  static void close() {
    harness.close();
  }

  @Test
  void aBodyOverTheLimitIsRefusedWith413AndADetail() throws Exception {
    int size = (int) FacadeServer.MAX_REQUEST_BYTES + 1024;
    String body =
        "{\"name\": \"echo\", \"payload\": {\"text\": \"" + "x".repeat(size - 40) + "\"}}";
    HttpResponse<String> answer =
        http.send(
            HttpRequest.newBuilder(URI.create(harness.baseUrl() + "/orchestrator/tasks/submit"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(413);
    assertThat(JSON.readTree(answer.body()).path("detail").asText()).isNotBlank();

    // Just under the limit is read (and answered on its merits).
    String fits =
        "{\"name\": \"echo\", \"payload\": {\"text\": \""
            + "x".repeat((int) FacadeServer.MAX_REQUEST_BYTES - 1024)
            + "\"}}";
    OperatorHarness.Response accepted = harness.post("/orchestrator/tasks/submit", fits);
    assertThat(accepted.status()).as(accepted.text()).isNotEqualTo(413).isLessThan(500);
  }

  @Test
  void aWebSocketMessageOverTheLimitClosesThatSocketOnly() throws Exception {
    Client big = connect();
    Client bystander = connect();
    await().atMost(Duration.ofSeconds(10)).until(() -> !big.messages.isEmpty());
    await().atMost(Duration.ofSeconds(10)).until(() -> !bystander.messages.isEmpty());

    // Under the limit: an ordinary message, answered when it is a ping.
    big.socket.sendText("ping" + " ".repeat(UpdatesHub.MAX_INCOMING_MESSAGE_BYTES - 100), true);
    await().atMost(Duration.ofSeconds(10)).until(() -> big.has("pong"));

    big.socket.sendText("x".repeat(UpdatesHub.MAX_INCOMING_MESSAGE_BYTES + 1), true);
    Integer code = big.closed.get(10, TimeUnit.SECONDS);
    assertThat(code).isEqualTo(1009);
    System.out.println("oversized WebSocket message closed with " + code + " " + big.reason);

    // The other client still gets answers and events.
    bystander.socket.sendText("ping", true);
    await().atMost(Duration.ofSeconds(10)).until(() -> bystander.has("pong"));
    OperatorHarness.Response submitted =
        harness.post("/orchestrator/tasks/submit", "{\"name\": \"echo\", \"payload\": {}}");
    String id = submitted.json().path("task_id").asText();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> bystander.messages.stream().anyMatch(m -> m.contains(id)));
    assertThat(bystander.closed).isNotDone();
  }

  /** A WebSocket client keeping what it received and how it was closed. */
  private static final class Client implements WebSocket.Listener {
    final List<String> messages = new CopyOnWriteArrayList<>();
    final CompletableFuture<Integer> closed = new CompletableFuture<>();
    private final StringBuilder partial = new StringBuilder();
    volatile String reason;
    WebSocket socket;

    boolean has(String type) {
      return messages.stream()
          .map(
              m -> {
                try {
                  return JSON.readTree(m);
                } catch (Exception e) {
                  return JSON.missingNode();
                }
              })
          .map((JsonNode m) -> m.path("type").asText())
          .anyMatch(type::equals);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        messages.add(partial.toString());
        partial.setLength(0);
      }
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      this.reason = reason;
      closed.complete(statusCode);
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      closed.completeExceptionally(error);
    }
  }

  private Client connect() {
    Client client = new Client();
    client.socket =
        http.newWebSocketBuilder()
            .buildAsync(
                URI.create(harness.baseUrl().replace("http", "ws") + "/orchestrator/ws/updates"),
                client)
            .join();
    return client;
  }
}
