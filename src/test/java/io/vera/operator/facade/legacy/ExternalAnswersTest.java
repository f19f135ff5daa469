package io.vera.operator.facade.legacy;

import static org.assertj.core.api.Assertions.assertThat;

import io.vera.operator.facade.JsonBody;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The exact text of the legacy external router's answers where ExternalApiShapesTest cannot show
 * it: a probe not finished yet, a provider never probed, and the totals of a provider never called,
 * null as the original sent them.
 */
class ExternalAnswersTest {

  private static String json(Object answer) throws Exception {
    return JsonBody.MAPPER.writeValueAsString(answer);
  }

  @Test
  void aProbeNotFinishedYetIsANullReady() throws Exception {
    Map<String, ExternalAnswers.Readiness> readiness = new LinkedHashMap<>();
    readiness.put("openai", new ExternalAnswers.Readiness(null, "serving calls"));
    readiness.put("anthropic", new ExternalAnswers.Readiness(false, null));
    assertThat(json(new ExternalAnswers.Initialized(List.of("openai", "anthropic"), readiness)))
        .isEqualTo(
            "{\"status\":\"success\",\"providers_initialized\":[\"openai\",\"anthropic\"],"
                + "\"provider_count\":2,\"providers\":{\"openai\":{\"ready\":null,"
                + "\"detail\":\"serving calls\"},\"anthropic\":{\"ready\":false,\"detail\":null}}}");
  }

  @Test
  void aProviderNeverProbedHasNoReadySince() throws Exception {
    ExternalAnswers.ProviderView view =
        new ExternalAnswers.ProviderView(
            "runpod", "compute", "RunPod", false, false, "not probed yet", null);
    assertThat(json(new ExternalAnswers.Providers(List.of(view))))
        .isEqualTo(
            "{\"providers\":[{\"provider\":\"runpod\",\"type\":\"compute\","
                + "\"provider_type\":\"RunPod\",\"initialized\":false,\"ready\":false,"
                + "\"message\":\"not probed yet\",\"ready_since\":null}],\"count\":1}");
  }

  @Test
  void totalsKeepTheirNumberFormsAndNulls() throws Exception {
    assertThat(
            json(
                new ExternalAnswers.Stats("openai", 0, 0, 0, 0.0, 0, 0, 0.0, 0.0, null, null, 0.0)))
        .isEqualTo(
            "{\"provider\":\"openai\",\"total_requests\":0,\"successful_requests\":0,"
                + "\"failed_requests\":0,\"success_rate\":0.0,\"total_tokens_in\":0,"
                + "\"total_tokens_out\":0,\"total_cost_usd\":0.0,\"avg_latency_ms\":0.0,"
                + "\"last_request_at\":null,\"month\":null,\"month_cost_usd\":0.0}");
    assertThat(TaskViews.epochSeconds(Instant.parse("2026-01-01T00:00:00.5Z")))
        .isEqualTo(1.7672256005E9);
    assertThat(TaskViews.epochSeconds(null)).isNull();
    Map<String, ExternalAnswers.Tokens> byProvider = new LinkedHashMap<>();
    byProvider.put("openai", new ExternalAnswers.Tokens(3, 4, 7));
    assertThat(json(new ExternalAnswers.TokenSummary(3, 4, 7, byProvider)))
        .isEqualTo(
            "{\"total_tokens_in\":3,\"total_tokens_out\":4,\"total_tokens\":7,"
                + "\"by_provider\":{\"openai\":{\"tokens_in\":3,\"tokens_out\":4,\"total\":7}}}");
    assertThat(json(new ExternalAnswers.CostSummary(0.0, Map.of())))
        .isEqualTo("{\"total_cost\":0.0,\"by_provider\":{},\"currency\":\"USD\"}");
    assertThat(json(new ExternalAnswers.Health(0, 0)))
        .isEqualTo("{\"status\":\"healthy\",\"providers\":0,\"providers_callable\":0}");
  }
}
