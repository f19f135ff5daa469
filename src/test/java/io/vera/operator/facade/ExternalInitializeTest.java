package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;

import io.vera.operator.app.OperatorHarness;
import io.vera.operator.app.OperatorHarness.Response;
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
 * {@code POST /orchestrator/external/initialize} answers once the provider serves calls with the
 * client built from that request: a legacy client's {@code execute} right after it is served, and
 * after re-initialising with another {@code base_url} no call reaches the old one.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ExternalInitializeTest {
  private final MockWebServer first = new MockWebServer();
  private final MockWebServer second = new MockWebServer();
  private final List<String> firstCalls = new CopyOnWriteArrayList<>();
  private final List<String> secondCalls = new CopyOnWriteArrayList<>();
  private OperatorHarness harness;

  @BeforeAll
  void start() throws Exception {
    first.setDispatcher(upstream("first", firstCalls));
    second.setDispatcher(upstream("second", secondCalls));
    first.start();
    second.start();
    harness = new OperatorHarness();
  }

  @AfterAll
  void stop() throws Exception {
    harness.close();
    first.close();
    second.close();
  }

  private static Dispatcher upstream(String name, List<String> calls) {
    return new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        String path = request.getUrl().encodedPath();
        String body =
            path.endsWith("/models")
                ? "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\",\"object\":\"model\"}]}"
                : "{\"id\":\"c\",\"object\":\"chat.completion\",\"model\":\"gpt-4o\",\"choices\":"
                    + "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\""
                    + name
                    + "\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,"
                    + "\"completion_tokens\":1,\"total_tokens\":2}}";
        if (!path.endsWith("/models")) {
          calls.add(request.getHeaders().get("Authorization"));
        }
        return new MockResponse.Builder()
            .addHeader("Content-Type", "application/json")
            .body(body)
            .build();
      }
    };
  }

  private Response initialize(MockWebServer upstream, String key) {
    return harness.post(
        "/orchestrator/external/initialize",
        "{\"openai\": {\"api_key\": \""
            + key
            + "\", \"base_url\": \""
            + upstream.url("/v1")
            + "\"}}");
  }

  private Response execute() {
    return harness.post(
        "/orchestrator/external/execute",
        "{\"provider\": \"openai\", \"prompt\": \"hi\", \"model\": \"gpt-4o\"}");
  }

  @Test
  void executeRightAfterInitializeIsServedAndNeverByThePreviousEndpointOrKey() {
    for (int round = 0; round < 6; round++) {
      boolean toFirst = round % 2 == 0;
      MockWebServer now = toFirst ? first : second;
      List<String> before = toFirst ? secondCalls : firstCalls;
      String key = "sk-round-" + round;
      Response init = initialize(now, key);
      assertThat(init.status()).as(init.text()).isEqualTo(200);
      assertThat(init.json().path("providers").path("openai").path("ready").asBoolean())
          .as(init.text())
          .isTrue();
      int oldCalls = before.size();

      Response answer = execute();

      assertThat(answer.status()).as("round %d: %s", round, answer.text()).isEqualTo(200);
      assertThat(answer.json().path("result").asText()).isEqualTo(toFirst ? "first" : "second");
      assertThat(before).as("calls to the previous base_url").hasSize(oldCalls);
      List<String> calls = toFirst ? firstCalls : secondCalls;
      assertThat(calls.get(calls.size() - 1)).isEqualTo("Bearer " + key);
    }
  }
}
