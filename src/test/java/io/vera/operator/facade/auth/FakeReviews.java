package io.vera.operator.facade.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * Answers TokenReviews and SubjectAccessReviews as a real API server would, in front of the
 * embedded API server's CRUD mock (which would store a review and return it without a status), and
 * records what the operator asked.
 *
 * <p>Tokens map to identities; grants are {@code "user verb resource[/subresource]"}, with {@code
 * *} for any verb, optionally {@code " name"} to limit a grant to one object, checked in any
 * namespace unless {@link #onlyInNamespace} is set.
 */
public final class FakeReviews implements Function<RecordedRequest, Optional<MockResponse>> {
  public static final String TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews";
  public static final String ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private final Map<String, Identity> tokens = new ConcurrentHashMap<>();
  private final Set<String> grants = ConcurrentHashMap.newKeySet();
  private final List<JsonNode> tokenReviews = new CopyOnWriteArrayList<>();
  private final List<JsonNode> accessReviews = new CopyOnWriteArrayList<>();
  private final AtomicBoolean down = new AtomicBoolean();
  private volatile String onlyInNamespace;

  public FakeReviews token(String token, Identity identity) {
    tokens.put(token, identity);
    return this;
  }

  public FakeReviews grant(String grant) {
    grants.add(grant);
    return this;
  }

  public void onlyInNamespace(String namespace) {
    onlyInNamespace = namespace;
  }

  /** While down, both review APIs answer 503 as an overloaded API server would. */
  public void down(boolean isDown) {
    down.set(isDown);
  }

  public List<JsonNode> tokenReviews() {
    return tokenReviews;
  }

  public List<JsonNode> accessReviews() {
    return accessReviews;
  }

  public void clear() {
    tokenReviews.clear();
    accessReviews.clear();
  }

  @Override
  public Optional<MockResponse> apply(RecordedRequest request) {
    String path = request.getPath();
    boolean token = path.startsWith(TOKEN_REVIEWS);
    boolean access = path.startsWith(ACCESS_REVIEWS);
    if (!token && !access) {
      return Optional.empty();
    }
    ObjectNode review;
    try {
      review = (ObjectNode) MAPPER.readTree(request.getUtf8Body());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    (token ? tokenReviews : accessReviews).add(review.deepCopy());
    if (down.get()) {
      return Optional.of(
          new MockResponse()
              .setResponseCode(503)
              .setHeader("Content-Type", "application/json")
              .setBody(
                  "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                      + "\"reason\":\"ServiceUnavailable\",\"code\":503}"));
    }
    ObjectNode status = review.putObject("status");
    if (token) {
      Identity who = tokens.get(review.path("spec").path("token").asText());
      status.put("authenticated", who != null);
      if (who == null) {
        status.put("error", "invalid bearer token");
      } else {
        ObjectNode user = status.putObject("user");
        user.put("username", who.username());
        user.put("uid", who.uid());
        who.groups().forEach(user.putArray("groups")::add);
        ObjectNode extra = user.putObject("extra");
        who.extra().forEach((k, v) -> v.forEach(extra.putArray(k)::add));
      }
    } else {
      JsonNode spec = review.path("spec");
      JsonNode attributes = spec.path("resourceAttributes");
      String resource = attributes.path("resource").asText();
      if (attributes.hasNonNull("subresource")) {
        resource += "/" + attributes.path("subresource").asText();
      }
      String user = spec.path("user").asText();
      String verb = attributes.path("verb").asText();
      String name = attributes.path("name").asText(null);
      String ns = attributes.path("namespace").asText(null);
      boolean nsOk = onlyInNamespace == null || onlyInNamespace.equals(ns);
      boolean allowed =
          nsOk
              && "vera.io".equals(attributes.path("group").asText())
              && (grants.contains(user + " " + verb + " " + resource)
                  || grants.contains(user + " * " + resource)
                  || grants.contains(user + " * *")
                  || (name != null
                      && grants.contains(user + " " + verb + " " + resource + " " + name)));
      status.put("allowed", allowed);
      if (!allowed) {
        status.put("reason", "no RBAC policy matched");
      }
    }
    return Optional.of(
        new MockResponse()
            .setResponseCode(201)
            .setHeader("Content-Type", "application/json")
            .setBody(review.toString()));
  }
}
