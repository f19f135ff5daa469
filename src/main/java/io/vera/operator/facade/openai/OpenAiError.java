package io.vera.operator.facade.openai;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.http.Context;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.RefusedCallException;
import io.vera.operator.provider.UnsupportedParamException;

/**
 * A refusal on {@code /v1} in OpenAI's error shape, {@code {"error": {"message", "type", "param",
 * "code"}}}, with the status codes the OpenAI SDKs act on (they retry 408, 409, 429 and 5xx).
 */
public final class OpenAiError extends RuntimeException {
  private final int status;
  private final String type;
  private final String param;
  private final String code;

  public OpenAiError(int status, String message, String param, String code) {
    super(message);
    this.status = status;
    this.type = typeOf(status);
    this.param = param;
    this.code = code;
  }

  static OpenAiError invalid(String message, String param) {
    return new OpenAiError(400, message, param, null);
  }

  static OpenAiError modelNotFound(String message) {
    return new OpenAiError(404, message, "model", "model_not_found");
  }

  /** The refusal a failed provider call stands for, with the upstream's status class kept. */
  static OpenAiError of(ProviderException e) {
    if (e instanceof UnsupportedParamException unsupported) {
      return new OpenAiError(400, e.getMessage(), unsupported.param(), "unsupported_parameter");
    }
    if (e instanceof RefusedCallException refused) {
      String param =
          refused.reason() == RefusedCallException.Reason.MODEL_NOT_PRICED ? "model" : null;
      return new OpenAiError(e.status(), e.getMessage(), param, refused.reason().code);
    }
    int status = e.status();
    return switch (status) {
      // The upstream refused the request as invalid; OpenAI answers that with 400.
      case 400, 422 -> new OpenAiError(400, e.getMessage(), null, null);
      case 404 -> new OpenAiError(404, e.getMessage(), "model", "model_not_found");
      case 429 -> new OpenAiError(429, e.getMessage(), null, "rate_limit_exceeded");
      case 502, 503, 504 -> new OpenAiError(status, e.getMessage(), null, "upstream_error");
      default ->
          new OpenAiError(status >= 400 && status < 600 ? status : 502, e.getMessage(), null, null);
    };
  }

  public int status() {
    return status;
  }

  /** The error object, as a body or as a stream's last event. */
  public ObjectNode body() {
    ObjectNode body = OpenAiRoutes.JSON.createObjectNode();
    ObjectNode error = body.putObject("error");
    error.put("message", getMessage());
    error.put("type", type);
    error.put("param", param);
    error.put("code", code);
    return body;
  }

  /** Answers {@code ctx} with this error. */
  public void write(Context ctx) {
    ctx.status(status).json(body());
  }

  /**
   * Answers a request to {@code /v1} refused outside the gateway's own code (authentication,
   * authorization, size limits, unknown paths) in OpenAI's shape.
   */
  public static void write(Context ctx, int status, String message) {
    String code =
        switch (status) {
          case 401 -> "invalid_api_key";
          case 404 -> "not_found";
          default -> null;
        };
    new OpenAiError(status, message, null, code).write(ctx);
  }

  /** Whether a request is for the OpenAI-compatible gateway, whose errors take OpenAI's shape. */
  public static boolean isGatewayPath(String path) {
    return path.startsWith(OpenAiRoutes.BASE + "/");
  }

  private static String typeOf(int status) {
    return switch (status) {
      case 401 -> "authentication_error";
      case 403 -> "permission_error";
      case 429 -> "rate_limit_error";
      default -> status >= 500 ? "api_error" : "invalid_request_error";
    };
  }
}
