package io.vera.operator.compute;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Keeps the first {@code cap} bytes written to it and remembers whether more came; every host
 * captures a command's streams with it. Everything written, kept or not, is counted in its {@link
 * OutputMeter}.
 */
public final class CappedOutput extends OutputStream {
  private final int cap;
  private final OutputMeter meter;
  private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
  private boolean truncated;

  public CappedOutput(int cap) {
    this(cap, OutputMeter.NONE);
  }

  public CappedOutput(int cap, OutputMeter meter) {
    this.cap = cap;
    this.meter = meter;
  }

  @Override
  public synchronized void write(int b) {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public synchronized void write(byte[] b, int off, int len) {
    meter.count(b, off, len);
    int room = cap - kept.size();
    if (len > room) {
      truncated = true;
    }
    if (room > 0) {
      kept.write(b, off, Math.min(room, len));
    }
  }

  public synchronized String text() {
    return kept.toString(StandardCharsets.UTF_8);
  }

  public synchronized boolean truncated() {
    return truncated;
  }
}
