package io.vera.operator.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The worker's bearer token follows the kubelet rotating the projected token file. */
class ServiceAccountTokenTest {
  @TempDir Path dir;

  @Test
  void readsTheFileAndRereadsItWhenItChanges() throws Exception {
    Path file = dir.resolve("token");
    AtomicLong now = new AtomicLong();
    ServiceAccountToken token = new ServiceAccountToken(file, Duration.ofSeconds(5), now::get);
    assertThat(token.get()).as("no file, no header").isEmpty();

    Files.writeString(file, "first\n");
    now.addAndGet(Duration.ofSeconds(5).toNanos());
    assertThat(token.get()).contains("first");

    Files.writeString(file, "second");
    Files.setLastModifiedTime(file, FileTime.from(Instant.now().plusSeconds(60)));
    assertThat(token.get()).as("checked again only after the recheck interval").contains("first");
    now.addAndGet(Duration.ofSeconds(5).toNanos());
    assertThat(token.get()).contains("second");

    Files.writeString(file, "third");
    Files.setLastModifiedTime(file, FileTime.from(Instant.now().plusSeconds(120)));
    token.invalidate();
    assertThat(token.get()).as("after a 401 at once").contains("third");
  }
}
