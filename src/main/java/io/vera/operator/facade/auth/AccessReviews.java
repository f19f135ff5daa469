package io.vera.operator.facade.auth;

import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authentication.UserInfo;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.RequestConfigBuilder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Optional;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks the API server who a bearer token belongs to (TokenReview, authentication.k8s.io/v1) and
 * whether that user may do something (SubjectAccessReview, authorization.k8s.io/v1), and remembers
 * both answers briefly.
 *
 * <p>Caching: answers, positive and negative, are kept for {@code ttl} in bounded caches. Tokens
 * are keyed by their SHA-256, never held or logged in clear; access decisions by identity and
 * permission. So a revoked token or binding keeps working for at most {@code ttl}. A review that
 * fails (API server unreachable, or refusing the operator's own review request) is not cached and
 * surfaces as {@link ReviewUnavailableException}: the request gets 503, never a guess.
 */
final class AccessReviews {
  private static final Logger LOG = LoggerFactory.getLogger(AccessReviews.class);

  /** A SubjectAccessReview's answer. */
  record Decision(boolean allowed, String reason) {}

  private record AccessKey(Identity identity, Permission permission) {}

  private static final Duration REVIEW_TIMEOUT = Duration.ofSeconds(10);

  private final KubernetesClient noRetries;
  private final ExpiringCache<String, Optional<Identity>> tokens;
  private final ExpiringCache<AccessKey, Decision> decisions;

  AccessReviews(KubernetesClient client, Duration ttl, int maxEntries, LongSupplier nanoTime) {
    // A request waits on its review: fail fast (503) rather than retry 5xx answers with backoff.
    this.noRetries =
        client
            .newClient(
                new RequestConfigBuilder()
                    .withRequestRetryBackoffLimit(0)
                    .withRequestTimeout((int) REVIEW_TIMEOUT.toMillis())
                    .build())
            .adapt(KubernetesClient.class);
    this.tokens = new ExpiringCache<>(ttl, maxEntries, nanoTime);
    this.decisions = new ExpiringCache<>(ttl, maxEntries, nanoTime);
  }

  /** The token's user, or empty when the API server does not accept the token. */
  Optional<Identity> authenticate(String token) {
    String hash = sha256(token);
    return tokens.get(hash, h -> tokenReview(token, h));
  }

  Decision authorize(Identity identity, Permission permission) {
    return decisions.get(new AccessKey(identity, permission), this::accessReview);
  }

  private Optional<Identity> tokenReview(String token, String hash) {
    TokenReview review = new TokenReviewBuilder().withNewSpec().withToken(token).endSpec().build();
    TokenReview answer;
    try {
      answer = noRetries.resource(review).create();
    } catch (KubernetesClientException e) {
      throw unavailable("TokenReview", e);
    }
    if (answer == null || answer.getStatus() == null) {
      throw unavailable("TokenReview", null);
    }
    if (!Boolean.TRUE.equals(answer.getStatus().getAuthenticated())
        || answer.getStatus().getUser() == null) {
      LOG.debug(
          "token sha256:{} not authenticated: {}",
          hash.substring(0, 12),
          answer.getStatus().getError());
      return Optional.empty();
    }
    UserInfo user = answer.getStatus().getUser();
    return Optional.of(
        new Identity(user.getUsername(), user.getUid(), user.getGroups(), user.getExtra()));
  }

  private Decision accessReview(AccessKey key) {
    Identity who = key.identity();
    Permission what = key.permission();
    SubjectAccessReview review =
        new SubjectAccessReviewBuilder()
            .withNewSpec()
            .withUser(who.username())
            .withUid(who.uid())
            .withGroups(who.groups().isEmpty() ? null : who.groups())
            .withExtra(who.extra().isEmpty() ? null : who.extra())
            .withNewResourceAttributes()
            .withGroup(Permission.GROUP)
            .withResource(what.resource())
            .withSubresource(what.subresource())
            .withVerb(what.verb())
            .withNamespace(what.namespace())
            .withName(what.name())
            .endResourceAttributes()
            .endSpec()
            .build();
    SubjectAccessReview answer;
    try {
      answer = noRetries.resource(review).create();
    } catch (KubernetesClientException e) {
      throw unavailable("SubjectAccessReview", e);
    }
    if (answer == null || answer.getStatus() == null) {
      throw unavailable("SubjectAccessReview", null);
    }
    boolean allowed =
        Boolean.TRUE.equals(answer.getStatus().getAllowed())
            && !Boolean.TRUE.equals(answer.getStatus().getDenied());
    String reason = answer.getStatus().getReason();
    if (answer.getStatus().getEvaluationError() != null
        && !answer.getStatus().getEvaluationError().isBlank()) {
      LOG.warn(
          "SubjectAccessReview for {} reported an evaluation error: {}",
          what.describe(),
          answer.getStatus().getEvaluationError());
    }
    return new Decision(allowed, reason == null ? "" : reason);
  }

  private static ReviewUnavailableException unavailable(String kind, KubernetesClientException e) {
    String why =
        e == null
            ? "the API server answered without a status"
            : e.getCode() > 0 ? "HTTP " + e.getCode() : e.getClass().getSimpleName();
    LOG.warn("{} failed ({}); answering 503", kind, why);
    return new ReviewUnavailableException(kind + " failed: " + why, e);
  }

  static String sha256(String token) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
