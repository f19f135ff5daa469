package io.vera.operator.provider.endpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.provider.Credentials;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderRequest;
import io.vera.operator.provider.ProviderResult;
import io.vera.operator.provider.TokenUsage;
import io.vera.operator.provider.endpoint.Upstream.Answer;
import io.vera.operator.provider.endpoint.Upstream.Retry;
import io.vera.operator.retry.Deadline;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.HttpUrl;
import okhttp3.Request;
import okhttp3.RequestBody;
import software.amazon.awssdk.http.ContentStreamProvider;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.HttpSigner;
import software.amazon.awssdk.http.auth.spi.signer.SignedRequest;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;
import software.amazon.awssdk.identity.spi.AwsSessionCredentialsIdentity;

/**
 * Runs work on AWS Lambda through the Invoke API with the legacy {@code {"args", "kwargs"}}
 * payload, signed by AWS's own SigV4 signer so Vera needs no full AWS SDK. The function is the
 * request's task name; {@code params} choose {@code invocation_type} (RequestResponse or Event),
 * {@code qualifier} and {@code log_tail}. A call is priced only from the REPORT line of the log
 * tail (billed duration and memory), so it is unpriced unless {@code log_tail} is true.
 *
 * <p>A function that ran and raised ({@code X-Amz-Function-Error}) fails the call with status 502,
 * not retryable: Lambda did its part, and running the function again would repeat its side effects.
 */
public final class LambdaClient extends EndpointClient {
  static final String ACCESS_KEY_ID = "accessKeyId";
  static final String SECRET_ACCESS_KEY = "secretAccessKey";
  static final String SESSION_TOKEN = "sessionToken";

  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(10);

  private static final String REQUEST_RESPONSE = "RequestResponse";
  private static final String EVENT = "Event";

  /** Invoke's FunctionName pattern from the Lambda API reference. */
  private static final Pattern FUNCTION_NAME =
      Pattern.compile(
          "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d:)?(\\d{12}:)?(function:)?"
              + "([a-zA-Z0-9-_.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?");

  private static final Pattern QUALIFIER = Pattern.compile("\\$LATEST|[a-zA-Z0-9_-]{1,128}");
  private static final Pattern REGION = Pattern.compile("[a-z]{2}(-[a-z]+)+-\\d{1,2}");
  private static final Pattern TEXT_REPORT =
      Pattern.compile("Billed Duration: (\\d+) ms.*?Memory Size: (\\d+) MB");
  private static final Pattern JSON_BILLED = Pattern.compile("\"billedDurationMs\"\\s*:\\s*(\\d+)");
  private static final Pattern JSON_MEMORY = Pattern.compile("\"memorySizeMB\"\\s*:\\s*(\\d+)");

  /**
   * Where and at what price Lambda is called.
   *
   * @param region signs every request and picks the default endpoint
   * @param endpoint {@code https://lambda.{region}.amazonaws.com} unless set (VPC endpoint, tests)
   * @param usdPerGbSecond duration price; x86 by default, {@link #ARM_USD_PER_GB_SECOND} for
   *     Graviton
   * @param usdPerMillionRequests request price
   */
  public record Config(
      String region, HttpUrl endpoint, double usdPerGbSecond, double usdPerMillionRequests) {
    public static final double X86_USD_PER_GB_SECOND = 0.0000166667;
    public static final double ARM_USD_PER_GB_SECOND = 0.0000133334;
    public static final double USD_PER_MILLION_REQUESTS = 0.20;

    public Config {
      if (region == null || !REGION.matcher(region).matches()) {
        throw new IllegalArgumentException("not an AWS region: " + region);
      }
      if (endpoint == null) {
        endpoint = HttpUrl.get("https://lambda." + region + ".amazonaws.com");
      }
      if (usdPerGbSecond < 0 || usdPerMillionRequests < 0) {
        throw new IllegalArgumentException("prices cannot be negative");
      }
    }

    /** The public endpoint of {@code region} at x86 prices. */
    public static Config forRegion(String region) {
      return new Config(region, null, X86_USD_PER_GB_SECOND, USD_PER_MILLION_REQUESTS);
    }

    /** The same settings against another base URL, e.g. a VPC endpoint. */
    public Config withEndpoint(String url) {
      HttpUrl parsed = HttpUrl.parse(url);
      if (parsed == null) {
        throw new IllegalArgumentException("not an http(s) URL: " + url);
      }
      return new Config(region, parsed, usdPerGbSecond, usdPerMillionRequests);
    }

    public Config withUsdPerGbSecond(double price) {
      return new Config(region, endpoint, price, usdPerMillionRequests);
    }
  }

  private final Config config;
  private final Credentials credentials;
  private final AwsV4HttpSigner signer = AwsV4HttpSigner.create();

  /** Credentials keys: {@value #ACCESS_KEY_ID}, {@value #SECRET_ACCESS_KEY}, optional token. */
  public LambdaClient(Config config, Credentials credentials, Transport transport) {
    super(transport);
    this.config = config;
    this.credentials = credentials;
  }

  @Override
  public ProviderResult call(ProviderRequest request) throws ProviderException {
    String function = functionName(request.taskName());
    JsonNode params = Calls.params(request);
    String type = Calls.textParam(params, "invocation_type").orElse(REQUEST_RESPONSE);
    if (!type.equals(REQUEST_RESPONSE) && !type.equals(EVENT)) {
      throw Calls.refused("params.invocation_type must be RequestResponse or Event");
    }
    Optional<String> qualifier = Calls.textParam(params, "qualifier");
    if (qualifier.isPresent() && !QUALIFIER.matcher(qualifier.get()).matches()) {
      throw Calls.refused("params.qualifier is not a Lambda version or alias");
    }
    boolean logTail = Calls.boolParam(params, "log_tail");
    if (logTail && type.equals(EVENT)) {
      throw Calls.refused("params.log_tail needs invocation_type RequestResponse");
    }
    ObjectNode payload = Calls.NODES.objectNode();
    payload.set("args", Calls.args(request));
    payload.set("kwargs", Calls.kwargs(request));
    byte[] body = Calls.bytes(payload);

    HttpUrl.Builder url =
        config
            .endpoint()
            .newBuilder()
            .addPathSegments("2015-03-31/functions")
            .addEncodedPathSegment(percentEncode(function))
            .addPathSegment("invocations");
    qualifier.ifPresent(q -> url.addQueryParameter("Qualifier", q));
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("Content-Type", "application/json");
    headers.put("X-Amz-Invocation-Type", type);
    if (logTail) {
      headers.put("X-Amz-Log-Type", "Tail");
    }
    AwsCredentialsIdentity identity = identity();
    HttpUrl target = url.build();
    Duration timeout = Calls.timeout(request);
    Deadline deadline = upstream.deadline(timeout);
    String what = "Lambda function '" + function + "'";
    Answer answer =
        upstream.send(
            what,
            upstream.clientFor(timeout),
            () -> signed("POST", target, headers, body, identity),
            Retry.TRANSIENT,
            Calls.maxRetries(request),
            deadline);
    failUnlessSuccessful(what, answer, identity);
    String functionError = answer.header("X-Amz-Function-Error");
    if (functionError != null) {
      throw functionFailed(what, functionError, answer, identity);
    }
    JsonNode output;
    Double cost = null;
    if (type.equals(EVENT)) {
      ObjectNode accepted = Calls.NODES.objectNode().put("status", "accepted");
      String requestId = answer.header("X-Amzn-RequestId");
      if (requestId != null) {
        accepted.put("request_id", requestId);
      }
      output = accepted;
    } else {
      output = Calls.jsonOrText(answer.body());
      if (logTail) {
        cost = cost(answer.header("X-Amz-Log-Result"));
      }
    }
    return new ProviderResult(
        output, null, TokenUsage.NONE, cost, deadline.elapsedMs(), null, true);
  }

  /** Lists at most one function: proves the endpoint answers and the keys are accepted. */
  @Override
  public void probe() throws ProviderException {
    AwsCredentialsIdentity identity = identity();
    HttpUrl url =
        config
            .endpoint()
            .newBuilder()
            .addPathSegments("2015-03-31/functions/")
            .addQueryParameter("MaxItems", "1")
            .build();
    String what = "Lambda in " + config.region();
    Answer answer =
        upstream.send(
            what,
            upstream.clientFor(PROBE_TIMEOUT),
            () -> signed("GET", url, Map.of(), null, identity),
            Retry.TRANSIENT,
            1,
            upstream.deadline(PROBE_TIMEOUT));
    failUnlessSuccessful(what, answer, identity);
  }

  @Override
  public String toString() {
    return "LambdaClient[region=" + config.region() + ", endpoint=" + config.endpoint() + "]";
  }

  private static String functionName(String taskName) throws ProviderException {
    if (taskName == null
        || taskName.isEmpty()
        || taskName.length() > 170
        || !FUNCTION_NAME.matcher(taskName).matches()
        || taskName.chars().allMatch(c -> c == '.')) {
      throw Calls.refused("the task name is not a Lambda function name or ARN");
    }
    return taskName;
  }

  private AwsCredentialsIdentity identity() throws ProviderException {
    String id = credentials.require(ACCESS_KEY_ID);
    String secret = credentials.require(SECRET_ACCESS_KEY);
    Optional<String> token = credentials.get(SESSION_TOKEN);
    return token.isPresent()
        ? AwsSessionCredentialsIdentity.create(id, secret, token.get())
        : AwsCredentialsIdentity.create(id, secret);
  }

  /**
   * Signs {@code body} and sends exactly those bytes, with exactly the headers that were signed.
   */
  private Request signed(
      String method,
      HttpUrl url,
      Map<String, String> headers,
      byte[] body,
      AwsCredentialsIdentity identity) {
    SdkHttpRequest.Builder unsigned =
        SdkHttpRequest.builder()
            .method(SdkHttpMethod.fromValue(method))
            .uri(URI.create(url.toString()));
    headers.forEach(unsigned::putHeader);
    SignedRequest signedRequest =
        signer.sign(
            r -> {
              r.identity(identity)
                  .request(unsigned.build())
                  .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, "lambda")
                  .putProperty(AwsV4HttpSigner.REGION_NAME, config.region())
                  .putProperty(HttpSigner.SIGNING_CLOCK, upstream.transport().clock());
              if (body != null) {
                r.payload(ContentStreamProvider.fromByteArrayUnsafe(body));
              }
            });
    Request.Builder request = new Request.Builder().url(url);
    signedRequest
        .request()
        .forEachHeader((name, values) -> values.forEach(v -> request.addHeader(name, v)));
    return request.method(method, body == null ? null : RequestBody.create(body, null)).build();
  }

  private void failUnlessSuccessful(String what, Answer answer, AwsCredentialsIdentity identity)
      throws ProviderException {
    if (answer.successful()) {
      return;
    }
    String detail = awsError(answer, identity);
    if (answer.code() == 429) {
      throw upstream.throttled(what, answer, detail);
    }
    throw new ProviderException(
        502,
        what + ": Lambda answered " + answer.code() + (detail.isEmpty() ? "" : " " + detail),
        answer.code() >= 500,
        null,
        null);
  }

  private static ProviderException functionFailed(
      String what, String kind, Answer answer, AwsCredentialsIdentity identity) {
    JsonNode payload = Calls.jsonOrText(answer.body());
    String type = payload.path("errorType").asText("");
    String message = payload.path("errorMessage").asText("");
    String detail =
        type.isEmpty() && message.isEmpty()
            ? Calls.excerpt(answer.body(), secrets(identity))
            : Calls.excerpt(type + (type.isEmpty() ? "" : ": ") + message, secrets(identity));
    return new ProviderException(
        502, what + " failed (" + kind + "): " + detail, false, null, null);
  }

  /** {@code Type: message} from Lambda's error header and body, credential-free and capped. */
  private static String awsError(Answer answer, AwsCredentialsIdentity identity) {
    JsonNode body = Calls.jsonOrText(answer.body());
    String type = answer.header("X-Amzn-ErrorType");
    if (type != null) {
      type = type.split(":", 2)[0];
    } else {
      type = body.path("__type").asText(body.path("Type").asText(""));
    }
    String message = body.path("message").asText(body.path("Message").asText(""));
    if (message.isEmpty() && !body.isObject()) {
      message = body.isTextual() ? body.asText() : "";
    }
    String detail = type + (!type.isEmpty() && !message.isEmpty() ? ": " : "") + message;
    return Calls.excerpt(detail, secrets(identity));
  }

  private static List<String> secrets(AwsCredentialsIdentity identity) {
    List<String> secrets = new ArrayList<>();
    secrets.add(identity.secretAccessKey());
    if (identity instanceof AwsSessionCredentialsIdentity session) {
      secrets.add(session.sessionToken());
    }
    return secrets;
  }

  /** Price from the log tail's REPORT line (text or JSON log format), or null without one. */
  private Double cost(String logResult) {
    if (logResult == null) {
      return null;
    }
    String log;
    try {
      log = new String(Base64.getDecoder().decode(logResult.trim()), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException notBase64) {
      return null;
    }
    long billedMs = -1;
    long memoryMb = -1;
    Matcher text = TEXT_REPORT.matcher(log);
    while (text.find()) {
      billedMs = Long.parseLong(text.group(1));
      memoryMb = Long.parseLong(text.group(2));
    }
    if (billedMs < 0) {
      Matcher billed = JSON_BILLED.matcher(log);
      Matcher memory = JSON_MEMORY.matcher(log);
      while (billed.find() && memory.find()) {
        billedMs = Long.parseLong(billed.group(1));
        memoryMb = Long.parseLong(memory.group(1));
      }
    }
    if (billedMs < 0) {
      return null;
    }
    double gbSeconds = (billedMs / 1000.0) * (memoryMb / 1024.0);
    return gbSeconds * config.usdPerGbSecond() + config.usdPerMillionRequests() / 1_000_000;
  }

  /** RFC 3986 percent-encoding of everything but unreserved characters, as AWS expects in paths. */
  private static String percentEncode(String segment) {
    StringBuilder out = new StringBuilder();
    for (byte b : segment.getBytes(StandardCharsets.UTF_8)) {
      char c = (char) (b & 0xff);
      if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || c == '-'
          || c == '_'
          || c == '.'
          || c == '~') {
        out.append(c);
      } else {
        out.append('%').append(String.format("%02X", b & 0xff));
      }
    }
    return out.toString();
  }
}
