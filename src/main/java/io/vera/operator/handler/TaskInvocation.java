package io.vera.operator.handler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import java.time.Instant;

/**
 * One attempt of a task as a handler sees it.
 *
 * @param attempt 1 for the first run; raised on every retry and after a lost lease
 * @param deadline when the attempt is interrupted for exceeding its timeout
 * @param namespace the task's namespace when the attempt runs inside the operator, so a handler
 *     that uses the operator's services (a Provider) stays within it; null in worker pods
 * @param progressReporter where {@link #progress(double, String)} reports go
 */
public record TaskInvocation(
    String taskId,
    String handler,
    JsonNode payload,
    JsonNode context,
    int attempt,
    Instant deadline,
    String namespace,
    ProgressReporter progressReporter) {

  public TaskInvocation(
      String taskId,
      String handler,
      JsonNode payload,
      JsonNode context,
      int attempt,
      Instant deadline) {
    this(taskId, handler, payload, context, attempt, deadline, null);
  }

  public TaskInvocation(
      String taskId,
      String handler,
      JsonNode payload,
      JsonNode context,
      int attempt,
      Instant deadline,
      String namespace) {
    this(taskId, handler, payload, context, attempt, deadline, namespace, ProgressReporter.NONE);
  }

  public TaskInvocation {
    payload = payload == null ? NullNode.getInstance() : payload;
    context = context == null ? NullNode.getInstance() : context;
    progressReporter = progressReporter == null ? ProgressReporter.NONE : progressReporter;
  }

  /**
   * Reports how far this attempt got: {@code fraction} from 0 to 1 and a short message for people.
   * It reaches the task's status ({@code kubectl get veratasks} shows it), the WebSocket and the
   * dashboard; the latest report within a second wins.
   */
  public void progress(double fraction, String message) {
    progressReporter.report(fraction, message);
  }
}
