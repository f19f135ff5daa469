package io.vera.operator.compute.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.transport.DockerHttpClient;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * A tiny image made on the spot from a statically linked busybox (Debian's {@code busybox-static}),
 * for tests and benchmarks on machines that cannot pull images: {@code /bin/busybox}, a symlink per
 * applet in {@link #APPLETS} (so {@code /bin/sh}, {@code sleep}, {@code ps}, ... exist), and {@code
 * /tmp}. It has no default command: containers name one.
 */
public final class BusyboxImage {
  /** The tag tests and the {@code bench docker} command use. */
  public static final String TAG = "vera.local/busybox-test:1";

  /** The busybox applets the image links into {@code /bin}. */
  static final List<String> APPLETS =
      List.of(
          "sh",
          "sleep",
          "cat",
          "echo",
          "kill",
          "ps",
          "grep",
          "ls",
          "env",
          "pwd",
          "true",
          "false",
          "head",
          "tail",
          "yes",
          "dd",
          "id",
          "mkdir",
          "rm",
          "seq",
          "wc",
          "printf",
          "test",
          "tr",
          "nproc",
          "date",
          "uname",
          "touch",
          "hostname");

  private BusyboxImage() {}

  /**
   * Imports the image under {@code tag} from {@code busybox} unless the engine already has it.
   *
   * @return whether it was imported now
   * @throws IOException when {@code busybox} cannot be read
   */
  public static boolean ensure(DockerClient docker, String tag, Path busybox) throws IOException {
    try {
      docker.inspectImageCmd(tag).exec();
      return false;
    } catch (NotFoundException e) {
      importImage(docker, tag, busybox);
      return true;
    }
  }

  /**
   * Imports (or re-imports) the image under {@code tag} from a rootfs tarball built in memory.
   *
   * <p>This is {@code POST /images/create?fromSrc=-} sent through the client's transport directly:
   * docker-java's own {@code createImageCmd} encodes the stream as JSON with the httpclient5
   * transport, and the engine then reads a broken tarball ("unexpected EOF").
   */
  public static void importImage(DockerClient docker, String tag, Path busybox) throws IOException {
    if (!(docker instanceof DockerClientImpl impl)) {
      throw new IllegalArgumentException("needs a DockerClientImpl, got " + docker.getClass());
    }
    int colon = tag.lastIndexOf(':');
    String repository = colon > tag.lastIndexOf('/') ? tag.substring(0, colon) : tag;
    String version = colon > tag.lastIndexOf('/') ? tag.substring(colon + 1) : "latest";
    byte[] tar = rootfs(Files.readAllBytes(busybox));
    DockerHttpClient.Request request =
        DockerHttpClient.Request.builder()
            .method(DockerHttpClient.Request.Method.POST)
            .path(
                "/images/create?fromSrc=-&repo="
                    + URLEncoder.encode(repository, StandardCharsets.UTF_8)
                    + "&tag="
                    + URLEncoder.encode(version, StandardCharsets.UTF_8))
            .putHeader("Content-Type", "application/x-tar")
            .body(new ByteArrayInputStream(tar))
            .build();
    try (DockerHttpClient.Response response = impl.getHttpClient().execute(request)) {
      String body = new String(response.getBody().readAllBytes(), StandardCharsets.UTF_8);
      // The engine answers 200 and reports a failed import inside the progress stream.
      if (response.getStatusCode() != 200 || body.contains("\"error\"")) {
        throw new IOException(
            "importing " + tag + " failed: HTTP " + response.getStatusCode() + " " + body.strip());
      }
    }
  }

  /** The image's root filesystem as a tar archive. */
  static byte[] rootfs(byte[] busybox) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(busybox.length + 64 * 1024);
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      directory(tar, "bin/", 0755);
      directory(tar, "tmp/", 01777);
      directory(tar, "etc/", 0755);
      TarArchiveEntry binary = new TarArchiveEntry("bin/busybox");
      binary.setMode(0100755);
      binary.setSize(busybox.length);
      tar.putArchiveEntry(binary);
      tar.write(busybox);
      tar.closeArchiveEntry();
      for (String applet : APPLETS) {
        TarArchiveEntry link = new TarArchiveEntry("bin/" + applet, TarArchiveEntry.LF_SYMLINK);
        link.setLinkName("busybox");
        link.setMode(0120777);
        tar.putArchiveEntry(link);
        tar.closeArchiveEntry();
      }
      file(tar, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n");
      file(tar, "etc/group", "root:x:0:\nnogroup:x:65534:\n");
      tar.finish();
    }
    return bytes.toByteArray();
  }

  private static void directory(TarArchiveOutputStream tar, String name, int mode)
      throws IOException {
    TarArchiveEntry entry = new TarArchiveEntry(name);
    entry.setMode(040000 | mode);
    tar.putArchiveEntry(entry);
    tar.closeArchiveEntry();
  }

  private static void file(TarArchiveOutputStream tar, String name, String content)
      throws IOException {
    byte[] data = content.getBytes(StandardCharsets.UTF_8);
    TarArchiveEntry entry = new TarArchiveEntry(name);
    entry.setMode(0100644);
    entry.setSize(data.length);
    tar.putArchiveEntry(entry);
    tar.write(data);
    tar.closeArchiveEntry();
  }
}
