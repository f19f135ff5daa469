package io.vera.operator.facade;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.handler.ErrorHandler;

/**
 * Answers the requests Jetty refuses before any route sees them (an undecodable path, a malformed
 * header) in the API's own shape, {@code {"detail": ...}}, instead of an HTML page.
 */
final class JsonErrorHandler extends ErrorHandler {
  @Override
  public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
    fields.put(new HttpField(HttpHeader.CONTENT_TYPE, "application/json"));
    return ByteBuffer.wrap(json(status, reason));
  }

  @Override
  protected void generateAcceptableResponse(
      Request baseRequest,
      HttpServletRequest request,
      HttpServletResponse response,
      int code,
      String message)
      throws IOException {
    baseRequest.setHandled(true);
    response.setContentType("application/json");
    response.getOutputStream().write(json(code, message));
  }

  private static byte[] json(int status, String reason) {
    String detail =
        reason == null || reason.isBlank()
            ? "the request could not be read (HTTP " + status + ")"
            : reason;
    try {
      return JsonBody.MAPPER.writeValueAsBytes(Map.of("detail", detail));
    } catch (IOException e) {
      return ("{\"detail\":\"HTTP " + status + "\"}").getBytes(StandardCharsets.UTF_8);
    }
  }
}
