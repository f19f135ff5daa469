package io.vera.operator.cli;

import java.io.PrintStream;

/**
 * One line of progress for a long command, rewritten in place ({@code \r}) on a terminal and
 * printed not at all when the output goes to a pipe or a file, so logs and parsed output stay
 * clean. Updates are throttled to a few a second; {@link #close()} erases the line.
 */
public final class ProgressLine implements AutoCloseable {
  private static final long MIN_INTERVAL_NANOS = 200_000_000L;

  private final PrintStream out;
  private final boolean enabled;
  private long lastPrint = System.nanoTime() - MIN_INTERVAL_NANOS;
  private int lastLength;

  ProgressLine(PrintStream out, boolean enabled) {
    this.out = out;
    this.enabled = enabled;
  }

  /** A line on standard error, shown only when the process runs on a terminal. */
  public static ProgressLine onTerminal() {
    return new ProgressLine(System.err, System.console() != null);
  }

  /** Shows {@code text} in place of the previous line, unless one was shown just now. */
  public synchronized void update(String text) {
    long now = System.nanoTime();
    if (!enabled || now - lastPrint < MIN_INTERVAL_NANOS) {
      return;
    }
    lastPrint = now;
    StringBuilder line = new StringBuilder("\r").append(text);
    for (int i = text.length(); i < lastLength; i++) {
      line.append(' ');
    }
    lastLength = text.length();
    out.print(line);
    out.flush();
  }

  @Override
  public synchronized void close() {
    if (enabled && lastLength > 0) {
      out.print("\r" + " ".repeat(lastLength) + "\r");
      out.flush();
      lastLength = 0;
    }
  }
}
