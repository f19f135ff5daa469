package io.vera.operator.provider.endpoint;

import static io.vera.operator.provider.endpoint.TestCalls.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.vera.operator.provider.Credentials;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderRequest;
import io.vera.operator.provider.ProviderResult;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * RunPod jobs are polled to their end, priced from execution time, and cancelled when the caller
 * stops waiting.
 */
class RunPodClientTest {
  private static final String KEY = "rp_SECRETKEY123";

  private final FakeTime time = new FakeTime(Instant.parse("2026-01-01T00:00:00Z"));
  private MockWebServer server;
  private RunPodClient client;

  @BeforeEach
  void start() throws Exception {
    server = TestCalls.loopbackServer();
    client = client(config());
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private RunPodClient.Config config() {
    return RunPodClient.Config.defaults().withBaseUrl(TestCalls.base(server));
  }

  private RunPodClient client(RunPodClient.Config config) {
    return new RunPodClient(
        config, new Credentials(Map.of("apiKey", KEY)), TestCalls.transport(time));
  }

  private static MockResponse json200(String body) {
    return new MockResponse.Builder().code(200).body(body).build();
  }

  private static ProviderRequest job(String endpoint, String params, Duration timeout) {
    return new ProviderRequest(
        endpoint, "a cat", null, json(params), json("[1]"), json("{\"steps\": 20}"), timeout, 3);
  }

  private static ProviderRequest job(String endpoint, String params) {
    return job(endpoint, params, Duration.ofSeconds(60));
  }

  private List<RecordedRequest> requests() throws InterruptedException {
    List<RecordedRequest> all = new ArrayList<>();
    for (int i = server.getRequestCount(); i > 0; i--) {
      all.add(server.takeRequest());
    }
    return all;
  }

  @Test
  void runThenPollsThroughTheQueueToCompletion() throws Exception {
    client = client(config().withUsdPerSecond("sdxl-ep", 0.00044));
    server.enqueue(json200("{\"id\": \"job-1\", \"status\": \"IN_QUEUE\"}"));
    server.enqueue(json200("{\"id\": \"job-1\", \"status\": \"IN_QUEUE\"}"));
    server.enqueue(json200("{\"id\": \"job-1\", \"status\": \"IN_PROGRESS\"}"));
    server.enqueue(
        json200(
            "{\"id\": \"job-1\", \"status\": \"COMPLETED\", \"delayTime\": 800,"
                + " \"executionTime\": 1500, \"output\": {\"image\": \"s3://bucket/cat.png\"}}"));

    ProviderResult result = client.call(job("sdxl-ep", "{}"));

    assertThat(result.output()).isEqualTo(json("{\"image\": \"s3://bucket/cat.png\"}"));
    assertThat(result.costUsd()).isCloseTo(1.5 * 0.00044, within(1e-12));
    assertThat(result.latencyMs()).isEqualTo(1750.0);
    assertThat(time.sleeps())
        .containsExactly(Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1));
    List<RecordedRequest> requests = requests();
    RecordedRequest run = requests.get(0);
    assertThat(run.getRequestLine()).isEqualTo("POST /v2/sdxl-ep/run HTTP/1.1");
    assertThat(run.getHeaders().get("Authorization")).isEqualTo("Bearer " + KEY);
    assertThat(json(run.getBody().utf8()))
        .isEqualTo(json("{\"input\": {\"steps\": 20, \"args\": [1], \"prompt\": \"a cat\"}}"));
    assertThat(requests.subList(1, 4))
        .extracting(RecordedRequest::getRequestLine)
        .containsOnly("GET /v2/sdxl-ep/status/job-1 HTTP/1.1");
  }

  @Test
  void theDeadlineCancelsTheJobAndFailsWith504() throws Exception {
    server.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            String path = request.getUrl().encodedPath();
            if (path.endsWith("/run")) {
              return json200("{\"id\": \"job-2\", \"status\": \"IN_QUEUE\"}");
            }
            if (path.contains("/cancel/")) {
              return json200("{\"id\": \"job-2\", \"status\": \"CANCELLED\"}");
            }
            return json200("{\"id\": \"job-2\", \"status\": \"IN_PROGRESS\"}");
          }
        });

    assertThatThrownBy(() -> client.call(job("ep", "{}", Duration.ofSeconds(2))))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(504);
              assertThat(e.getMessage())
                  .isEqualTo(
                      "RunPod job job-2 on endpoint 'ep' did not finish within 2s; the job was"
                          + " cancelled");
            });
    assertThat(time.sleeps())
        .containsExactly(
            Duration.ofMillis(250),
            Duration.ofMillis(500),
            Duration.ofSeconds(1),
            Duration.ofMillis(250));
    List<String> lines = requests().stream().map(RecordedRequest::getRequestLine).toList();
    assertThat(lines)
        .containsExactly(
            "POST /v2/ep/run HTTP/1.1",
            "GET /v2/ep/status/job-2 HTTP/1.1",
            "GET /v2/ep/status/job-2 HTTP/1.1",
            "GET /v2/ep/status/job-2 HTTP/1.1",
            "POST /v2/ep/cancel/job-2 HTTP/1.1");
  }

  @Test
  void aFailedCancelIsReported() {
    server.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            String path = request.getUrl().encodedPath();
            if (path.contains("/cancel/")) {
              return new MockResponse.Builder()
                  .code(404)
                  .body("{\"error\":\"job not found\"}")
                  .build();
            }
            return json200("{\"id\": \"job-3\", \"status\": \"IN_QUEUE\"}");
          }
        });

    assertThatThrownBy(() -> client.call(job("ep", "{}", Duration.ofSeconds(1))))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e ->
                assertThat(e.getMessage())
                    .isEqualTo(
                        "RunPod job job-3 on endpoint 'ep' did not finish within 1s; cancelling it"
                            + " failed: RunPod answered 404"));
  }

  @Test
  void runsyncThatFinishesNeedsNoPolling() throws Exception {
    server.enqueue(
        json200(
            "{\"id\": \"job-4\", \"status\": \"COMPLETED\", \"executionTime\": 200, \"output\":"
                + " \"done\"}"));

    ProviderResult result = client.call(job("ep", "{\"sync\": true}"));

    assertThat(result.output().asText()).isEqualTo("done");
    assertThat(result.costUsd()).isNull();
    assertThat(server.getRequestCount()).isEqualTo(1);
    assertThat(server.takeRequest().getRequestLine()).isEqualTo("POST /v2/ep/runsync HTTP/1.1");
  }

  @Test
  void aQueuedJobWithoutAnIdCannotBePolled() {
    server.enqueue(json200("{\"status\": \"IN_QUEUE\"}"));

    assertThatThrownBy(() -> client.call(job("ep", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e ->
                assertThat(e.getMessage())
                    .isEqualTo("RunPod endpoint 'ep' answered without a usable job id"));
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void runsyncStillRunningAfterItsWaitIsPolled() throws Exception {
    server.enqueue(json200("{\"id\": \"job-5\", \"status\": \"IN_PROGRESS\"}"));
    server.enqueue(json200("{\"id\": \"job-5\", \"status\": \"COMPLETED\", \"output\": [1, 2]}"));

    ProviderResult result = client.call(job("ep", "{\"sync\": true}"));

    assertThat(result.output()).isEqualTo(json("[1, 2]"));
    assertThat(requests())
        .extracting(RecordedRequest::getRequestLine)
        .containsExactly("POST /v2/ep/runsync HTTP/1.1", "GET /v2/ep/status/job-5 HTTP/1.1");
  }

  @Test
  void aFailedJobFailsTheCallWithItsError() {
    server.enqueue(json200("{\"id\": \"job-6\", \"status\": \"IN_QUEUE\"}"));
    server.enqueue(
        json200(
            "{\"id\": \"job-6\", \"status\": \"FAILED\", \"error\": \"CUDA out of memory\","
                + " \"executionTime\": 900}"));

    assertThatThrownBy(() -> client.call(job("ep", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.retryable()).isFalse();
              assertThat(e.getMessage())
                  .isEqualTo("RunPod job job-6 on RunPod endpoint 'ep' failed: CUDA out of memory");
            });
  }

  @Test
  void aJobRunPodTimedOutFailsWith504() {
    server.enqueue(json200("{\"id\": \"job-7\", \"status\": \"TIMED_OUT\"}"));

    assertThatThrownBy(() -> client.call(job("ep", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class, e -> assertThat(e.status()).isEqualTo(504));
  }

  @Test
  void endpointIdFromParamsAndPricedFromParams() throws Exception {
    server.enqueue(
        json200(
            "{\"id\": \"j\", \"status\": \"COMPLETED\", \"executionTime\": 2000, \"output\": 1}"));

    ProviderResult result =
        client.call(
            job("image.generate", "{\"endpoint_id\": \"abc123\", \"usd_per_second\": 0.001}"));

    assertThat(result.costUsd()).isCloseTo(0.002, within(1e-12));
    assertThat(server.takeRequest().getTarget()).isEqualTo("/v2/abc123/run");
  }

  @Test
  void configuredRateWinsOverTheRequestsRate() throws Exception {
    client = client(config().withUsdPerSecond("abc123", 0.01));
    server.enqueue(
        json200(
            "{\"id\": \"j\", \"status\": \"COMPLETED\", \"executionTime\": 1000, \"output\": 1}"));

    ProviderResult result = client.call(job("abc123", "{\"usd_per_second\": 99}"));

    assertThat(result.costUsd()).isCloseTo(0.01, within(1e-12));
  }

  @Test
  void endpointIdsThatCouldLeaveThePathAreRefused() {
    for (String params :
        List.of("{}", "{\"endpoint_id\": \"ep/../../admin\"}", "{\"endpoint_id\": 5}")) {
      assertThatThrownBy(() -> client.call(job("../admin", params)))
          .as(params)
          .isInstanceOfSatisfying(
              ProviderException.class, e -> assertThat(e.status()).isEqualTo(422));
    }
    assertThat(server.getRequestCount()).isZero();
  }

  @Test
  void aKwargNamedLikeThePromptIsRefused() {
    ProviderRequest request =
        new ProviderRequest(
            "ep", "p", null, json("{}"), json("[]"), json("{\"prompt\": \"q\"}"), null, 0);

    assertThatThrownBy(() -> client.call(request))
        .isInstanceOfSatisfying(
            ProviderException.class, e -> assertThat(e.status()).isEqualTo(422));
  }

  @Test
  void throttledRunAndFlakyStatusAreRetried() throws Exception {
    server.enqueue(new MockResponse.Builder().code(429).addHeader("Retry-After", "2").build());
    server.enqueue(json200("{\"id\": \"j8\", \"status\": \"IN_QUEUE\"}"));
    server.enqueue(new MockResponse.Builder().code(503).build());
    server.enqueue(json200("{\"id\": \"j8\", \"status\": \"COMPLETED\", \"output\": 1}"));

    ProviderResult result = client.call(job("ep", "{}"));

    assertThat(result.output().asInt()).isEqualTo(1);
    assertThat(time.sleeps())
        .containsExactly(Duration.ofSeconds(2), Duration.ofMillis(250), Duration.ofMillis(500));
  }

  @Test
  void aServerErrorOnRunIsNotRetriedSoNoJobRunsTwice() {
    server.enqueue(new MockResponse.Builder().code(500).body("oops").build());

    assertThatThrownBy(() -> client.call(job("ep", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.getMessage())
                  .isEqualTo("RunPod endpoint 'ep': RunPod answered 500: oops");
            });
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void aPollingFailureCancelsTheJob() throws Exception {
    server.enqueue(json200("{\"id\": \"j9\", \"status\": \"IN_QUEUE\"}"));
    server.enqueue(
        new MockResponse.Builder().code(404).body("{\"error\": \"job not found\"}").build());
    server.enqueue(json200("{\"id\": \"j9\", \"status\": \"CANCELLED\"}"));

    assertThatThrownBy(() -> client.call(job("ep", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e ->
                assertThat(e.getMessage())
                    .isEqualTo(
                        "RunPod endpoint 'ep': RunPod answered 404: {\"error\": \"job not found\"};"
                            + " the job was cancelled"));
    assertThat(requests())
        .extracting(RecordedRequest::getRequestLine)
        .last()
        .isEqualTo("POST /v2/ep/cancel/j9 HTTP/1.1");
  }

  @Test
  void rejectedKeyIsNotEchoed() {
    server.enqueue(
        new MockResponse.Builder().code(401).body("invalid api key: Bearer " + KEY).build());

    assertThatThrownBy(() -> client.call(job("ep", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.getMessage())
                  .isEqualTo(
                      "RunPod endpoint 'ep': RunPod answered 401: invalid api key: Bearer ***");
            });
    assertThat(client.toString()).doesNotContain(KEY);
  }

  @Test
  void probeReadsTheConfiguredEndpointsHealth() throws Exception {
    client = client(config().withProbeEndpoint("ep"));
    server.enqueue(json200("{\"jobs\": {\"completed\": 1}, \"workers\": {\"idle\": 1}}"));

    client.probe();

    RecordedRequest recorded = server.takeRequest();
    assertThat(recorded.getRequestLine()).isEqualTo("GET /v2/ep/health HTTP/1.1");
    assertThat(recorded.getHeaders().get("Authorization")).isEqualTo("Bearer " + KEY);
  }

  @Test
  void probeWithoutAnEndpointOnlyChecksTheKeyIsThere() throws Exception {
    client.probe();
    assertThat(server.getRequestCount()).isZero();

    RunPodClient keyless =
        new RunPodClient(config(), new Credentials(Map.of()), TestCalls.transport(time));
    assertThatThrownBy(keyless::probe)
        .isInstanceOfSatisfying(
            ProviderException.class, e -> assertThat(e.status()).isEqualTo(400));
  }

  @Test
  void aKeyThatIsNotAHeaderValueIsRefusedWithoutQuotingIt() {
    RunPodClient broken =
        new RunPodClient(
            config(), new Credentials(Map.of("apiKey", "abc\ndef")), TestCalls.transport(time));

    assertThatThrownBy(() -> broken.call(job("ep", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(400);
              assertThat(e.getMessage()).doesNotContain("abc");
            });
  }

  @Test
  void anInterruptWhilePollingCancelsTheJobAndKeepsTheInterruptFlag() throws Exception {
    Transport interrupting =
        new Transport(
            TestCalls.HTTP,
            time,
            duration -> {
              throw new InterruptedException();
            },
            Transport.DEFAULT_RETRY_BACKOFF,
            Transport.DEFAULT_MAX_RESPONSE_BYTES);
    RunPodClient interrupted =
        new RunPodClient(config(), new Credentials(Map.of("apiKey", KEY)), interrupting);
    server.enqueue(json200("{\"id\": \"j10\", \"status\": \"IN_QUEUE\"}"));
    server.enqueue(json200("{\"id\": \"j10\", \"status\": \"CANCELLED\"}"));

    try {
      assertThatThrownBy(() -> interrupted.call(job("ep", "{}")))
          .isInstanceOfSatisfying(
              ProviderException.class,
              e -> {
                assertThat(e.status()).isEqualTo(503);
                assertThat(e.getMessage())
                    .isEqualTo("RunPod endpoint 'ep': interrupted; the job was cancelled");
              });
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
    } finally {
      Thread.interrupted();
    }
    assertThat(requests())
        .extracting(RecordedRequest::getRequestLine)
        .containsExactly("POST /v2/ep/run HTTP/1.1", "POST /v2/ep/cancel/j10 HTTP/1.1");
  }
}
