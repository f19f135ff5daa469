package io.vera.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The container image ({@code .ci/build-image}, or any build of the Dockerfile named by
 * -Dvera.e2e.image) runs as the chart runs it: unprivileged, on a read-only root with a writable
 * /tmp. Needs a Docker engine and the built image; skips without them unless CI=true.
 */
@Tag("e2e")
class ImageE2eTest {
  private static final Duration DOCKER_TIMEOUT = Duration.ofMinutes(2);

  @BeforeAll
  static void dockerAndImagePresent() {
    E2e.require(E2e.onPath("docker").isPresent(), "docker is not on the PATH");
    E2e.require(
        E2e.run(Duration.ofSeconds(30), "docker", "version").exitCode() == 0,
        "no Docker engine answers `docker version`");
    E2e.require(
        E2e.run(Duration.ofSeconds(30), "docker", "image", "inspect", E2e.IMAGE).exitCode() == 0,
        "image " + E2e.IMAGE + " is not built (run .ci/build-image)");
  }

  @Test
  void helpExitsZeroAndPrintsUsage() {
    E2e.Result help =
        E2e.run(DOCKER_TIMEOUT, "docker", "run", "--rm", "--network", "none", E2e.IMAGE, "--help")
            .ok();
    assertThat(help.output()).contains("Usage: vera-operator", "run", "worker", "bench");
    E2e.Result workerHelp =
        E2e.run(
                DOCKER_TIMEOUT,
                "docker",
                "run",
                "--rm",
                "--network",
                "none",
                E2e.IMAGE,
                "worker",
                "--help")
            .ok();
    assertThat(workerHelp.output()).contains("--operator-url");
  }

  @Test
  void imageRunsAsAnUnprivilegedUser() {
    String user =
        E2e.run(
                DOCKER_TIMEOUT,
                "docker",
                "image",
                "inspect",
                "-f",
                "{{.Config.User}} {{json .Config.Entrypoint}}",
                E2e.IMAGE)
            .ok()
            .output()
            .trim();
    assertThat(user).isEqualTo("65532:65532 [\"java\",\"-jar\",\"/app/vera-operator.jar\"]");
  }

  @Test
  void embeddedModeServesHealthOnAReadOnlyRoot() throws Exception {
    int port = freePort();
    String name = "vera-image-test-" + UUID.randomUUID().toString().substring(0, 8);
    E2e.run(
            DOCKER_TIMEOUT,
            "docker",
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "host",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--memory",
            "768m",
            E2e.IMAGE,
            "run",
            "--embedded",
            // A read-only root has nowhere to keep state.
            "--ephemeral",
            "--host",
            "127.0.0.1",
            "--port",
            Integer.toString(port))
        .ok();
    try {
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
      URI health = URI.create("http://127.0.0.1:" + port + "/orchestrator/health");
      E2e.awaitOr(
          "the container's /orchestrator/health",
          Duration.ofSeconds(120),
          () -> get(http, health).statusCode() == 200,
          () -> E2e.run(DOCKER_TIMEOUT, "docker", "logs", "--tail", "60", name).output());
      assertThat(get(http, health).body()).contains("\"status\":\"healthy\"");

      E2e.Result inspect =
          E2e.run(
                  DOCKER_TIMEOUT,
                  "docker",
                  "inspect",
                  "-f",
                  "{{.State.Running}} {{.HostConfig.ReadonlyRootfs}} {{.State.Pid}}",
                  name)
              .ok();
      List<String> fields = List.of(inspect.output().trim().split(" "));
      assertThat(fields.subList(0, 2)).containsExactly("true", "true");
      // The JVM's own uid, read from /proc on the host: the image's user, not root.
      String status =
          java.nio.file.Files.readString(java.nio.file.Path.of("/proc", fields.get(2), "status"));
      assertThat(status).containsPattern("(?m)^Uid:\\s+65532\\s+65532\\s+65532\\s+65532$");
      // A task runs inside it: the handlers and the embedded API server work from the jar.
      HttpResponse<String> submitted =
          http.send(
              HttpRequest.newBuilder(
                      URI.create("http://127.0.0.1:" + port + "/orchestrator/tasks/submit"))
                  .header("Content-Type", "application/json")
                  .POST(
                      HttpRequest.BodyPublishers.ofString(
                          "{\"name\":\"compute.sum\",\"payload\":{\"a\":10,\"b\":20}}"))
                  .timeout(Duration.ofSeconds(10))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(submitted.statusCode()).as(submitted.body()).isEqualTo(200);
      String id = submitted.body().replaceAll(".*\"task_id\":\"([^\"]+)\".*", "$1");
      HttpResponse<String> result =
          get(
              http,
              URI.create(
                  "http://127.0.0.1:" + port + "/orchestrator/tasks/result/" + id + "?timeout=20"));
      assertThat(result.body()).contains("\"status\":\"completed\"", "\"result\":30");
    } finally {
      E2e.run(DOCKER_TIMEOUT, "docker", "rm", "-f", name);
    }
  }

  private static HttpResponse<String> get(HttpClient http, URI uri) {
    try {
      return http.send(
          HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(25)).GET().build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}
