package io.vera.operator.compute.docker;

import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.InstanceId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A {@code dockerd} of a test's own, so the test may stop and start it: its socket, data root, exec
 * root, pid file and containerd namespaces all live under one temporary directory, with no bridge
 * and no iptables rules, so it shares nothing with the engine other tests use. Needs root and the
 * {@code dockerd} binary; without them {@link #start} skips the test, or fails it when {@code
 * CI=true}.
 */
public final class PrivateDockerEngine implements AutoCloseable {
  private static final Duration START_WAIT = Duration.ofSeconds(60);
  private static final Duration STOP_WAIT = Duration.ofSeconds(30);

  private final Path dir;
  private final Path socket;
  private final String namespace;
  private Process daemon;
  private int starts;

  private PrivateDockerEngine(Path dir) {
    this.dir = dir;
    this.socket = dir.resolve("docker.sock");
    this.namespace = "vera-test-" + dir.getFileName().toString().replaceAll("[^a-z0-9]", "");
  }

  /**
   * Starts a fresh engine and waits until it answers; skips (or fails under CI) when this machine
   * cannot run one.
   */
  public static PrivateDockerEngine start() throws IOException, InterruptedException {
    Path dockerd = findDockerd();
    String why = null;
    if (!"root".equals(System.getProperty("user.name"))) {
      why = "a private dockerd needs root, and this runs as " + System.getProperty("user.name");
    } else if (dockerd == null) {
      why = "no dockerd binary on PATH (Debian's docker.io has it)";
    } else if (!Files.isExecutable(DockerTestEngine.BUSYBOX)) {
      why = DockerTestEngine.BUSYBOX + " is missing; install Debian's busybox-static";
    }
    if (why != null) {
      if ("true".equals(System.getenv("CI"))) {
        Assertions.fail(why + "; CI=true requires it for the engine restart test");
      }
      Assumptions.abort(why + "; skipping the engine restart test");
    }
    // Short: a unix socket path may hold at most 107 bytes.
    PrivateDockerEngine engine =
        new PrivateDockerEngine(Files.createTempDirectory(Path.of("/tmp"), "vde"));
    engine.launch();
    return engine;
  }

  private static Path findDockerd() {
    for (String entry : System.getenv().getOrDefault("PATH", "").split(":")) {
      Path candidate = Path.of(entry.isEmpty() ? "." : entry, "dockerd");
      if (Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    for (String fallback : List.of("/usr/sbin/dockerd", "/usr/bin/dockerd")) {
      if (Files.isExecutable(Path.of(fallback))) {
        return Path.of(fallback);
      }
    }
    return null;
  }

  /** The URL a Docker Provider or client uses to reach this engine. */
  public String url() {
    return "unix://" + socket;
  }

  /** Starts the daemon again on the same data root and waits until it answers. */
  public void restart() throws IOException, InterruptedException {
    launch();
  }

  private void launch() throws IOException, InterruptedException {
    if (daemon != null && daemon.isAlive()) {
      throw new IllegalStateException("the private dockerd already runs");
    }
    starts++;
    Path log = dir.resolve("dockerd-" + starts + ".log");
    daemon =
        new ProcessBuilder(
                findDockerd().toString(),
                "--host",
                url(),
                "--data-root",
                dir.resolve("data").toString(),
                "--exec-root",
                dir.resolve("exec").toString(),
                "--pidfile",
                dir.resolve("docker.pid").toString(),
                "--containerd-namespace",
                namespace,
                "--containerd-plugins-namespace",
                namespace + "-plugins",
                "--iptables=false",
                "--bridge=none",
                "--shutdown-timeout",
                "2")
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    long deadline = System.nanoTime() + START_WAIT.toNanos();
    while (true) {
      if (!daemon.isAlive()) {
        throw new IllegalStateException(
            "the private dockerd exited with " + daemon.exitValue() + "; see " + log);
      }
      if (answers()) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "the private dockerd did not answer within " + START_WAIT + "; see " + log);
      }
      Thread.sleep(250);
    }
  }

  private boolean answers() {
    if (!Files.exists(socket)) {
      return false;
    }
    try (DockerHost host =
        DockerHost.connect(url(), null, Duration.ofSeconds(5), new InstanceId("probe"))) {
      host.client().pingCmd().exec();
      return true;
    } catch (ComputeException | RuntimeException e) {
      return false;
    }
  }

  /** Stops the daemon as a service manager would (SIGTERM) and waits until it has exited. */
  public void stop() throws InterruptedException {
    if (daemon == null || !daemon.isAlive()) {
      return;
    }
    daemon.destroy();
    if (!daemon.waitFor(STOP_WAIT.toSeconds(), TimeUnit.SECONDS)) {
      daemon.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      throw new IllegalStateException("the private dockerd ignored SIGTERM for " + STOP_WAIT);
    }
  }

  /** Stops the daemon and removes its directory (containers, images and all). */
  @Override
  public void close() throws InterruptedException {
    try {
      stop();
    } finally {
      // The daemon unmounted its layers on the way down; what is left is plain files.
      try (Stream<Path> files = Files.walk(dir)) {
        files
            .sorted(Comparator.reverseOrder())
            .forEach(
                p -> {
                  try {
                    Files.deleteIfExists(p);
                  } catch (IOException e) {
                    // a busy mount or a file the daemon still held: left for the OS's /tmp
                  }
                });
      } catch (IOException e) {
        System.err.println("PrivateDockerEngine: could not remove " + dir + ": " + e.getMessage());
      }
    }
  }
}
