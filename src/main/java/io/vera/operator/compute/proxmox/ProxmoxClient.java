package io.vera.operator.compute.proxmox;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import okhttp3.ConnectionPool;
import okhttp3.FormBody;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Proxmox VE REST API ({@code https://host:8006/api2/json}) over okhttp: API-token or ticket
 * authentication ({@link ProxmoxAuth}), form-encoded parameters, errors read from the reason phrase
 * and the {@code errors} of a 400, locks and transient failures retried, and tasks (UPIDs) followed
 * to their end. Thread-safe; one instance per Provider.
 *
 * <p>Nothing it logs or throws carries a token secret, a password or a ticket.
 */
final class ProxmoxClient implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ProxmoxClient.class);
  static final ObjectMapper JSON = new ObjectMapper();

  /** Error texts are cut to this many characters so a chatty upstream cannot flood a status. */
  private static final int MAX_MESSAGE = 1500;

  /**
   * How long calls wait and how often they retry.
   *
   * @param callTimeout one HTTP call, from connect to the last byte
   * @param retries how often a transient failure ("got no worker upid", "got timeout", a 5xx from
   *     pveproxy, a broken connection on a read) is retried
   * @param lockWait how long a lock ("VM is locked (clone)", a lock-file timeout) is waited out
   * @param backoffInitial first wait between retries and task polls, doubled up to {@code
   *     backoffMax}
   * @param backoffMax longest wait between retries and task polls
   * @param ticketLifetime a ticket older than this is renewed before use (Proxmox: 2 hours)
   */
  public record Policy(
      Duration callTimeout,
      int retries,
      Duration lockWait,
      Duration backoffInitial,
      Duration backoffMax,
      Duration ticketLifetime) {
    public static final Policy DEFAULT =
        new Policy(
            Duration.ofSeconds(60),
            3,
            Duration.ofMinutes(2),
            Duration.ofMillis(200),
            Duration.ofSeconds(2),
            Duration.ofMinutes(110));

    Duration backoff(int attempt) {
      Duration d = backoffInitial;
      for (int i = 0; i < attempt && d.compareTo(backoffMax) < 0; i++) {
        d = d.multipliedBy(2);
      }
      return d.compareTo(backoffMax) < 0 ? d : backoffMax;
    }
  }

  /** How a task ended when it succeeded ({@code OK} or {@code WARNINGS: n}). */
  public record TaskOutcome(String upid, String exitStatus) {}

  private final HttpUrl base;
  private final OkHttpClient http;
  private final ProxmoxAuth auth;
  private final Policy policy;
  private final Clock clock;

  private ProxmoxClient(
      HttpUrl base, OkHttpClient http, ProxmoxAuth auth, Policy policy, Clock clock) {
    this.base = base;
    this.http = http;
    this.auth = auth;
    this.policy = policy;
    this.clock = clock;
  }

  /**
   * A client for {@code endpoint} ({@code https://pve:8006}, with or without {@code /api2/json}; a
   * bare host name gets {@code https://} and port 8006).
   *
   * @param tokenId {@code USER@REALM!TOKENID} for API-token auth, or null
   * @param tokenSecret the token's secret, or null
   * @param username {@code USER@REALM} for ticket auth ({@code @pam} when no realm is given)
   * @param password the user's password
   * @param verifyTls whether the server certificate is checked
   * @param caPem CA certificate(s) to trust instead of the JVM's, or null
   */
  public static ProxmoxClient create(
      String endpoint,
      String tokenId,
      String tokenSecret,
      String username,
      String password,
      boolean verifyTls,
      String caPem,
      Policy policy)
      throws ProxmoxException {
    HttpUrl base = apiBase(endpoint);
    OkHttpClient.Builder builder =
        new OkHttpClient.Builder()
            .callTimeout(policy.callTimeout().toMillis(), TimeUnit.MILLISECONDS)
            .connectTimeout(
                Math.min(policy.callTimeout().toMillis(), 10_000), TimeUnit.MILLISECONDS)
            .readTimeout(policy.callTimeout().toMillis(), TimeUnit.MILLISECONDS)
            .connectionPool(new ConnectionPool(32, 5, TimeUnit.MINUTES))
            .followRedirects(false)
            .retryOnConnectionFailure(false);
    try {
      ProxmoxTls.configure(builder, verifyTls, caPem);
    } catch (GeneralSecurityException e) {
      throw new ProxmoxException(
          ProxmoxException.Kind.HTTP,
          400,
          "the CA certificate (ca.crt) cannot be read: " + e.getMessage(),
          null);
    }
    OkHttpClient http = builder.build();
    Clock clock = Clock.systemUTC();
    ProxmoxAuth auth;
    if (tokenId != null && tokenSecret != null) {
      auth = new ProxmoxAuth.Token(tokenId, tokenSecret);
    } else if (username != null && password != null) {
      auth =
          new ProxmoxAuth.Ticket(
              username.contains("@") ? username : username + "@pam",
              password,
              base,
              http,
              clock,
              policy.ticketLifetime());
    } else {
      throw new ProxmoxException(
          ProxmoxException.Kind.HTTP,
          400,
          "the credentials Secret needs tokenId and tokenSecret (API token) or username and password",
          null);
    }
    return new ProxmoxClient(base, http, auth, policy, clock);
  }

  static HttpUrl apiBase(String endpoint) throws ProxmoxException {
    if (endpoint == null || endpoint.isBlank()) {
      throw new ProxmoxException(
          ProxmoxException.Kind.HTTP,
          400,
          "a Proxmox Provider needs an endpoint (https://host:8006)",
          null);
    }
    String e = endpoint.strip();
    if (!e.contains("://")) {
      e = "https://" + e;
      if (!e.substring(8).contains(":")) {
        int slash = e.indexOf('/', 8);
        e = slash < 0 ? e + ":8006" : e.substring(0, slash) + ":8006" + e.substring(slash);
      }
    }
    HttpUrl url = HttpUrl.parse(e);
    if (url == null) {
      throw new ProxmoxException(
          ProxmoxException.Kind.HTTP, 400, "endpoint is not a URL: " + endpoint, null);
    }
    String path = url.encodedPath().replaceAll("/+$", "");
    if (!path.endsWith("/api2/json")) {
      path = path + "/api2/json";
    }
    return url.newBuilder().encodedPath(path + "/").query(null).fragment(null).build();
  }

  public HttpUrl baseUrl() {
    return base;
  }

  public Policy policy() {
    return policy;
  }

  public JsonNode get(String path, Params query) throws ProxmoxException {
    return call("GET", path, query);
  }

  public JsonNode post(String path, Params form) throws ProxmoxException {
    return call("POST", path, form);
  }

  public JsonNode put(String path, Params form) throws ProxmoxException {
    return call("PUT", path, form);
  }

  public JsonNode delete(String path, Params query) throws ProxmoxException {
    return call("DELETE", path, query);
  }

  /**
   * Sends a call that starts a task and waits for the task to end. A lock or a transient failure,
   * whether it comes as the HTTP answer or as the task's exit status, is retried: the call is sent
   * again after a backoff.
   */
  public TaskOutcome runTask(String method, String path, Params params, Duration timeout)
      throws ProxmoxException {
    Instant lockDeadline = clock.instant().plus(policy.lockWait());
    int transientAttempts = 0;
    int lockAttempts = 0;
    while (true) {
      JsonNode data = call(method, path, params);
      if (!isUpid(data)) {
        // Some calls answer synchronously (e.g. a config PUT, a resize on older versions).
        return new TaskOutcome(null, "OK");
      }
      try {
        return awaitTask(data.asText(), timeout);
      } catch (ProxmoxException e) {
        if (e.kind() != ProxmoxException.Kind.TASK) {
          throw e;
        }
        if (e.locked() && clock.instant().isBefore(lockDeadline)) {
          sleep(policy.backoff(lockAttempts++));
        } else if (e.transientFailure() && !e.locked() && transientAttempts < policy.retries()) {
          sleep(policy.backoff(transientAttempts++));
        } else {
          throw e;
        }
      }
    }
  }

  static boolean isUpid(JsonNode data) {
    return data != null && data.isTextual() && data.asText().startsWith("UPID:");
  }

  /**
   * Polls a task until it stops. {@code OK} and {@code WARNINGS: n} are success; any other exit
   * status fails with that status and the end of the task log. The task keeps running in Proxmox
   * when {@code timeout} passes first.
   */
  public TaskOutcome awaitTask(String upid, Duration timeout) throws ProxmoxException {
    String node = upidNode(upid);
    String statusPath = "nodes/" + node + "/tasks/" + upid + "/status";
    Instant deadline = clock.instant().plus(timeout);
    int polls = 0;
    while (true) {
      JsonNode status = get(statusPath, Params.of());
      if ("stopped".equals(Json.text(status, "status"))) {
        String exit = Json.text(status, "exitstatus");
        if ("OK".equals(exit) || (exit != null && exit.startsWith("WARNINGS"))) {
          return new TaskOutcome(upid, exit);
        }
        throw new ProxmoxException(
            ProxmoxException.Kind.TASK,
            0,
            cut(
                "task "
                    + Json.text(status, "type")
                    + " "
                    + Json.text(status, "id")
                    + " on "
                    + node
                    + " failed: "
                    + exit
                    + logTail(node, upid, exit)),
            null);
      }
      if (!clock.instant().isBefore(deadline)) {
        throw new ProxmoxException(
            ProxmoxException.Kind.TIMEOUT,
            0,
            "task " + upid + " still running after " + timeout.toSeconds() + "s",
            null);
      }
      Duration wait = policy.backoff(polls++);
      Duration left = Duration.between(clock.instant(), deadline);
      sleep(wait.compareTo(left) < 0 ? wait : left.plusMillis(1));
    }
  }

  /** The last lines of a task's log that say more than its exit status. */
  private String logTail(String node, String upid, String exit) {
    try {
      JsonNode log =
          get(
              "nodes/" + node + "/tasks/" + upid + "/log",
              Params.of().put("start", 0).put("limit", 1000));
      List<String> lines = new ArrayList<>();
      for (JsonNode line : log) {
        String t = Json.text(line, "t");
        if (t != null && !t.isBlank() && !t.equals("TASK ERROR: " + exit) && !t.equals("TASK OK")) {
          lines.add(t);
        }
      }
      if (lines.isEmpty()) {
        return "";
      }
      return "; log: "
          + String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size()));
    } catch (ProxmoxException e) {
      return "";
    }
  }

  static String upidNode(String upid) throws ProxmoxException {
    String[] parts = upid.split(":");
    if (parts.length < 3 || !parts[0].equals("UPID") || parts[1].isBlank()) {
      throw new ProxmoxException(ProxmoxException.Kind.HTTP, 0, "not a task id: " + upid, null);
    }
    return parts[1];
  }

  /** One API call with re-login, lock waits and transient retries; answers the {@code data}. */
  JsonNode call(String method, String path, Params params) throws ProxmoxException {
    Instant lockDeadline = clock.instant().plus(policy.lockWait());
    int transientAttempts = 0;
    int lockAttempts = 0;
    boolean relogged = false;
    while (true) {
      try {
        return once(method, path, params);
      } catch (ProxmoxException e) {
        if (e.unauthorized() && !relogged && auth.renewable()) {
          relogged = true;
          auth.invalidate();
          continue;
        }
        if (e.locked() && clock.instant().isBefore(lockDeadline)) {
          LOG.debug("{} {} waits for a lock: {}", method, path, e.getMessage());
          sleep(policy.backoff(lockAttempts++));
          continue;
        }
        boolean safe = e.kind() != ProxmoxException.Kind.NETWORK || method.equals("GET");
        if (e.transientFailure() && !e.locked() && safe && transientAttempts < policy.retries()) {
          LOG.debug("{} {} retried after a transient failure: {}", method, path, e.getMessage());
          sleep(policy.backoff(transientAttempts++));
          continue;
        }
        throw e;
      }
    }
  }

  private JsonNode once(String method, String path, Params params) throws ProxmoxException {
    boolean write = !method.equals("GET");
    HttpUrl.Builder url = base.newBuilder().addPathSegments(path);
    RequestBody body = null;
    if (method.equals("GET") || method.equals("DELETE")) {
      params.asMap().forEach((k, vs) -> vs.forEach(v -> url.addQueryParameter(k, v)));
    } else {
      FormBody.Builder form = new FormBody.Builder();
      params.asMap().forEach((k, vs) -> vs.forEach(v -> form.add(k, v)));
      body = form.build();
    }
    Request.Builder request = new Request.Builder().url(url.build()).method(method, body);
    request.header("Accept", "application/json");
    auth.sign(request, write);
    try (Response response = http.newCall(request.build()).execute()) {
      ResponseBody responseBody = response.body();
      String text = responseBody == null ? "" : responseBody.string();
      if (response.isSuccessful()) {
        if (text.isBlank()) {
          return NullNode.getInstance();
        }
        JsonNode root = JSON.readTree(text);
        JsonNode data = root.get("data");
        return data == null ? NullNode.getInstance() : data;
      }
      throw httpError(method, path, response.code(), response.message(), text);
    } catch (SSLException e) {
      throw new ProxmoxException(
          ProxmoxException.Kind.TLS,
          method
              + " "
              + path
              + ": "
              + e.getClass().getSimpleName()
              + ": the server's certificate is not trusted ("
              + e.getMessage()
              + "); give its CA as ca.crt in the Secret of proxmox.caSecretRef, or set proxmox.verifyTls to false",
          e);
    } catch (IOException e) {
      throw new ProxmoxException(
          ProxmoxException.Kind.NETWORK,
          method + " " + path + ": " + e.getClass().getSimpleName() + ": " + e.getMessage(),
          e);
    }
  }

  /** The failure an HTTP error answer stands for, with the field errors of a 400. */
  static ProxmoxException httpError(
      String method, String path, int code, String reason, String body) {
    Map<String, String> errors = new LinkedHashMap<>();
    String bodyMessage = null;
    try {
      JsonNode root = body.isBlank() ? null : JSON.readTree(body);
      if (root != null && root.has("errors") && root.get("errors").isObject()) {
        Iterator<Map.Entry<String, JsonNode>> fields = root.get("errors").fields();
        while (fields.hasNext()) {
          Map.Entry<String, JsonNode> f = fields.next();
          errors.put(f.getKey(), f.getValue().asText().strip());
        }
      }
      if (root != null && root.hasNonNull("message")) {
        bodyMessage = root.get("message").asText().strip();
      }
    } catch (IOException ignored) {
      // Not JSON (a proxy's HTML page): the reason phrase says enough.
    }
    StringBuilder message = new StringBuilder();
    message.append(method).append(' ').append(path).append(": HTTP ").append(code);
    String why = reason == null || reason.isBlank() ? bodyMessage : reason.strip();
    if (why != null && !why.isBlank()) {
      message.append(' ').append(why);
    }
    if (!errors.isEmpty()) {
      message.append(" (");
      StringBuilder fields = new StringBuilder();
      errors.forEach(
          (k, v) ->
              fields.append(fields.length() == 0 ? "" : "; ").append(k).append(": ").append(v));
      message.append(fields).append(')');
    }
    return new ProxmoxException(ProxmoxException.Kind.HTTP, code, cut(message.toString()), errors);
  }

  private static String cut(String s) {
    return s.length() <= MAX_MESSAGE ? s : s.substring(0, MAX_MESSAGE) + "…";
  }

  private void sleep(Duration d) throws ProxmoxException {
    try {
      Thread.sleep(Math.max(1, d.toMillis()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ProxmoxException(ProxmoxException.Kind.TIMEOUT, "interrupted while waiting", e);
    }
  }

  @Override
  public void close() {
    http.dispatcher().executorService().shutdown();
    http.connectionPool().evictAll();
  }

  /** Lower-cased for comparisons of Proxmox's free-text answers. */
  static String lower(String s) {
    return s == null ? "" : s.toLowerCase(Locale.ROOT);
  }
}
