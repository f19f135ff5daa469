package io.vera.operator.facade;

import io.javalin.http.Context;

/** Query parameters read with the same range checks and 422 refusals as {@link JsonBody}. */
public final class QueryParams {
  private QueryParams() {}

  /** A number query parameter within [min, max]; absent or blank is the fallback. */
  public static double number(Context ctx, String name, double fallback, double min, double max) {
    String raw = ctx.queryParam(name);
    if (raw == null || raw.isBlank()) {
      return fallback;
    }
    double value;
    try {
      value = Double.parseDouble(raw);
    } catch (NumberFormatException e) {
      throw ApiException.invalid(
          "query parameter '" + name + "' must be a number, got '" + ApiException.clip(raw) + "'");
    }
    if (!(value >= min && value <= max)) {
      throw ApiException.invalid(
          "query parameter '"
              + name
              + "' must be between "
              + (long) min
              + " and "
              + (long) max
              + ", got "
              + ApiException.clip(raw));
    }
    return value;
  }
}
