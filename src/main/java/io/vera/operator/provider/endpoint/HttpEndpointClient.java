package io.vera.operator.provider.endpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.provider.Credentials;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderRequest;
import io.vera.operator.provider.ProviderResult;
import io.vera.operator.provider.TokenUsage;
import io.vera.operator.provider.endpoint.Upstream.Answer;
import io.vera.operator.provider.endpoint.Upstream.Retry;
import io.vera.operator.retry.Deadline;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.Headers;
import okhttp3.HttpUrl;
import okhttp3.Request;
import okhttp3.RequestBody;

/**
 * Calls only the HTTP endpoints configured on a Provider, chosen by name (the task name), so the
 * API can never be used to reach another address: a request may add URL-encoded query parameters
 * ({@code params.query}) but cannot change an endpoint's method, scheme, host, port, path or fixed
 * query parameters, and redirects are answered with an error instead of being followed.
 *
 * <p>POST, PUT and PATCH send {@code {"args", "kwargs", "prompt"}} as JSON. Header values may name
 * credentials as {@code ${key}}; they are filled in per call and scrubbed from error excerpts. An
 * {@code apiKey} no template names is sent as {@code Authorization: Bearer}. Only idempotent
 * methods are retried after server errors; POST and PATCH only after 429 or 503.
 */
public final class HttpEndpointClient extends EndpointClient {
  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(10);

  /** The credential sent as a bearer token when no header template places it. */
  static final String API_KEY = "apiKey";

  private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([A-Za-z0-9_.-]+)}");
  private static final Pattern TOKEN = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");
  private static final Set<String> METHODS =
      Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE");
  private static final Set<String> WITH_BODY = Set.of("POST", "PUT", "PATCH");
  private static final Set<String> IDEMPOTENT = Set.of("GET", "HEAD", "PUT", "DELETE");
  private static final Set<String> FIXED_HEADERS =
      Set.of("host", "content-length", "transfer-encoding", "connection");

  /**
   * One callable endpoint.
   *
   * @param headers values may contain {@code ${credentialKey}} placeholders
   */
  public record Endpoint(String name, String method, HttpUrl url, Map<String, String> headers) {
    public Endpoint {
      if (name == null || name.isBlank() || name.chars().anyMatch(Character::isISOControl)) {
        throw new IllegalArgumentException("an HTTP endpoint needs a printable name");
      }
      method = method == null ? "POST" : method.toUpperCase(Locale.ROOT);
      if (!METHODS.contains(method)) {
        throw new IllegalArgumentException(
            "HTTP endpoint '" + name + "': method must be one of " + METHODS);
      }
      if (url == null) {
        throw new IllegalArgumentException("HTTP endpoint '" + name + "' needs a URL");
      }
      if (!url.username().isEmpty() || !url.password().isEmpty()) {
        throw new IllegalArgumentException(
            "HTTP endpoint '" + name + "': put credentials in the Secret, not in the URL");
      }
      headers = headers == null ? Map.of() : Map.copyOf(headers);
      headers.forEach((header, template) -> checkHeader(name, header, template));
    }

    /** Parses {@code url}; a null method means POST. */
    public static Endpoint of(String name, String method, String url, Map<String, String> headers) {
      HttpUrl parsed = url == null ? null : HttpUrl.parse(url);
      if (url != null && parsed == null) {
        throw new IllegalArgumentException(
            "HTTP endpoint '" + name + "': the URL is not an http(s) URL");
      }
      return new Endpoint(name, method, parsed, headers);
    }

    /** The endpoints of a Provider's spec. */
    public static List<Endpoint> fromSpec(List<ProviderSpec.HttpEndpoint> spec) {
      List<Endpoint> endpoints = new ArrayList<>();
      for (ProviderSpec.HttpEndpoint e :
          spec == null ? List.<ProviderSpec.HttpEndpoint>of() : spec) {
        endpoints.add(of(e.name, e.method, e.url, e.headers));
      }
      return endpoints;
    }

    /** Names header values only by header name, and the URL without its query. */
    @Override
    public String toString() {
      return "Endpoint[name="
          + name
          + ", method="
          + method
          + ", url="
          + url.newBuilder().query(null).build()
          + ", headers="
          + headers.keySet()
          + "]";
    }

    private static void checkHeader(String endpoint, String header, String template) {
      String where = "HTTP endpoint '" + endpoint + "', header '" + header + "'";
      if (!TOKEN.matcher(header).matches()) {
        throw new IllegalArgumentException("HTTP endpoint '" + endpoint + "': bad header name");
      }
      if (FIXED_HEADERS.contains(header.toLowerCase(Locale.ROOT))) {
        throw new IllegalArgumentException(where + ": set by the client, cannot be configured");
      }
      if (template == null || template.chars().anyMatch(c -> c != '\t' && (c < 0x20 || c > 0x7e))) {
        throw new IllegalArgumentException(where + ": the value has characters not allowed");
      }
      if (PLACEHOLDER.matcher(template).replaceAll("").contains("${")) {
        throw new IllegalArgumentException(where + ": placeholders look like ${credentialKey}");
      }
    }
  }

  private final Map<String, Endpoint> endpoints = new LinkedHashMap<>();
  private final String probeEndpoint;
  private final Credentials credentials;

  /**
   * @param endpoints at least one, with unique names
   * @param probeEndpoint the endpoint {@link #probe()} calls and needs a 2xx from; null to send a
   *     HEAD to the first endpoint instead
   */
  public HttpEndpointClient(
      List<Endpoint> endpoints,
      String probeEndpoint,
      Credentials credentials,
      Transport transport) {
    super(transport);
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException("an HTTP provider needs at least one endpoint");
    }
    for (Endpoint endpoint : endpoints) {
      if (this.endpoints.put(endpoint.name(), endpoint) != null) {
        throw new IllegalArgumentException(
            "two HTTP endpoints are named '" + endpoint.name() + "'");
      }
    }
    if (probeEndpoint != null && !this.endpoints.containsKey(probeEndpoint)) {
      throw new IllegalArgumentException("no HTTP endpoint named '" + probeEndpoint + "' to probe");
    }
    this.probeEndpoint = probeEndpoint;
    this.credentials = credentials;
  }

  @Override
  public ProviderResult call(ProviderRequest request) throws ProviderException {
    Endpoint endpoint = endpoints.get(request.taskName());
    if (endpoint == null) {
      throw new ProviderException(
          404,
          "no HTTP endpoint named '"
              + printable(request.taskName())
              + "'; configured: "
              + endpoints.keySet(),
          false);
    }
    HttpUrl url = withQuery(endpoint, Calls.params(request).get("query"));
    byte[] body = null;
    if (WITH_BODY.contains(endpoint.method())) {
      ObjectNode payload = Calls.NODES.objectNode();
      payload.set("args", Calls.args(request));
      payload.set("kwargs", Calls.kwargs(request));
      payload.put("prompt", request.prompt());
      body = Calls.bytes(payload);
    }
    Duration timeout = Calls.timeout(request);
    Deadline deadline = upstream.deadline(timeout);
    List<String> secrets = new ArrayList<>();
    Answer answer =
        send(endpoint, url, body, secrets, timeout, Calls.maxRetries(request), deadline);
    String what = what(endpoint);
    if (answer.code() >= 300 && answer.code() < 400) {
      throw new ProviderException(
          502,
          what + " answered with a redirect (" + answer.code() + "); redirects are not followed",
          false);
    }
    String detail = answer.successful() ? "" : Calls.excerpt(answer.body(), secrets);
    if (answer.code() == 429) {
      throw upstream.throttled(what, answer, detail);
    }
    if (!answer.successful()) {
      throw new ProviderException(
          502,
          what + " answered " + answer.code() + (detail.isEmpty() ? "" : ": " + detail),
          answer.code() >= 500,
          null,
          null);
    }
    return new ProviderResult(
        output(answer), null, TokenUsage.NONE, null, deadline.elapsedMs(), null, true);
  }

  /**
   * Calls the probe endpoint and needs a 2xx; without one, sends a HEAD to the first endpoint and
   * fails only on 401, 403, 407 or a server error, since a HEAD to a POST endpoint may well be
   * answered 404 or 405 by a healthy server.
   */
  @Override
  public void probe() throws ProviderException {
    if (probeEndpoint != null) {
      call(
          new ProviderRequest(
              probeEndpoint,
              null,
              null,
              Calls.NODES.objectNode(),
              Calls.NODES.arrayNode(),
              Calls.NODES.objectNode(),
              PROBE_TIMEOUT,
              1));
      return;
    }
    Endpoint first = endpoints.values().iterator().next();
    Endpoint head = new Endpoint(first.name(), "HEAD", first.url(), first.headers());
    Answer answer =
        send(
            head,
            head.url(),
            null,
            new ArrayList<>(),
            PROBE_TIMEOUT,
            1,
            upstream.deadline(PROBE_TIMEOUT));
    int code = answer.code();
    if (code == 401 || code == 403 || code == 407 || code >= 500) {
      throw new ProviderException(
          502, what(first) + " answered " + code + " to a HEAD request", code >= 500);
    }
  }

  @Override
  public String toString() {
    return "HttpEndpointClient[endpoints=" + endpoints.keySet() + "]";
  }

  private Answer send(
      Endpoint endpoint,
      HttpUrl url,
      byte[] body,
      List<String> secrets,
      Duration timeout,
      int maxRetries,
      Deadline deadline)
      throws ProviderException {
    Headers headers = headers(endpoint, secrets);
    RequestBody requestBody = body == null ? null : RequestBody.create(body, Calls.JSON_TYPE);
    Request request =
        new Request.Builder()
            .url(url)
            .headers(headers)
            .method(endpoint.method(), requestBody)
            .build();
    Retry retry = IDEMPOTENT.contains(endpoint.method()) ? Retry.TRANSIENT : Retry.UNPROCESSED;
    return upstream.send(
        what(endpoint), upstream.clientFor(timeout), () -> request, retry, maxRetries, deadline);
  }

  /** The endpoint's headers with credentials filled in; each value used is added to secrets. */
  private Headers headers(Endpoint endpoint, List<String> secrets) throws ProviderException {
    Headers.Builder headers = new Headers.Builder();
    for (Map.Entry<String, String> header : endpoint.headers().entrySet()) {
      Matcher m = PLACEHOLDER.matcher(header.getValue());
      StringBuilder value = new StringBuilder();
      while (m.find()) {
        String secret = credentials.require(m.group(1));
        Calls.checkHeaderValue(secret, m.group(1));
        secrets.add(secret);
        m.appendReplacement(value, Matcher.quoteReplacement(secret));
      }
      m.appendTail(value);
      headers.add(header.getKey(), value.toString());
    }
    Optional<String> apiKey = credentials.get(API_KEY);
    if (apiKey.isPresent() && sendsApiKeyAsBearer(endpoint)) {
      Calls.checkHeaderValue(apiKey.get(), API_KEY);
      secrets.add(apiKey.get());
      headers.add("Authorization", "Bearer " + apiKey.get());
    }
    return headers.build();
  }

  /**
   * An {@code apiKey} in the Secret goes out as {@code Authorization: Bearer}, the convention of
   * most HTTP APIs and what the legacy {@code http_endpoint.api_key} meant, unless the endpoint
   * places it itself: a header template naming {@code ${apiKey}} or its own {@code Authorization}.
   */
  private static boolean sendsApiKeyAsBearer(Endpoint endpoint) {
    return endpoint.headers().entrySet().stream()
        .noneMatch(
            h ->
                h.getKey().equalsIgnoreCase("Authorization")
                    || h.getValue().contains("${" + API_KEY + "}"));
  }

  private static HttpUrl withQuery(Endpoint endpoint, JsonNode query) throws ProviderException {
    if (query == null || query.isNull()) {
      return endpoint.url();
    }
    if (!query.isObject()) {
      throw Calls.refused("params.query must be an object of query parameters");
    }
    HttpUrl.Builder url = endpoint.url().newBuilder();
    for (Map.Entry<String, JsonNode> field : query.properties()) {
      String name = field.getKey();
      if (endpoint.url().queryParameterNames().contains(name)) {
        throw Calls.refused(
            "query parameter '" + printable(name) + "' is fixed by the endpoint's configuration");
      }
      JsonNode value = field.getValue();
      for (JsonNode item : value.isArray() ? value : List.of(value)) {
        if (!item.isValueNode() || item.isNull()) {
          throw Calls.refused(
              "params.query."
                  + printable(name)
                  + " must be a string, number or boolean, or a list");
        }
        url.addQueryParameter(name, item.asText());
      }
    }
    return url.build();
  }

  private static JsonNode output(Answer answer) {
    if (answer.body().length == 0) {
      return NullNode.instance;
    }
    String type = answer.header("Content-Type");
    if (type == null || type.toLowerCase(Locale.ROOT).contains("json")) {
      return Calls.jsonOrText(answer.body());
    }
    return TextNode.valueOf(new String(answer.body(), StandardCharsets.UTF_8));
  }

  private static String what(Endpoint endpoint) {
    return "HTTP endpoint '" + endpoint.name() + "'";
  }

  /** A caller-supplied name fit for a message: no control characters, at most 100 bytes. */
  private static String printable(String text) {
    return text == null ? "" : Calls.truncate(text.replaceAll("\\p{Cntrl}", "?"), 100);
  }
}
