package io.vera.operator.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.vera.operator.api.WorkerPoolSpec;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class OperatorFlowTest {
  static KubernetesMockServer server;
  static KubernetesClient client;
  static VeraOperator operator;
  static final HttpClient http = HttpClient.newHttpClient();
  static final ObjectMapper mapper = new ObjectMapper();

  @BeforeAll
  static void start() throws Exception {
    server =
        new KubernetesMockServer(
            new io.fabric8.mockwebserver.Context(),
            new io.fabric8.mockwebserver.MockWebServer(),
            new java.util.HashMap<>(),
            new io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher(),
            false);
    server.init();
    client = server.createClient();
    for (String plural :
        new String[] {"veratasks", "workerpools", "computeresources", "providers"}) {
      try (InputStream in =
          OperatorFlowTest.class.getResourceAsStream(
              "/META-INF/fabric8/" + plural + ".vera.io-v1.yml")) {
        client.apiextensions().v1().customResourceDefinitions().load(in).create();
      }
    }
    OperatorSettings settings =
        new OperatorSettings(
            "127.0.0.1",
            0,
            "default",
            Set.of(),
            3600,
            262144,
            WorkerPoolSpec.Runtime.Embedded,
            "vera-operator:test",
            "http://127.0.0.1:8000",
            4);
    operator = new VeraOperator(client, settings).start(settings);
  }

  @AfterAll
  static void stop() {
    operator.close();
    client.close();
    server.destroy();
  }

  JsonNode call(String method, String path, String body) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + operator.port() + path));
    b.method(
        method,
        body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    System.out.println(method + " " + path + " -> " + r.statusCode() + " " + r.body());
    return r.body().isEmpty() ? null : mapper.readTree(r.body());
  }

  @Test
  void submitAndGetResult() throws Exception {
    call("POST", "/orchestrator/initialize", "{}");
    Thread.sleep(2000);
    call("GET", "/orchestrator/status", null);
    JsonNode submitted =
        call(
            "POST",
            "/orchestrator/tasks/submit",
            "{\"name\":\"compute.sum\",\"payload\":{\"a\":10,\"b\":20}}");
    String id = submitted.get("task_id").asText();
    JsonNode result = call("GET", "/orchestrator/tasks/result/" + id + "?timeout=5", null);
    assertThat(result.get("status").asText()).isEqualTo("completed");
    assertThat(result.get("result").asInt()).isEqualTo(30);
    Thread.sleep(500);
    System.out.println(
        client
            .resources(io.vera.operator.api.VeraTask.class)
            .inNamespace("default")
            .withName(id)
            .get());
    call("GET", "/orchestrator/workers/pools", null);
  }
}
