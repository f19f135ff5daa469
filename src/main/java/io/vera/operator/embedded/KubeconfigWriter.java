package io.vera.operator.embedded;

import java.nio.file.Path;

/** Placeholder signature until the embedded API server branch is merged. */
public final class KubeconfigWriter {
  public static void write(Path path, String server, String namespace) {}
}
