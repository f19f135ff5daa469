package io.vera.operator.compute;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts a running command's output as it arrives (bytes and lines of stdout and stderr, past the
 * cap too), so a resource task can report how far it got while its command still runs. Hosts that
 * receive output only at the end (Proxmox's guest agent) leave it at zero.
 */
public final class OutputMeter {
  /** A meter nobody reads, for commands run without progress. */
  public static final OutputMeter NONE = new OutputMeter();

  private final AtomicLong bytes = new AtomicLong();
  private final AtomicLong lines = new AtomicLong();

  /** Counts {@code len} bytes of output from {@code off}. */
  void count(byte[] b, int off, int len) {
    if (this == NONE) {
      return;
    }
    long newlines = 0;
    for (int i = off; i < off + len; i++) {
      if (b[i] == '\n') {
        newlines++;
      }
    }
    bytes.addAndGet(len);
    lines.addAndGet(newlines);
  }

  public long bytes() {
    return bytes.get();
  }

  /** Newlines seen so far, in both streams. */
  public long lines() {
    return lines.get();
  }
}
