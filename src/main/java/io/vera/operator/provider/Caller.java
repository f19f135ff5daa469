package io.vera.operator.provider;

/**
 * Who made a gateway call, for spend attribution and per-caller and per-namespace budgets.
 *
 * @param name the Kubernetes user the bearer token belongs to (a ServiceAccount is {@code
 *     system:serviceaccount:<namespace>:<name>}), or the embedded-mode caller ({@code anonymous}
 *     unless the request names one)
 * @param namespace the ServiceAccount's namespace; empty for users, who belong to none
 * @param endUser the end user the application named in OpenAI's {@code user} field, or null; it
 *     attributes spend but is never trusted for budgets, since the caller chooses it
 */
public record Caller(String name, String namespace, String endUser) {
  static final String ANONYMOUS_NAME = "anonymous";
  private static final String SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:";

  /** Longest end-user id kept; OpenAI's own limit on {@code user} is 256 characters. */
  static final int MAX_END_USER = 256;

  public Caller {
    name = name == null || name.isBlank() ? ANONYMOUS_NAME : name;
    namespace = namespace == null ? "" : namespace;
    endUser =
        endUser == null || endUser.isBlank()
            ? null
            : endUser.length() > MAX_END_USER ? endUser.substring(0, MAX_END_USER) : endUser;
  }

  /**
   * A caller where no token is checked (embedded mode): the {@code X-Vera-Caller} header's {@code
   * <namespace>/<name>} or {@code <name>}, else {@code anonymous}. Anyone on the loopback port can
   * claim any name, so this splits spend between local applications; it is no security boundary.
   */
  public static Caller unauthenticated(String header, String endUser) {
    if (header == null || header.isBlank()) {
      return new Caller(ANONYMOUS_NAME, "", endUser);
    }
    String value = header.trim();
    if (value.length() > MAX_END_USER) {
      value = value.substring(0, MAX_END_USER);
    }
    int slash = value.indexOf('/');
    return slash > 0 && slash < value.length() - 1
        ? new Caller(value, value.substring(0, slash), endUser)
        : new Caller(value, "", endUser);
  }

  /**
   * A caller authenticated as Kubernetes user {@code username}; a ServiceAccount's namespace is
   * read from its name.
   */
  public static Caller kubernetes(String username, String endUser) {
    String namespace = "";
    if (username != null && username.startsWith(SERVICE_ACCOUNT_PREFIX)) {
      String rest = username.substring(SERVICE_ACCOUNT_PREFIX.length());
      int colon = rest.indexOf(':');
      if (colon > 0) {
        namespace = rest.substring(0, colon);
      }
    }
    return new Caller(username, namespace, endUser);
  }
}
