package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.app.OperatorHarness.Response;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * What every {@code /orchestrator/external} route really answers matches the OpenAPI document: each
 * field it returns is documented with its type, and each documented required field is there. The
 * answers built from typed records are also held to their exact text (field order, null and number
 * forms), which the legacy clients parse.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ExternalApiShapesTest {
  private final MockWebServer upstream = new MockWebServer();
  private OperatorHarness harness;
  private JsonNode document;
  private final List<String> problems = new ArrayList<>();

  @BeforeAll
  void start() throws Exception {
    try (InputStream in = getClass().getResourceAsStream("/openapi/vera-openapi.json")) {
      document = new ObjectMapper().readTree(in);
    }
    upstream.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            String body =
                request.getUrl().encodedPath().endsWith("/models")
                    ? "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\"}]}"
                    : "{\"id\":\"c\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"ok\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15}}";
            return new MockResponse.Builder()
                .addHeader("Content-Type", "application/json")
                .body(body)
                .build();
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

  @Test
  void everyRouteAnswersTheDocumentedShape() {
    Response initialized =
        harness.post(
            "/orchestrator/external/initialize",
            "{\"openai\": {\"api_key\": \"sk-shape\", \"base_url\": \""
                + upstream.url("/v1")
                + "\"}}");
    check("post", "/orchestrator/external/initialize", initialized);
    assertText(
        initialized,
        "{\"status\":\"success\",\"providers_initialized\":[\"openai\"],\"provider_count\":1,"
            + "\"providers\":{\"openai\":{\"ready\":<bool>,\"detail\":\"<text>\"}}}");
    harness.awaitProviderReady("openai", Duration.ofSeconds(15));
    // Before any call, then after one, so null and filled fields are both checked.
    Response unused = harness.get("/orchestrator/external/stats/openai");
    check("get", "/orchestrator/external/stats/{provider}", unused);
    assertText(
        unused,
        "{\"provider\":\"openai\",\"total_requests\":0,\"successful_requests\":0,"
            + "\"failed_requests\":0,\"success_rate\":0.0,\"total_tokens_in\":0,"
            + "\"total_tokens_out\":0,\"total_cost_usd\":0.0,\"avg_latency_ms\":0.0,"
            + "\"last_request_at\":null,\"month\":\"<text>\",\"month_cost_usd\":0.0}");
    String view =
        "{\"provider\":\"openai\",\"type\":\"llm\",\"provider_type\":\"OpenAI\","
            + "\"initialized\":true,\"ready\":true,"
            + "\"message\":\"the endpoint answered and accepted the credentials\","
            + "\"ready_since\":\"<text>\"}";
    Response status = harness.get("/orchestrator/external/providers/openai/status");
    check("get", "/orchestrator/external/providers/{provider}/status", status);
    assertText(status, view);
    check(
        "post",
        "/orchestrator/external/execute",
        harness.post(
            "/orchestrator/external/execute",
            "{\"provider\": \"openai\", \"task_name\": \"llm.x\", \"prompt\": \"q\", \"model\": \"gpt-4o\"}"));
    check(
        "post",
        "/orchestrator/external/execute",
        harness.post(
            "/orchestrator/external/execute",
            "{\"provider\": \"openai\", \"task_name\": \"llm.x\", \"prompt\": \"q\", \"model\": \"unpriced-model\"}"));
    check(
        "post",
        "/orchestrator/external/llm/complete",
        harness.post(
            "/orchestrator/external/llm/complete?provider=openai&prompt=q&model=gpt-4o", ""));
    for (String path :
        List.of(
            "/orchestrator/external/providers",
            "/orchestrator/external/providers/{provider}/status",
            "/orchestrator/external/stats",
            "/orchestrator/external/stats/{provider}",
            "/orchestrator/external/stats/cost/summary",
            "/orchestrator/external/stats/tokens/summary",
            "/orchestrator/external/health")) {
      check("get", path, harness.get(path.replace("{provider}", "openai")));
    }
    assertThat(problems).isEmpty();

    // Three calls of 10 tokens in and 5 out at gpt-4o's prices; the numbers keep their forms.
    String totals =
        "{\"provider\":\"openai\",\"total_requests\":3,\"successful_requests\":3,"
            + "\"failed_requests\":0,\"success_rate\":1.0,\"total_tokens_in\":30,"
            + "\"total_tokens_out\":15,\"total_cost_usd\":2.25E-4,\"avg_latency_ms\":<float>,"
            + "\"last_request_at\":<float>,\"month\":\"<text>\",\"month_cost_usd\":2.25E-4}";
    assertText(harness.get("/orchestrator/external/stats/openai"), totals);
    assertText(harness.get("/orchestrator/external/stats"), "{\"openai\":" + totals + "}");
    assertText(
        harness.get("/orchestrator/external/providers"),
        "{\"providers\":[" + view + "],\"count\":1}");
    assertText(
        harness.get("/orchestrator/external/stats/cost/summary"),
        "{\"total_cost\":2.25E-4,\"by_provider\":{\"openai\":2.25E-4},\"currency\":\"USD\"}");
    assertText(
        harness.get("/orchestrator/external/stats/tokens/summary"),
        "{\"total_tokens_in\":30,\"total_tokens_out\":15,\"total_tokens\":45,"
            + "\"by_provider\":{\"openai\":{\"tokens_in\":30,\"tokens_out\":15,\"total\":45}}}");
    assertText(
        harness.get("/orchestrator/external/health"),
        "{\"status\":\"healthy\",\"providers\":1,\"providers_callable\":1}");
  }

  private static void assertText(Response response, String template) {
    assertThat(response.hasText(template)).as(response.text()).isTrue();
  }

  private void check(String method, String path, Response response) {
    assertThat(response.status()).as(method + " " + path + ": " + response.text()).isEqualTo(200);
    JsonNode schema =
        document
            .path("paths")
            .path(path)
            .path(method)
            .path("responses")
            .path("200")
            .path("content")
            .path("application/json")
            .path("schema");
    assertThat(schema.isMissingNode()).as(method + " " + path + " documents a JSON 200").isFalse();
    List<String> found = new ArrayList<>();
    conform(schema, response.json(), "$", found);
    found.forEach(
        problem -> problems.add(method + " " + path + ": " + problem + " in " + response.text()));
  }

  /** A structural check of OpenAPI 3.0 schemas: types, nullability, properties, required, items. */
  private void conform(JsonNode schema, JsonNode value, String at, List<String> problems) {
    if (schema.has("$ref")) {
      conform(document.at(schema.get("$ref").asText().substring(1)), value, at, problems);
      return;
    }
    for (String any : List.of("oneOf", "anyOf")) {
      if (schema.has(any)) {
        for (JsonNode option : schema.get(any)) {
          List<String> mismatch = new ArrayList<>();
          conform(option, value, at, mismatch);
          if (mismatch.isEmpty()) {
            return;
          }
        }
        problems.add(at + " matches none of " + any);
        return;
      }
    }
    if (value.isNull()) {
      if (!schema.path("nullable").asBoolean() && schema.has("type")) {
        problems.add(at + " is null but not nullable");
      }
      return;
    }
    String type = schema.path("type").asText(null);
    if (type != null && !hasType(value, type)) {
      problems.add(at + " is " + value.getNodeType() + ", documented " + type);
      return;
    }
    if (schema.has("enum") && value.isValueNode()) {
      boolean listed = false;
      for (JsonNode option : schema.get("enum")) {
        listed |= option.equals(value);
      }
      if (!listed) {
        problems.add(at + " = " + value + " is not in the documented enum");
      }
    }
    if (value.isObject()) {
      JsonNode properties = schema.path("properties");
      for (JsonNode required : schema.path("required")) {
        if (!value.has(required.asText())) {
          problems.add(at + "." + required.asText() + " is required but missing");
        }
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> field = it.next();
        String where = at + "." + field.getKey();
        if (properties.has(field.getKey())) {
          conform(properties.get(field.getKey()), field.getValue(), where, problems);
        } else if (schema.path("additionalProperties").isObject()) {
          conform(schema.get("additionalProperties"), field.getValue(), where, problems);
        } else if (!schema.path("additionalProperties").asBoolean(false)) {
          problems.add(where + " is not documented");
        }
      }
    }
    if (value.isArray() && schema.has("items")) {
      for (int i = 0; i < value.size(); i++) {
        conform(schema.get("items"), value.get(i), at + "[" + i + "]", problems);
      }
    }
  }

  private static boolean hasType(JsonNode value, String type) {
    return switch (type) {
      case "object" -> value.isObject();
      case "array" -> value.isArray();
      case "string" -> value.isTextual();
      case "integer" -> value.isIntegralNumber();
      case "number" -> value.isNumber();
      case "boolean" -> value.isBoolean();
      default -> true;
    };
  }
}
