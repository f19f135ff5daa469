package io.vera.operator.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The API server goes away for a while and comes back on the same port with its objects: the
 * operator and the REST facade recover without a restart. Meanwhile REST answers what it can from
 * memory and refuses the rest with a prompt 503 {@code {"detail"}}, never a hang or a 500.
 */
class ApiServerOutageTest {
  /** How long a refused REST call may take while the API server is down. */
  private static final Duration PROMPT = Duration.ofSeconds(15);

  private final OperatorHarness harness = new OperatorHarness();

  @AfterEach
  void close() {
    harness.close();
  }

  @Test
  void operatorAndFacadeRecoverWhenTheApiServerComesBack() throws Exception {
    harness.createEmbeddedPool("outage-pool", TaskType.GENERAL, 2, false);
    String before = submit("compute.sum", "{\"a\": 1, \"b\": 2}");
    assertThat(result(before).get("status").asText()).isEqualTo("completed");
    // Runs across the outage: it finishes while its status cannot be written.
    String across = submit("sleep", "{\"seconds\": 2}");
    await().atMost(Duration.ofSeconds(10)).until(() -> "running".equals(status(across)));

    harness.apiServer().suspend();
    Map<String, String> answers = new ConcurrentHashMap<>();
    List<String> slow = new ArrayList<>();
    String[][] calls = {
      {"POST", "/orchestrator/tasks/submit", "{\"name\": \"echo\", \"payload\": {}}"},
      {"GET", "/orchestrator/status", null},
      {"GET", "/orchestrator/workers/pools", null},
      {"POST", "/orchestrator/workers/scale", "{\"task_type\": \"GENERAL\", \"num_workers\": 3}"},
      {"GET", "/orchestrator/external/providers", null},
      {"POST", "/orchestrator/external/initialize", "{\"openai\": {\"api_key\": \"sk-x\"}}"},
    };
    for (String[] call : calls) {
      long started = System.nanoTime();
      OperatorHarness.Response answer = harness.send(call[0], call[1], call[2]);
      Duration took = Duration.ofNanos(System.nanoTime() - started);
      String what = call[0] + " " + call[1];
      answers.put(what, answer.status() + " in " + took.toMillis() + " ms: " + answer.text());
      System.out.println("during the outage: " + what + " -> " + answers.get(what));
      assertThat(answer.status()).as(what + " while the API server is down").isEqualTo(503);
      assertThat(answer.json().path("detail").asText()).as(what).contains("API server");
      if (took.compareTo(PROMPT) > 0) {
        slow.add(what + " took " + took);
      }
    }
    // What the operator keeps in memory is still served: tasks in flight, and the recently
    // finished ones its bounded cache holds (older finished tasks live only on the API server).
    // A task in flight is answered as stored: the one that ends during the outage is still
    // running for REST (its long-poll runs out), since a crash now would run it again.
    assertThat(harness.get("/orchestrator/health").status()).isEqualTo(200);
    assertThat(
            harness.get("/orchestrator/tasks/" + before + "/status").json().path("status").asText())
        .isEqualTo("completed");
    assertThat(
            harness
                .get("/orchestrator/tasks/result/" + across + "?timeout=5")
                .json()
                .path("status")
                .asText())
        .isEqualTo("running");
    assertThat(slow).as("refusals answered promptly").isEmpty();
    Thread.sleep(2000);

    harness.apiServer().resume();
    // The facade: a submit succeeds again, and its task runs.
    String[] after = new String[1];
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> {
              OperatorHarness.Response answer =
                  harness.post(
                      "/orchestrator/tasks/submit",
                      "{\"name\": \"compute.sum\", \"payload\": {\"a\": 20, \"b\": 22}}");
              if (answer.status() == 200) {
                after[0] = answer.json().get("task_id").asText();
                return true;
              }
              assertThat(answer.status()).as(answer.text()).isEqualTo(503);
              return false;
            });
    JsonNode done = result(after[0]);
    assertThat(done.get("status").asText()).isEqualTo("completed");
    assertThat(done.get("result").asInt()).isEqualTo(42);
    assertThat(harness.get("/orchestrator/workers/pools").status()).isEqualTo(200);

    // The operator: its informers watch again (a task created as a resource runs), and the status
    // it could not write during the outage reaches the resource.
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withName("after-outage")
            .withNamespace(OperatorHarness.NAMESPACE)
            .build());
    task.setSpec(new VeraTaskSpec());
    task.getSpec().handler = "compute.sum";
    task.getSpec().payload = JsonBodyOf("{\"a\": 2, \"b\": 3}");
    task.getSpec().poolRef = "outage-pool";
    harness.client().resource(task).create();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> storedPhase("after-outage") == TaskPhase.Succeeded);
    await().atMost(Duration.ofSeconds(60)).until(() -> storedPhase(across) == TaskPhase.Succeeded);
    assertThat(result(across).get("status").asText()).isEqualTo("completed");
    assertThat(stored("after-outage").getStatus().result.asInt()).isEqualTo(5);
  }

  private static JsonNode JsonBodyOf(String json) throws Exception {
    return new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
  }

  private String submit(String handler, String payload) {
    OperatorHarness.Response answer =
        harness.post(
            "/orchestrator/tasks/submit",
            "{\"name\": \""
                + handler
                + "\", \"payload\": "
                + payload
                + ", \"pool\": \"outage-pool\"}");
    assertThat(answer.status()).as(answer.text()).isEqualTo(200);
    return answer.json().get("task_id").asText();
  }

  private JsonNode result(String id) {
    return harness.get("/orchestrator/tasks/result/" + id + "?timeout=20").json();
  }

  private String status(String id) {
    return harness.get("/orchestrator/tasks/" + id + "/status").json().path("status").asText();
  }

  private VeraTask stored(String name) {
    return harness
        .client()
        .resources(VeraTask.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName(name)
        .get();
  }

  private TaskPhase storedPhase(String name) {
    VeraTask task = stored(name);
    return task == null || task.getStatus() == null ? null : task.getStatus().phase;
  }
}
