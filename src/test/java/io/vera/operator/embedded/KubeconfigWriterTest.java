package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Config;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The kubeconfig of embedded mode: its content, permissions and atomic replacement. */
class KubeconfigWriterTest {

  @TempDir Path dir;

  @Test
  void writesOneCredentialFreeContext() throws Exception {
    Path file = dir.resolve("nested/kubeconfig");

    KubeconfigWriter.write(file, "http://127.0.0.1:6443", "team-a");

    Config config = Serialization.unmarshal(Files.readString(file), Config.class);
    assertThat(config.getCurrentContext()).isEqualTo("vera-embedded");
    assertThat(config.getContexts())
        .singleElement()
        .satisfies(
            c -> {
              assertThat(c.getName()).isEqualTo("vera-embedded");
              assertThat(c.getContext().getNamespace()).isEqualTo("team-a");
              assertThat(c.getContext().getCluster()).isEqualTo("vera-embedded");
            });
    assertThat(config.getClusters())
        .singleElement()
        .satisfies(c -> assertThat(c.getCluster().getServer()).isEqualTo("http://127.0.0.1:6443"));
    assertThat(config.getUsers())
        .singleElement()
        .satisfies(
            u -> {
              assertThat(u.getUser().getToken()).isNull();
              assertThat(u.getUser().getClientKeyData()).isNull();
              assertThat(u.getUser().getPassword()).isNull();
            });
  }

  @Test
  void isReadableByTheOwnerOnly() throws Exception {
    Path file = dir.resolve("kubeconfig");

    KubeconfigWriter.write(file, "http://127.0.0.1:6443", "default");

    assertThat(Files.getPosixFilePermissions(file))
        .containsExactlyInAnyOrder(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
  }

  @Test
  void replacesAnExistingFileAndLeavesNoTemporaryFile() throws Exception {
    Path file = dir.resolve("kubeconfig");
    Files.writeString(file, "old");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));

    KubeconfigWriter.write(file, "http://127.0.0.1:7000", "default");

    assertThat(Files.readString(file)).contains("http://127.0.0.1:7000").doesNotContain("old");
    assertThat(Files.getPosixFilePermissions(file))
        .isEqualTo(PosixFilePermissions.fromString("rw-------"));
    try (var files = Files.list(dir)) {
      assertThat(files).containsExactly(file);
    }
  }
}
