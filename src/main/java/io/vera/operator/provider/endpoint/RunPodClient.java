package io.vera.operator.provider.endpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.provider.Credentials;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderRequest;
import io.vera.operator.provider.ProviderResult;
import io.vera.operator.provider.TokenUsage;
import io.vera.operator.provider.endpoint.Upstream.Answer;
import io.vera.operator.provider.endpoint.Upstream.Retry;
import io.vera.operator.retry.Backoff;
import io.vera.operator.retry.Deadline;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs jobs on RunPod serverless endpoints: submits with {@code run} (or {@code runsync} when
 * {@code params.sync} is true), polls {@code status} with backoff until the job ends, and cancels
 * it once the request's deadline passes, so no GPU keeps working on an answer nobody waits for.
 *
 * <p>The endpoint is {@code params.endpoint_id} when given, else the task name. The job's {@code
 * input} is the request's kwargs, plus {@code args} when there are any and {@code prompt} when one
 * is given (a kwarg of the same name is refused rather than overwritten). A job is priced from its
 * {@code executionTime} when a per-second rate is known for the endpoint: the client's
 * configuration first, else {@code params.usd_per_second}; otherwise it is unpriced.
 */
public final class RunPodClient extends EndpointClient {
  private static final Logger LOG = LoggerFactory.getLogger(RunPodClient.class);

  static final String API_KEY = "apiKey";

  static final Duration CANCEL_TIMEOUT = Duration.ofSeconds(5);
  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(10);

  private static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{1,128}");

  /**
   * Where RunPod is and what its endpoints cost.
   *
   * @param baseUrl {@code https://api.runpod.ai} unless set
   * @param probeEndpointId the endpoint whose {@code health} the probe reads; null skips the live
   *     check
   * @param usdPerSecond price per second of execution time by endpoint id
   * @param defaultUsdPerSecond price per second of an endpoint {@code usdPerSecond} does not name;
   *     null leaves those priced by the request's {@code usd_per_second}, if any
   * @param pollBackoff waits between status polls
   */
  public record Config(
      HttpUrl baseUrl,
      String probeEndpointId,
      Map<String, Double> usdPerSecond,
      Double defaultUsdPerSecond,
      Backoff pollBackoff) {
    public static final String DEFAULT_BASE_URL = "https://api.runpod.ai";
    public static final Backoff DEFAULT_POLL_BACKOFF =
        new Backoff(Duration.ofMillis(250), Duration.ofSeconds(5));

    public Config {
      if (baseUrl == null) {
        baseUrl = HttpUrl.get(DEFAULT_BASE_URL);
      }
      if (probeEndpointId != null && !ID.matcher(probeEndpointId).matches()) {
        throw new IllegalArgumentException("not a RunPod endpoint id: " + probeEndpointId);
      }
      usdPerSecond = usdPerSecond == null ? Map.of() : Map.copyOf(usdPerSecond);
      if (usdPerSecond.values().stream().anyMatch(rate -> rate == null || rate < 0)
          || (defaultUsdPerSecond != null && defaultUsdPerSecond < 0)) {
        throw new IllegalArgumentException("prices cannot be negative");
      }
      if (pollBackoff == null) {
        pollBackoff = DEFAULT_POLL_BACKOFF;
      }
    }

    /** The public API, no probe endpoint, no prices, polling from 250 ms doubling to 5 s. */
    public static Config defaults() {
      return new Config(null, null, null, null, null);
    }

    public Config withBaseUrl(String url) {
      HttpUrl parsed = HttpUrl.parse(url);
      if (parsed == null) {
        throw new IllegalArgumentException("not an http(s) URL: " + url);
      }
      return new Config(parsed, probeEndpointId, usdPerSecond, defaultUsdPerSecond, pollBackoff);
    }

    public Config withProbeEndpoint(String endpointId) {
      return new Config(baseUrl, endpointId, usdPerSecond, defaultUsdPerSecond, pollBackoff);
    }

    public Config withUsdPerSecond(String endpointId, double rate) {
      Map<String, Double> rates = new HashMap<>(usdPerSecond);
      rates.put(endpointId, rate);
      return new Config(baseUrl, probeEndpointId, rates, defaultUsdPerSecond, pollBackoff);
    }

    public Config withPollBackoff(Backoff backoff) {
      return new Config(baseUrl, probeEndpointId, usdPerSecond, defaultUsdPerSecond, backoff);
    }

    public Config withDefaultUsdPerSecond(double rate) {
      return new Config(baseUrl, probeEndpointId, usdPerSecond, rate, pollBackoff);
    }
  }

  private final Config config;
  private final Credentials credentials;

  /** Credentials key: {@value #API_KEY}, sent as {@code Authorization: Bearer}. */
  public RunPodClient(Config config, Credentials credentials, Transport transport) {
    super(transport);
    this.config = config;
    this.credentials = credentials;
  }

  @Override
  public ProviderResult call(ProviderRequest request) throws ProviderException {
    JsonNode params = Calls.params(request);
    String endpointId = Calls.textParam(params, "endpoint_id").orElse(request.taskName());
    if (endpointId == null || !ID.matcher(endpointId).matches()) {
      throw Calls.refused(
          "the RunPod endpoint id (params.endpoint_id, else the task name) may only contain"
              + " letters, digits, '-' and '_'");
    }
    boolean sync = Calls.boolParam(params, "sync");
    Double rate = config.usdPerSecond().getOrDefault(endpointId, config.defaultUsdPerSecond());
    if (rate == null) {
      rate = Calls.rateParam(params, "usd_per_second").orElse(null);
    }
    ObjectNode body = Calls.NODES.objectNode();
    body.set("input", input(request));
    byte[] bytes = Calls.bytes(body);
    String key = apiKey();

    Duration timeout = Calls.timeout(request);
    Deadline deadline = upstream.deadline(timeout);
    OkHttpClient client = upstream.clientFor(timeout);
    int maxRetries = Calls.maxRetries(request);
    String what = "RunPod endpoint '" + endpointId + "'";
    HttpUrl submit = url(endpointId, sync ? "runsync" : "run");
    Answer submitted =
        upstream.send(
            what,
            client,
            () -> request(submit, key, bytes),
            Retry.UNPROCESSED,
            maxRetries,
            deadline);
    failUnlessSuccessful(what, submitted, key);
    JsonNode job = job(what, submitted);
    String jobId = job.path("id").asText("");
    if (!terminal(job)) {
      if (!ID.matcher(jobId).matches()) {
        throw new ProviderException(502, what + " answered without a usable job id", false);
      }
      job = poll(what, client, endpointId, jobId, key, deadline, maxRetries);
    }
    return finish(what, jobId, job, rate, key, deadline);
  }

  /** Reads the probe endpoint's health; without one, only checks that the API key is there. */
  @Override
  public void probe() throws ProviderException {
    String key = apiKey();
    if (config.probeEndpointId() == null) {
      return;
    }
    String what = "RunPod endpoint '" + config.probeEndpointId() + "'";
    HttpUrl health = url(config.probeEndpointId(), "health");
    Answer answer =
        upstream.send(
            what,
            upstream.clientFor(PROBE_TIMEOUT),
            () -> request(health, key, null),
            Retry.TRANSIENT,
            1,
            upstream.deadline(PROBE_TIMEOUT));
    failUnlessSuccessful(what, answer, key);
  }

  @Override
  public String toString() {
    return "RunPodClient[baseUrl=" + config.baseUrl() + "]";
  }

  private String apiKey() throws ProviderException {
    String key = credentials.require(API_KEY);
    Calls.checkHeaderValue(key, API_KEY);
    return key;
  }

  private static ObjectNode input(ProviderRequest request) throws ProviderException {
    ObjectNode input = Calls.kwargs(request).deepCopy();
    ArrayNode args = Calls.args(request);
    if (!args.isEmpty()) {
      if (input.has("args")) {
        throw Calls.refused("kwargs.args clashes with the positional args of the request");
      }
      input.set("args", args);
    }
    if (request.prompt() != null) {
      if (input.has("prompt")) {
        throw Calls.refused("kwargs.prompt clashes with the prompt of the request");
      }
      input.put("prompt", request.prompt());
    }
    return input;
  }

  private JsonNode poll(
      String what,
      OkHttpClient client,
      String endpointId,
      String jobId,
      String key,
      Deadline deadline,
      int maxRetries)
      throws ProviderException {
    HttpUrl status = url(endpointId, "status", jobId);
    try {
      for (int n = 0; ; n++) {
        Duration wait = config.pollBackoff().delay(n);
        Duration remaining = deadline.remaining();
        upstream.sleep(what, wait.compareTo(remaining) < 0 ? wait : remaining);
        if (deadline.expired()) {
          throw Upstream.timedOut(what, deadline, null);
        }
        Answer answer =
            upstream.send(
                what,
                client,
                () -> request(status, key, null),
                Retry.TRANSIENT,
                maxRetries,
                deadline);
        failUnlessSuccessful(what, answer, key);
        JsonNode job = job(what, answer);
        if (terminal(job)) {
          return job;
        }
      }
    } catch (ProviderException e) {
      String notCancelled = cancel(endpointId, jobId, key);
      String outcome =
          notCancelled == null
              ? "; the job was cancelled"
              : "; cancelling it failed: " + notCancelled;
      if (e.status() == 504) {
        throw new ProviderException(
            504,
            "RunPod job "
                + jobId
                + " on endpoint '"
                + endpointId
                + "' did not finish within "
                + Upstream.seconds(deadline.timeout())
                + outcome,
            true,
            null,
            e);
      }
      throw new ProviderException(
          e.status(), e.getMessage() + outcome, e.retryable(), e.retryAfter(), e);
    }
  }

  /** Asks RunPod to stop the job; returns null when it agreed, else why not. Never throws. */
  private String cancel(String endpointId, String jobId, String key) {
    boolean interrupted = Thread.interrupted();
    try {
      HttpUrl cancel = url(endpointId, "cancel", jobId);
      Answer answer =
          upstream.send(
              "RunPod cancel of job " + jobId,
              upstream.clientFor(CANCEL_TIMEOUT),
              () -> request(cancel, key, new byte[0]),
              Retry.TRANSIENT,
              1,
              upstream.deadline(CANCEL_TIMEOUT));
      if (answer.successful()) {
        return null;
      }
      LOG.warn(
          "RunPod refused to cancel job {} on endpoint {}: {}", jobId, endpointId, answer.code());
      return "RunPod answered " + answer.code();
    } catch (ProviderException e) {
      LOG.warn(
          "Could not cancel RunPod job {} on endpoint {}: {}", jobId, endpointId, e.getMessage());
      return e.getMessage();
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static ProviderResult finish(
      String what, String jobId, JsonNode job, Double rate, String key, Deadline deadline)
      throws ProviderException {
    String status = job.path("status").asText();
    String name = "RunPod job " + jobId + " on " + what;
    switch (status) {
      case "COMPLETED" -> {
        JsonNode output = job.has("output") ? job.get("output") : NullNode.instance;
        JsonNode executionMs = job.get("executionTime");
        Double cost =
            rate != null && executionMs != null && executionMs.isNumber()
                ? executionMs.asDouble() / 1000.0 * rate
                : null;
        return new ProviderResult(
            output, null, TokenUsage.NONE, cost, deadline.elapsedMs(), null, true);
      }
      case "FAILED" -> {
        JsonNode error = job.path("error");
        String detail = error.isMissingNode() || error.isNull() ? "" : Calls.text(error);
        throw new ProviderException(
            502,
            name + " failed" + (detail.isEmpty() ? "" : ": " + Calls.excerpt(detail, List.of(key))),
            false);
      }
      case "CANCELLED" -> throw new ProviderException(502, name + " was cancelled", false);
      default -> throw new ProviderException(504, name + " was timed out by RunPod", false);
    }
  }

  private static boolean terminal(JsonNode job) {
    return switch (job.path("status").asText()) {
      case "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT" -> true;
      default -> false;
    };
  }

  private static JsonNode job(String what, Answer answer) throws ProviderException {
    JsonNode job = Calls.jsonOrText(answer.body());
    if (!job.isObject() || !job.path("status").isTextual()) {
      throw new ProviderException(502, what + " answered with something that is not a job", false);
    }
    return job;
  }

  private void failUnlessSuccessful(String what, Answer answer, String key)
      throws ProviderException {
    if (answer.successful()) {
      return;
    }
    String detail = Calls.excerpt(answer.body(), List.of(key));
    if (answer.code() == 429) {
      throw upstream.throttled(what, answer, detail);
    }
    throw new ProviderException(
        502,
        what + ": RunPod answered " + answer.code() + (detail.isEmpty() ? "" : ": " + detail),
        answer.code() >= 500,
        null,
        null);
  }

  private HttpUrl url(String endpointId, String... segments) {
    HttpUrl.Builder url =
        config.baseUrl().newBuilder().addPathSegment("v2").addPathSegment(endpointId);
    for (String segment : segments) {
      url.addPathSegment(segment);
    }
    return url.build();
  }

  private static Request request(HttpUrl url, String key, byte[] body) {
    Request.Builder request =
        new Request.Builder().url(url).header("Authorization", "Bearer " + key);
    if (body == null) {
      return request.get().build();
    }
    return request
        .post(RequestBody.create(body, body.length == 0 ? null : Calls.JSON_TYPE))
        .build();
  }
}
