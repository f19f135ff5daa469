package io.vera.operator.embedded;

import io.fabric8.kubernetes.api.model.AuthInfo;
import io.fabric8.kubernetes.api.model.ConfigBuilder;
import io.fabric8.kubernetes.api.model.NamedAuthInfoBuilder;
import io.fabric8.kubernetes.api.model.NamedClusterBuilder;
import io.fabric8.kubernetes.api.model.NamedContextBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;

/** Writes the kubeconfig that points kubectl at the embedded API server. */
public final class KubeconfigWriter {

  /** The name of the cluster, user and context the kubeconfig defines. */
  public static final String CONTEXT = "vera-embedded";

  private KubeconfigWriter() {}

  /**
   * Writes a kubeconfig with one context, {@value #CONTEXT}, that is current, uses the given server
   * and namespace, and carries no credentials. The file is written to a temporary file beside the
   * target and moved over it, so a reader never sees a partial file; on POSIX file systems it is
   * created with permissions 0600.
   *
   * @param path where to write the kubeconfig; missing parent directories are created
   * @param server the API server URL, e.g. {@link EmbeddedApiServer#url()}
   * @param namespace the context's default namespace
   * @throws IOException if the file cannot be written
   */
  public static void write(Path path, String server, String namespace) throws IOException {
    String yaml =
        Serialization.asYaml(
            new ConfigBuilder()
                .withApiVersion("v1")
                .withKind("Config")
                .addToClusters(
                    new NamedClusterBuilder()
                        .withName(CONTEXT)
                        .withNewCluster()
                        .withServer(server)
                        .endCluster()
                        .build())
                .addToUsers(
                    new NamedAuthInfoBuilder().withName(CONTEXT).withUser(new AuthInfo()).build())
                .addToContexts(
                    new NamedContextBuilder()
                        .withName(CONTEXT)
                        .withNewContext()
                        .withCluster(CONTEXT)
                        .withUser(CONTEXT)
                        .withNamespace(namespace)
                        .endContext()
                        .build())
                .withCurrentContext(CONTEXT)
                .build());
    Path target = path.toAbsolutePath();
    Files.createDirectories(target.getParent());
    Path temp =
        Files.createTempFile(
            target.getParent(), "." + target.getFileName(), ".tmp", ownerOnly(target.getParent()));
    try {
      Files.writeString(temp, yaml, StandardCharsets.UTF_8);
      Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  private static FileAttribute<?>[] ownerOnly(Path dir) {
    if (!dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      return new FileAttribute<?>[0];
    }
    return new FileAttribute<?>[] {
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))
    };
  }
}
