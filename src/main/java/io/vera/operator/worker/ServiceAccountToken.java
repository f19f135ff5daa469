package io.vera.operator.worker;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.Optional;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker pod's ServiceAccount token, sent as a bearer token on the lease protocol. The kubelet
 * rotates projected tokens by swapping the file, so the file's modification time is checked at most
 * every {@code recheck} and the token re-read when it changed, and at once after the operator
 * answered 401. No file (a worker outside a pod, or the operator with auth off) means no header.
 */
public final class ServiceAccountToken {
  private static final Logger LOG = LoggerFactory.getLogger(ServiceAccountToken.class);

  static final Path DEFAULT_PATH = Path.of("/var/run/secrets/kubernetes.io/serviceaccount/token");

  private final Path path;
  private final long recheckNanos;
  private final LongSupplier nanoTime;
  private String token;
  private FileTime modified;
  private long checkedAt;
  private boolean stale = true;

  public ServiceAccountToken(Path path) {
    this(path, Duration.ofSeconds(5), System::nanoTime);
  }

  ServiceAccountToken(Path path, Duration recheck, LongSupplier nanoTime) {
    this.path = path;
    this.recheckNanos = recheck.toNanos();
    this.nanoTime = nanoTime;
  }

  /** The current token, if the file exists and is not empty. */
  public synchronized Optional<String> get() {
    long now = nanoTime.getAsLong();
    if (stale || now - checkedAt >= recheckNanos) {
      reload();
      checkedAt = now;
      stale = false;
    }
    return Optional.ofNullable(token);
  }

  /** The operator refused the token: read the file again before the next request. */
  public synchronized void invalidate() {
    stale = true;
    modified = null;
  }

  private void reload() {
    try {
      FileTime time = Files.getLastModifiedTime(path);
      if (token != null && time.equals(modified)) {
        return;
      }
      String text = Files.readString(path, StandardCharsets.UTF_8).trim();
      if (token != null && !text.equals(token)) {
        LOG.info("ServiceAccount token {} was rotated; using the new one", path);
      }
      token = text.isEmpty() ? null : text;
      modified = time;
    } catch (NoSuchFileException e) {
      token = null;
      modified = null;
    } catch (IOException e) {
      LOG.warn("cannot read the ServiceAccount token {}: {}", path, e.getMessage());
    }
  }
}
