package io.vera.operator.facade.auth;

import java.util.List;
import java.util.Map;

/**
 * Who a bearer token belongs to, as the API server's TokenReview reported it; passed on unchanged
 * to the SubjectAccessReviews made for that caller.
 */
public record Identity(
    String username, String uid, List<String> groups, Map<String, List<String>> extra) {
  public Identity {
    groups = groups == null ? List.of() : List.copyOf(groups);
    extra = extra == null ? Map.of() : Map.copyOf(extra);
  }
}
