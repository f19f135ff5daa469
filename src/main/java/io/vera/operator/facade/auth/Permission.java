package io.vera.operator.facade.auth;

/**
 * One question put to the API server with a SubjectAccessReview: may the caller do {@code verb} on
 * {@code resource} (group {@code vera.io}, optionally its {@code subresource} and a single object
 * {@code name}) in {@code namespace}?
 */
public record Permission(
    String verb, String resource, String subresource, String namespace, String name) {
  public static final String GROUP = "vera.io";

  /** As Kubernetes words a refusal: {@code create veratasks in namespace "default"}. */
  public String describe() {
    StringBuilder text = new StringBuilder(verb).append(' ').append(resource);
    if (subresource != null) {
      text.append('/').append(subresource);
    }
    if (name != null) {
      text.append(" \"").append(name).append('"');
    }
    text.append(" (group ").append(GROUP).append(')');
    if (namespace != null) {
      text.append(" in namespace \"").append(namespace).append('"');
    }
    return text.toString();
  }
}
