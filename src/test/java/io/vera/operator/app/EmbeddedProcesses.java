package io.vera.operator.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Embedded operators as a user runs them: {@code vera-operator run --embedded} in a process of its
 * own (the test's classpath), with a state directory, a kubeconfig it writes and a REST port on
 * 127.0.0.1. Each process's output goes to {@code target/embedded-restart-logs/<name>.log}. Every
 * process started here is killed by {@link #close()}.
 */
final class EmbeddedProcesses implements AutoCloseable {
  static final Path LOGS = Path.of("target", "embedded-restart-logs");
  static final ObjectMapper JSON = new ObjectMapper();

  /** Bound of every wait for an operator to do something. */
  static final Duration SETTLE = Duration.ofSeconds(240);

  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private final Path home;
  private final List<Process> processes = new ArrayList<>();

  /**
   * @param home the {@code user.home} of every process (a temporary directory), so nothing is
   *     written to the real home
   */
  EmbeddedProcesses(Path home) throws IOException {
    this.home = home;
    Files.createDirectories(LOGS);
  }

  /** One operator process and where it answers. */
  record Operator(String name, Process process, int port, Path kubeconfig) {
    String url(String path) {
      return "http://127.0.0.1:" + port + path;
    }

    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
      return HTTP.send(
          HttpRequest.newBuilder(URI.create(url(path)))
              .timeout(Duration.ofSeconds(60))
              .header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString(body))
              .build(),
          HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
      return HTTP.send(
          HttpRequest.newBuilder(URI.create(url(path))).timeout(Duration.ofSeconds(60)).build(),
          HttpResponse.BodyHandlers.ofString());
    }

    JsonNode getJson(String path) throws Exception {
      return JSON.readTree(get(path).body());
    }

    /** A client of this operator's embedded API server, from the kubeconfig it wrote. */
    KubernetesClient kube() throws IOException {
      return new KubernetesClientBuilder()
          .withConfig(Config.fromKubeconfig(Files.readString(kubeconfig)))
          .build();
    }

    /** SIGKILL, as a crash or {@code kill -9} ends it. */
    void kill() throws InterruptedException {
      process.destroyForcibly();
      assertThat(process.waitFor(10, TimeUnit.SECONDS)).as("operator %s killed", name).isTrue();
    }

    Path log() {
      return LOGS.resolve(name + ".log");
    }
  }

  /** The command line of an operator on {@code state}; started by the caller. */
  ProcessBuilder command(String name, Path state, Path kubeconfig, int port) {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    ProcessBuilder builder =
        new ProcessBuilder(
                java.toString(),
                "-Xmx384m",
                "-Duser.home=" + home.toAbsolutePath(),
                "-cp",
                System.getProperty("java.class.path"),
                "io.vera.operator.cli.VeraCommand",
                "run",
                "--embedded",
                "--state-dir",
                state.toString(),
                "--kubeconfig-out",
                kubeconfig.toString(),
                "--host",
                "127.0.0.1",
                "--port",
                Integer.toString(port))
            .redirectErrorStream(true)
            .redirectOutput(LOGS.resolve(name + ".log").toFile());
    // No cluster is looked for: embedded mode is asked for, and no kubeconfig is inherited.
    builder.environment().remove("KUBECONFIG");
    return builder;
  }

  /** Starts a process that is killed at {@link #close()}. */
  Process launch(ProcessBuilder command) throws IOException {
    Process process = command.start();
    processes.add(process);
    return process;
  }

  /**
   * Starts an operator on {@code state}, writing its kubeconfig to {@code kubeconfig} (replacing
   * the one of an earlier run on the directory, whose API server port is gone); returns once REST
   * answers.
   */
  Operator start(String name, Path state, Path kubeconfig) throws Exception {
    Files.deleteIfExists(kubeconfig);
    int port = freePort();
    Operator operator =
        new Operator(name, launch(command(name, state, kubeconfig, port)), port, kubeconfig);
    // Generous: a two-core machine shared with other builds has taken over five minutes to start
    // a JVM with the operator; a process that ends fails at once.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(600);
    while (true) {
      assertThat(operator.process().isAlive()).as("operator %s is running", name).isTrue();
      assertThat(System.nanoTime() - deadline).as("operator %s serves REST", name).isNegative();
      try {
        if (operator.get("/healthz").statusCode() == 200 && Files.exists(kubeconfig)) {
          return operator;
        }
      } catch (IOException e) {
        // Not listening yet.
      }
      Thread.sleep(200);
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /** Waits up to {@link #SETTLE} for {@code condition}; an exception counts as not yet. */
  static void await(String what, ThrowingCondition condition) throws InterruptedException {
    await(what, condition, () -> "");
  }

  /**
   * Like {@link #await(String, ThrowingCondition)}; a timeout's message ends with what {@code
   * state} says then, such as which of many things the condition still waits for.
   */
  static void await(String what, ThrowingCondition condition, Supplier<String> state)
      throws InterruptedException {
    long deadline = System.nanoTime() + SETTLE.toNanos();
    while (!holds(condition)) {
      if (System.nanoTime() - deadline >= 0) {
        throw new AssertionError("timed out after " + SETTLE + ": " + what + "; " + state.get());
      }
      Thread.sleep(500);
    }
  }

  private static boolean holds(ThrowingCondition condition) {
    try {
      return condition.holds();
    } catch (Exception e) {
      return false;
    }
  }

  interface ThrowingCondition {
    boolean holds() throws Exception;
  }

  @Override
  public void close() throws InterruptedException {
    for (Process process : processes) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
