package io.vera.operator.provider.endpoint;

import static io.vera.operator.provider.endpoint.TestCalls.json;
import static io.vera.operator.provider.endpoint.TestCalls.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.vera.operator.provider.Credentials;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderRequest;
import io.vera.operator.provider.ProviderResult;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Lambda invocations are signed as AWS computes SigV4, priced only from billed duration, and fail
 * or retry as Lambda means.
 */
class LambdaClientTest {
  private static final String ACCESS_KEY = "AKIDEXAMPLE";
  private static final String SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  private static final Pattern AUTHORIZATION =
      Pattern.compile(
          "AWS4-HMAC-SHA256 Credential=([^/]+)/(\\d{8})/([^/]+)/([^/]+)/aws4_request,"
              + " SignedHeaders=([^,]+), Signature=([0-9a-f]{64})");

  private final FakeTime time = new FakeTime(Instant.parse("2015-08-30T12:36:00Z"));
  private MockWebServer server;
  private LambdaClient client;

  @BeforeEach
  void start() throws Exception {
    server = TestCalls.loopbackServer();
    client = client(Map.of("accessKeyId", ACCESS_KEY, "secretAccessKey", SECRET_KEY));
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private LambdaClient client(Map<String, String> credentials) {
    LambdaClient.Config config =
        LambdaClient.Config.forRegion("us-east-1").withEndpoint(TestCalls.base(server));
    return new LambdaClient(config, new Credentials(credentials), TestCalls.transport(time));
  }

  private static MockResponse ok(String body) {
    return new MockResponse.Builder().code(200).body(body).build();
  }

  private static ProviderRequest invoke(String function, String params) {
    return new ProviderRequest(
        function,
        null,
        null,
        json(params),
        json("[1, \"two\"]"),
        json("{\"size\": 3}"),
        Duration.ofSeconds(30),
        3);
  }

  @Test
  void independentSigV4MatchesTheAwsTestSuiteGetVanilla() throws Exception {
    Map<String, String> headers =
        Map.of("host", "example.amazonaws.com", "x-amz-date", "20150830T123600Z");
    String signature =
        SigV4.signature(
            SECRET_KEY,
            "20150830T123600Z",
            "us-east-1",
            "service",
            "GET",
            "/",
            List.of("host", "x-amz-date"),
            headers::get,
            new byte[0]);
    assertThat(signature)
        .isEqualTo("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  }

  @Test
  void signsExactlyWhatIsSent() throws Exception {
    server.enqueue(ok("{\"ok\": true}"));

    client.call(invoke("my-function", "{\"qualifier\": \"$LATEST\"}"));

    RecordedRequest recorded = server.takeRequest();
    assertThat(recorded.getMethod()).isEqualTo("POST");
    assertThat(recorded.getTarget())
        .isEqualTo("/2015-03-31/functions/my-function/invocations?Qualifier=%24LATEST");
    assertThat(recorded.getBody().utf8())
        .isEqualTo("{\"args\":[1,\"two\"],\"kwargs\":{\"size\":3}}");
    assertSignedCorrectly(recorded);
  }

  @Test
  void signsArnPathsAndSessionTokens() throws Exception {
    client =
        client(
            Map.of(
                "accessKeyId", ACCESS_KEY,
                "secretAccessKey", SECRET_KEY,
                "sessionToken", "session-token-value"));
    server.enqueue(ok("null"));

    client.call(invoke("arn:aws:lambda:us-east-1:123456789012:function:my-function:prod", "{}"));

    RecordedRequest recorded = server.takeRequest();
    assertThat(recorded.getTarget())
        .isEqualTo(
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction"
                + "%3Amy-function%3Aprod/invocations");
    assertThat(recorded.getHeaders().get("X-Amz-Security-Token")).isEqualTo("session-token-value");
    assertThat(signedHeaders(recorded)).contains("x-amz-security-token");
    assertSignedCorrectly(recorded);
  }

  private static List<String> signedHeaders(RecordedRequest recorded) {
    Matcher m = AUTHORIZATION.matcher(recorded.getHeaders().get("Authorization"));
    assertThat(m.matches()).as("Authorization header format").isTrue();
    return Arrays.asList(m.group(5).split(";"));
  }

  private static void assertSignedCorrectly(RecordedRequest recorded) throws Exception {
    Matcher m = AUTHORIZATION.matcher(recorded.getHeaders().get("Authorization"));
    assertThat(m.matches()).as("Authorization header format").isTrue();
    assertThat(m.group(1)).isEqualTo(ACCESS_KEY);
    assertThat(m.group(2)).isEqualTo("20150830");
    assertThat(m.group(3)).isEqualTo("us-east-1");
    assertThat(m.group(4)).isEqualTo("lambda");
    List<String> signed = Arrays.asList(m.group(5).split(";"));
    assertThat(signed).contains("host", "x-amz-date").isSorted();
    String amzDate = recorded.getHeaders().get("X-Amz-Date");
    assertThat(amzDate).isEqualTo("20150830T123600Z");
    String expected =
        SigV4.signature(
            SECRET_KEY,
            amzDate,
            "us-east-1",
            "lambda",
            recorded.getMethod(),
            recorded.getTarget(),
            signed,
            name -> recorded.getHeaders().get(name),
            recorded.getBody() == null ? new byte[0] : recorded.getBody().toByteArray());
    assertThat(m.group(6)).isEqualTo(expected);
  }

  @Test
  void requestResponseIsPricedFromTheBilledDurationInTheLogTail() throws Exception {
    String log =
        "START RequestId: 8f5 Version: $LATEST\n"
            + "hello\n"
            + "END RequestId: 8f5\n"
            + "REPORT RequestId: 8f5\tDuration: 1432.25 ms\tBilled Duration: 1500 ms\t"
            + "Memory Size: 512 MB\tMax Memory Used: 80 MB\t\n";
    server.enqueue(
        new MockResponse.Builder()
            .code(200)
            .addHeader("X-Amz-Log-Result", base64(log))
            .addHeader("X-Amz-Executed-Version", "$LATEST")
            .body("{\"sum\": 3}")
            .build());

    ProviderResult result = client.call(invoke("adder", "{\"log_tail\": true}"));

    assertThat(result.output()).isEqualTo(json("{\"sum\": 3}"));
    assertThat(result.complete()).isTrue();
    assertThat(result.costUsd()).isCloseTo(1.5 * 0.5 * 0.0000166667 + 0.20 / 1e6, within(1e-12));
    RecordedRequest recorded = server.takeRequest();
    assertThat(recorded.getHeaders().get("X-Amz-Log-Type")).isEqualTo("Tail");
    assertThat(recorded.getHeaders().get("X-Amz-Invocation-Type")).isEqualTo("RequestResponse");
    assertSignedCorrectly(recorded);
  }

  @Test
  void jsonLogFormatReportIsPricedToo() throws Exception {
    String log =
        "{\"time\":\"2025-01-01T00:00:00Z\",\"type\":\"platform.report\",\"record\":{\"metrics\":"
            + "{\"durationMs\":90.1,\"billedDurationMs\":100,\"memorySizeMB\":1024,"
            + "\"maxMemoryUsedMB\":70}}}\n";
    server.enqueue(
        new MockResponse.Builder()
            .code(200)
            .addHeader("X-Amz-Log-Result", base64(log))
            .body("1")
            .build());

    ProviderResult result = client.call(invoke("adder", "{\"log_tail\": true}"));

    assertThat(result.costUsd()).isCloseTo(0.1 * 1.0 * 0.0000166667 + 0.20 / 1e6, within(1e-12));
  }

  @Test
  void configuredRateIsUsed() throws Exception {
    client =
        new LambdaClient(
            LambdaClient.Config.forRegion("us-east-1")
                .withEndpoint(TestCalls.base(server))
                .withUsdPerGbSecond(LambdaClient.Config.ARM_USD_PER_GB_SECOND),
            new Credentials(Map.of("accessKeyId", ACCESS_KEY, "secretAccessKey", SECRET_KEY)),
            TestCalls.transport(time));
    server.enqueue(
        new MockResponse.Builder()
            .code(200)
            .addHeader(
                "X-Amz-Log-Result",
                base64("REPORT RequestId: 1\tBilled Duration: 1000 ms\tMemory Size: 1024 MB\t"))
            .body("1")
            .build());

    ProviderResult result = client.call(invoke("adder", "{\"log_tail\": true}"));

    assertThat(result.costUsd()).isCloseTo(0.0000133334 + 0.20 / 1e6, within(1e-12));
  }

  @Test
  void withoutTheLogTailTheCallIsUnpriced() throws Exception {
    server.enqueue(ok("\"done\""));

    ProviderResult result = client.call(invoke("adder", "{}"));

    assertThat(result.output().asText()).isEqualTo("done");
    assertThat(result.costUsd()).isNull();
    assertThat(server.takeRequest().getHeaders().get("X-Amz-Log-Type")).isNull();
  }

  @Test
  void eventInvocationIsAcceptedWithoutPayload() throws Exception {
    server.enqueue(
        new MockResponse.Builder().code(202).addHeader("X-Amzn-RequestId", "req-1").build());

    ProviderResult result = client.call(invoke("adder", "{\"invocation_type\": \"Event\"}"));

    assertThat(result.output())
        .isEqualTo(json("{\"status\": \"accepted\", \"request_id\": \"req-1\"}"));
    assertThat(result.costUsd()).isNull();
    assertThat(server.takeRequest().getHeaders().get("X-Amz-Invocation-Type")).isEqualTo("Event");
  }

  @Test
  void streamHandsOnTheWholeOutputAsOneChunk() throws Exception {
    server.enqueue(ok("{\"sum\":3}"));
    StringBuilder chunks = new StringBuilder();

    client.stream(invoke("adder", "{}"), chunk -> chunks.append('[').append(chunk).append(']'));

    assertThat(chunks).hasToString("[{\"sum\":3}]");
  }

  @Test
  void unhandledFunctionErrorFailsTheCallWithoutRetrying() {
    server.enqueue(
        new MockResponse.Builder()
            .code(200)
            .addHeader("X-Amz-Function-Error", "Unhandled")
            .body(
                "{\"errorMessage\": \"division by zero\", \"errorType\": \"ZeroDivisionError\","
                    + " \"stackTrace\": [\"  File ...\"]}")
            .build());

    assertThatThrownBy(() -> client.call(invoke("adder", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.retryable()).isFalse();
              assertThat(e.getMessage())
                  .isEqualTo(
                      "Lambda function 'adder' failed (Unhandled): ZeroDivisionError: division by"
                          + " zero");
            });
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void throttlingIsRetriedAfterRetryAfterWithAFreshSignature() throws Exception {
    server.enqueue(
        new MockResponse.Builder()
            .code(429)
            .addHeader("Retry-After", "3")
            .addHeader("X-Amzn-ErrorType", "TooManyRequestsException")
            .body(
                "{\"Reason\":\"ReservedFunctionConcurrentInvocationLimitExceeded\",\"message\":\"Rate exceeded\"}")
            .build());
    server.enqueue(ok("{\"sum\": 3}"));

    ProviderResult result = client.call(invoke("adder", "{}"));

    assertThat(result.output()).isEqualTo(json("{\"sum\": 3}"));
    assertThat(time.sleeps()).containsExactly(Duration.ofSeconds(3));
    server.takeRequest();
    RecordedRequest retry = server.takeRequest();
    assertThat(retry.getHeaders().get("X-Amz-Date")).isEqualTo("20150830T123603Z");
    assertThat(result.latencyMs()).isEqualTo(3000.0);
  }

  @Test
  void serverErrorsBackOffAndGiveUpAfterTheRetries() {
    for (int i = 0; i < 3; i++) {
      server.enqueue(
          new MockResponse.Builder()
              .code(500)
              .addHeader("X-Amzn-ErrorType", "ServiceException")
              .body("{\"message\":\"internal\"}")
              .build());
    }

    assertThatThrownBy(() -> client.call(request("adder", "{}", Duration.ofSeconds(30), 2)))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.retryable()).isTrue();
              assertThat(e.getMessage())
                  .isEqualTo(
                      "Lambda function 'adder': Lambda answered 500 ServiceException: internal");
            });
    assertThat(time.sleeps()).containsExactly(Duration.ofMillis(500), Duration.ofSeconds(1));
  }

  @Test
  void throttlingThatOutlastsTheDeadlineFailsAt429WithRetryAfter() {
    server.enqueue(
        new MockResponse.Builder()
            .code(429)
            .addHeader("Retry-After", "60")
            .addHeader("X-Amzn-ErrorType", "TooManyRequestsException")
            .body("{\"message\":\"Rate exceeded\"}")
            .build());

    assertThatThrownBy(() -> client.call(request("adder", "{}", Duration.ofSeconds(10), 3)))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(429);
              assertThat(e.retryable()).isTrue();
              assertThat(e.retryAfter()).isEqualTo(Duration.ofSeconds(60));
              assertThat(e.getMessage()).contains("TooManyRequestsException: Rate exceeded");
            });
    assertThat(time.sleeps()).isEmpty();
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void aSlowFunctionFailsAt504WhenTheTimeoutRunsOut() {
    server.enqueue(
        new MockResponse.Builder().code(200).body("1").headersDelay(2, TimeUnit.SECONDS).build());

    assertThatThrownBy(() -> client.call(request("adder", "{}", Duration.ofMillis(300), 0)))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(504);
              assertThat(e.getMessage())
                  .isEqualTo("Lambda function 'adder' did not answer within 300ms");
            });
  }

  @Test
  void invalidFunctionNamesAreRefusedWithoutARequest() {
    for (String name : List.of("../admin", "..", "a/b", "", "my function", "fn?x=1")) {
      assertThatThrownBy(() -> client.call(invoke(name, "{}")))
          .as(name)
          .isInstanceOfSatisfying(
              ProviderException.class, e -> assertThat(e.status()).isEqualTo(422));
    }
    assertThat(server.getRequestCount()).isZero();
  }

  @Test
  void invalidParamsAreRefused() {
    for (String params :
        List.of(
            "{\"invocation_type\": \"DryRun\"}",
            "{\"qualifier\": \"../x\"}",
            "{\"log_tail\": \"yes\"}",
            "{\"invocation_type\": \"Event\", \"log_tail\": true}")) {
      assertThatThrownBy(() -> client.call(invoke("adder", params)))
          .as(params)
          .isInstanceOfSatisfying(
              ProviderException.class, e -> assertThat(e.status()).isEqualTo(422));
    }
    assertThat(server.getRequestCount()).isZero();
  }

  @Test
  void missingCredentialsFailWithoutARequest() {
    client = client(Map.of("accessKeyId", ACCESS_KEY));

    assertThatThrownBy(() -> client.call(invoke("adder", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(400);
              assertThat(e.getMessage()).contains("secretAccessKey");
            });
    assertThat(server.getRequestCount()).isZero();
  }

  @Test
  void errorMessagesNeverCarryTheSecretKey() {
    server.enqueue(
        new MockResponse.Builder()
            .code(403)
            .addHeader("X-Amzn-ErrorType", "InvalidSignatureException")
            .body(
                "{\"message\":\"The request signature we calculated does not match "
                    + SECRET_KEY
                    + "\"}")
            .build());

    assertThatThrownBy(() -> client.call(invoke("adder", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.getMessage()).doesNotContain(SECRET_KEY).contains("***");
            });
    assertThat(client.toString()).doesNotContain(SECRET_KEY);
  }

  @Test
  void oversizedResponsesAreDropped() {
    client =
        new LambdaClient(
            LambdaClient.Config.forRegion("us-east-1").withEndpoint(TestCalls.base(server)),
            new Credentials(Map.of("accessKeyId", ACCESS_KEY, "secretAccessKey", SECRET_KEY)),
            new Transport(TestCalls.HTTP, time, time, Transport.DEFAULT_RETRY_BACKOFF, 16));
    server.enqueue(ok("\"" + "x".repeat(100) + "\""));

    assertThatThrownBy(() -> client.call(invoke("adder", "{}")))
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.getMessage()).contains("more than 16 bytes");
            });
  }

  @Test
  void probeListsOneFunctionSigned() throws Exception {
    server.enqueue(ok("{\"Functions\": [], \"NextMarker\": null}"));

    client.probe();

    RecordedRequest recorded = server.takeRequest();
    assertThat(recorded.getMethod()).isEqualTo("GET");
    assertThat(recorded.getTarget()).isEqualTo("/2015-03-31/functions/?MaxItems=1");
    assertSignedCorrectly(recorded);
  }

  @Test
  void probeReportsRejectedCredentials() {
    server.enqueue(
        new MockResponse.Builder()
            .code(403)
            .addHeader("X-Amzn-ErrorType", "UnrecognizedClientException")
            .body("{\"message\":\"The security token included in the request is invalid.\"}")
            .build());

    assertThatThrownBy(() -> client.probe())
        .isInstanceOfSatisfying(
            ProviderException.class,
            e -> {
              assertThat(e.status()).isEqualTo(502);
              assertThat(e.getMessage())
                  .isEqualTo(
                      "Lambda in us-east-1: Lambda answered 403 UnrecognizedClientException: The"
                          + " security token included in the request is invalid.");
            });
  }

  private static String base64(String text) {
    return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
  }
}
