package io.vera.operator.handler;

/**
 * Where a handler's progress reports go: the task's status (at a bounded rate), the WebSocket's
 * {@code task_progress} events and the dashboard. Calling it often is fine; the worker keeps only
 * the latest report and passes it on at most once a second.
 */
@FunctionalInterface
public interface ProgressReporter {
  ProgressReporter NONE = (fraction, message) -> {};

  /**
   * @param fraction how much of the work is done, 0 to 1 (clamped); NaN when the work cannot tell
   *     (the message then says how far it got)
   * @param message what is happening, for people; may be null
   */
  void report(double fraction, String message);
}
