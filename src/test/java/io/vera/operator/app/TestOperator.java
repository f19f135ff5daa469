package io.vera.operator.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.vera.operator.api.WorkerPoolSpec;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Set;

/**
 * The real operator in this JVM against fabric8's mock API server in CRUD mode, with the CRDs
 * installed and its REST server on a free port of 127.0.0.1, for tests that go through REST.
 */
public final class TestOperator implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String[] CRD_PLURALS = {
    "veratasks", "workerpools", "computeresources", "providers"
  };

  /** A REST answer: the status code and the JSON body, null when there was none. */
  public record Answer(int status, JsonNode body) {}

  private final KubernetesMockServer server;
  private final KubernetesClient client;
  private final VeraOperator operator;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private TestOperator(
      KubernetesMockServer server, KubernetesClient client, VeraOperator operator) {
    this.server = server;
    this.client = client;
    this.operator = operator;
  }

  /** Starts the mock API server, installs the CRDs, then starts the operator on it. */
  public static TestOperator start() {
    KubernetesMockServer server =
        new KubernetesMockServer(
            new Context(),
            new MockWebServer(),
            new HashMap<>(),
            new KubernetesCrudDispatcher(),
            false);
    server.init();
    KubernetesClient client = server.createClient();
    for (String plural : CRD_PLURALS) {
      try (InputStream in =
          TestOperator.class.getResourceAsStream(
              "/META-INF/fabric8/" + plural + ".vera.io-v1.yml")) {
        client.apiextensions().v1().customResourceDefinitions().load(in).create();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
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
    VeraOperator operator = new VeraOperator(client, settings).start(settings);
    return new TestOperator(server, client, operator);
  }

  public KubernetesClient client() {
    return client;
  }

  public VeraOperator operator() {
    return operator;
  }

  public String url() {
    return "http://127.0.0.1:" + operator.port();
  }

  /** Calls the operator's REST server; {@code body} is JSON or null. */
  public Answer call(String method, String path, String body) {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(url() + path))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body))
            .build();
    try {
      HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
      return new Answer(
          response.statusCode(), response.body().isEmpty() ? null : JSON.readTree(response.body()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted calling " + path, e);
    }
  }

  @Override
  public void close() {
    operator.close();
    client.close();
    server.destroy();
  }
}
