package io.vera.operator.provider.endpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vera.operator.provider.ProviderRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.time.Duration;
import mockwebserver3.MockWebServer;
import okhttp3.OkHttpClient;

/** Requests, JSON and a loopback MockWebServer for the endpoint client tests. */
final class TestCalls {
  static final ObjectMapper JSON = new ObjectMapper();
  static final OkHttpClient HTTP = new OkHttpClient();

  private TestCalls() {}

  static JsonNode json(String text) {
    try {
      return JSON.readTree(text);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static ProviderRequest request(String taskName, String params, Duration timeout, int retries) {
    return new ProviderRequest(
        taskName, null, null, json(params), json("[]"), json("{}"), timeout, retries);
  }

  static ProviderRequest request(String taskName, String params) {
    return request(taskName, params, Duration.ofSeconds(30), 3);
  }

  static MockWebServer loopbackServer() throws IOException {
    MockWebServer server = new MockWebServer();
    server.start(InetAddress.getByName("127.0.0.1"), 0);
    return server;
  }

  /** The server's base URL by IP, so nothing depends on how "localhost" resolves. */
  static String base(MockWebServer server) {
    return "http://127.0.0.1:" + server.getPort();
  }

  static Transport transport(FakeTime time) {
    return new Transport(
        HTTP, time, time, Transport.DEFAULT_RETRY_BACKOFF, Transport.DEFAULT_MAX_RESPONSE_BYTES);
  }
}
