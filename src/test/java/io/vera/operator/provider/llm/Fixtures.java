package io.vera.operator.provider.llm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vera.operator.provider.Credentials;
import io.vera.operator.provider.ProviderRequest;
import java.time.Duration;
import java.util.Map;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;

/** Requests, credentials and wire-format responses shared by the client tests. */
final class Fixtures {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String KEY = "sk-test-9f8e7d6c5b4a3210";
  static final Credentials CREDENTIALS = new Credentials(Map.of("apiKey", KEY));

  private Fixtures() {}

  static ProviderRequest request(String model, String params, int maxRetries) {
    return request(model, params, maxRetries, Duration.ofSeconds(30));
  }

  static ProviderRequest request(String model, String params, int maxRetries, Duration timeout) {
    return new ProviderRequest(
        "llm.generate",
        "Say hello",
        model,
        json(params),
        JSON.createArrayNode(),
        JSON.createObjectNode(),
        timeout,
        maxRetries);
  }

  static JsonNode json(String text) {
    try {
      return JSON.readTree(text);
    } catch (Exception e) {
      throw new IllegalArgumentException(e);
    }
  }

  static JsonNode body(RecordedRequest request) {
    return json(request.getBody().utf8());
  }

  static MockResponse jsonResponse(int code, String body) {
    return new MockResponse.Builder()
        .code(code)
        .addHeader("content-type", "application/json")
        .body(body)
        .build();
  }

  static MockResponse.Builder sse(String body) {
    return new MockResponse.Builder()
        .addHeader("content-type", "text/event-stream; charset=utf-8")
        .addHeader("cache-control", "no-cache")
        .body(body);
  }

  /** SSE {@code data:} lines, each followed by a blank line. */
  static String dataEvents(String... data) {
    StringBuilder out = new StringBuilder();
    for (String d : data) {
      out.append("data: ").append(d).append("\n\n");
    }
    return out.toString();
  }
}
