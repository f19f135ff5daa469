package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;

import io.vera.operator.app.OperatorHarness;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * Provider metrics as Prometheus scrapes them: after one call and one stream against a fake OpenAI
 * upstream, /metrics carries tokens by type, cost, latency and time to first token with the values
 * of exactly those calls, and never the key.
 */
class ProviderMetricsTest {
  private static final String KEY = "sk-test-METRICS-9876543210";
  private static final String SERIES = "provider=\"default/openai\"";

  @Test
  void callsShowUpInTheScrapeWithTheirTokensCostAndTimings() throws Exception {
    try (MockWebServer upstream = new MockWebServer();
        OperatorHarness harness = new OperatorHarness()) {
      upstream.setDispatcher(
          new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
              String path = request.getUrl().encodedPath();
              if (path.endsWith("/models")) {
                return json("{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\"}]}");
              }
              if (request.getBody().utf8().contains("\"stream\":true")) {
                return new MockResponse.Builder()
                    .addHeader("Content-Type", "text/event-stream")
                    .body(
                        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n"
                            + "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n"
                            + "data: [DONE]\n\n")
                    .build();
              }
              return json(
                  "{\"id\":\"c2\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Answer.\"},\"finish_reason\":\"stop\"}],"
                      + "\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":500,\"total_tokens\":1500,\"prompt_tokens_details\":{\"cached_tokens\":200},\"completion_tokens_details\":{\"reasoning_tokens\":120}}}");
            }
          });
      upstream.start();
      assertThat(
              harness
                  .post(
                      "/orchestrator/external/initialize",
                      "{\"openai\": {\"api_key\": \""
                          + KEY
                          + "\", \"base_url\": \""
                          + upstream.url("/v1")
                          + "\"}}")
                  .status())
          .isEqualTo(200);
      harness.awaitProviderReady("openai", Duration.ofSeconds(15));

      assertThat(
              harness
                  .post(
                      "/orchestrator/external/execute",
                      "{\"provider\": \"openai\", \"prompt\": \"q\", \"model\": \"gpt-4o\"}")
                  .status())
          .isEqualTo(200);
      assertThat(
              harness
                  .post(
                      "/orchestrator/external/execute/stream",
                      "{\"provider\": \"openai\", \"prompt\": \"q\", \"model\": \"gpt-4o\", \"stream\": true}")
                  .text())
          .contains("\"status\":\"complete\"");

      String scrape = harness.get("/metrics").text();
      // 1000 prompt tokens of which 200 cached, plus 9 streamed; 500 completion tokens of which
      // 120 reasoning, plus 2 streamed.
      assertThat(value(scrape, "vera_provider_tokens_total", "type=\"input\"")).isEqualTo(809);
      assertThat(value(scrape, "vera_provider_tokens_total", "type=\"cached_input\""))
          .isEqualTo(200);
      assertThat(value(scrape, "vera_provider_tokens_total", "type=\"output\"")).isEqualTo(382);
      assertThat(value(scrape, "vera_provider_tokens_total", "type=\"reasoning\"")).isEqualTo(120);
      // gpt-4o: 800 x $2.50/M + 200 x $1.25/M + 500 x $10/M, then 9 x $2.50/M + 2 x $10/M
      assertThat(value(scrape, "vera_provider_cost_usd_total", null))
          .isCloseTo(0.00725 + 0.0000425, Offset.offset(1e-9));
      assertThat(value(scrape, "vera_provider_requests_total", "outcome=\"succeeded\""))
          .isEqualTo(2);
      assertThat(value(scrape, "vera_provider_latency_seconds_count", null)).isEqualTo(2);
      assertThat(value(scrape, "vera_provider_latency_seconds_sum", null)).isPositive();
      assertThat(value(scrape, "vera_provider_time_to_first_token_seconds_count", null))
          .isEqualTo(1);
      assertThat(value(scrape, "vera_provider_time_to_first_token_seconds_sum", null))
          .as("in seconds, the base unit")
          .isPositive()
          .isLessThan(60);
      assertThat(scrape)
          .as("the probe passed: Ready")
          .containsPattern(
              "(?m)^vera_provider_ready\\{name=\"openai\",namespace=\"default\"\\} 1\\.0$");
      assertThat(scrape).contains("vera_provider_latency_seconds_bucket{");
      assertThat(scrape).doesNotContain(KEY).doesNotContain("METRICS-9876543210");
    }
  }

  /** The value of the one series of {@code name} for this provider that also has {@code label}. */
  private static double value(String scrape, String name, String label) {
    Matcher m =
        Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{([^}]*)\\} (\\S+)$").matcher(scrape);
    Double found = null;
    while (m.find()) {
      if (m.group(1).contains(SERIES) && (label == null || m.group(1).contains(label))) {
        assertThat(found).as("one series of %s with %s", name, label).isNull();
        found = Double.parseDouble(m.group(2));
      }
    }
    assertThat(found).as("a series of %s with %s in\n%s", name, label, scrape).isNotNull();
    return found;
  }

  private static MockResponse json(String body) {
    return new MockResponse.Builder()
        .addHeader("Content-Type", "application/json")
        .body(body)
        .build();
  }
}
