package io.vera.operator.provider;

import io.vera.operator.handler.ProgressReporter;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Follows a streamed call's text as it arrives and reports about how many tokens came so far, at
 * most every {@link #REPORT_EVERY_NANOS} (a stream hands on dozens of pieces a second; the task's
 * status needs one report a second). Tokens are estimated at 4 characters each, the usual figure
 * for English; the exact count arrives with the stream's usage at its end. With a token limit (the
 * call's {@code max_tokens}) the fraction is the share of it reached; without one it is unknown.
 */
final class StreamProgress implements Consumer<String> {
  static final long REPORT_EVERY_NANOS = 250_000_000L;
  private static final int CHARS_PER_TOKEN = 4;

  private final Integer maxTokens;
  private final ProgressReporter reporter;
  private long characters;
  private long lastReport = System.nanoTime() - REPORT_EVERY_NANOS;

  /**
   * @param maxTokens the call's output token limit, or null when it has none
   */
  StreamProgress(Integer maxTokens, ProgressReporter reporter) {
    this.maxTokens = maxTokens == null || maxTokens <= 0 ? null : maxTokens;
    this.reporter = reporter;
  }

  @Override
  public void accept(String piece) {
    characters += piece.length();
    long now = System.nanoTime();
    if (now - lastReport >= REPORT_EVERY_NANOS) {
      lastReport = now;
      report();
    }
  }

  void report() {
    long tokens = (characters + CHARS_PER_TOKEN - 1) / CHARS_PER_TOKEN;
    String message =
        String.format(
            Locale.ROOT,
            maxTokens == null
                ? "streaming: about %,d tokens so far (%,d characters)"
                : "streaming: about %,d tokens so far (%,d characters) of at most %,d",
            tokens,
            characters,
            maxTokens);
    // Never 100 % before the stream ends: the estimate can pass a limit the stream keeps to.
    reporter.report(
        maxTokens == null ? Double.NaN : Math.min(0.99, tokens / (double) maxTokens), message);
  }
}
