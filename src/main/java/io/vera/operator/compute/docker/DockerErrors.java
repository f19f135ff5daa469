package io.vera.operator.compute.docker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.dockerjava.api.exception.DockerException;
import com.github.dockerjava.api.exception.NotFoundException;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a Docker engine's answers and silences become {@link ComputeException}s, and the small waits
 * and closes every part of the Docker driver shares.
 */
final class DockerErrors {
  private static final Logger LOG = LoggerFactory.getLogger(DockerErrors.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private DockerErrors() {}

  /**
   * UNAVAILABLE for a connection to the engine at {@code host} that failed or timed out (the engine
   * may come back), NOT_FOUND for a 404, FAILED with the engine's own message for anything else it
   * answered.
   */
  static ComputeException unavailableOr(String host, String what, RuntimeException e) {
    if (e instanceof NotFoundException) {
      return new ComputeException(
          Reason.NOT_FOUND, "could not " + what + ": " + dockerMessage(e), e);
    }
    if (isConnectionFailure(e)) {
      return new ComputeException(
          Reason.UNAVAILABLE,
          "could not "
              + what
              + ": the Docker engine at "
              + host
              + " did not answer ("
              + rootMessage(e)
              + ")",
          e);
    }
    return new ComputeException(Reason.FAILED, "could not " + what + ": " + dockerMessage(e), e);
  }

  static boolean isConnectionFailure(Throwable e) {
    if (e instanceof DockerException) {
      return ((DockerException) e).getHttpStatus() >= 502;
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof IOException) {
        return true;
      }
    }
    return false;
  }

  static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String message = root.getMessage();
    return root.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }

  /** The engine's message without docker-java's "Status 404: {"message":...}" wrapping. */
  static String dockerMessage(Throwable e) {
    String message = e.getMessage();
    if (message == null) {
      return e.getClass().getSimpleName();
    }
    int brace = message.indexOf('{');
    if (e instanceof DockerException && brace >= 0) {
      try {
        JsonNode node = JSON.readTree(message.substring(brace));
        if (node.hasNonNull("message")) {
          return node.get("message").asText();
        }
      } catch (IOException ignored) {
        // not JSON: keep the message as it is
      }
    }
    return message.strip();
  }

  static void closeQuietly(AutoCloseable closeable) {
    try {
      closeable.close();
    } catch (Exception e) {
      LOG.debug("Closing {} failed", closeable.getClass().getSimpleName(), e);
    }
  }

  static void sleep(long millis) throws ComputeException {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ComputeException(Reason.UNAVAILABLE, "interrupted", e);
    }
  }
}
