package io.vera.operator.facade.openai;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * The official OpenAI SDK for Node ({@code openai} on npm, installed by {@code npm ci} in {@code
 * src/test/node}) run through {@code src/test/node/gateway-client.mjs}. Tests using it skip, with a
 * message, when Node or the package is missing, except under CI=true, where they must run.
 */
final class NodeSdk {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final Path FOLDER = Path.of("src/test/node").toAbsolutePath();

  private final String baseUrl;
  private final String token;

  NodeSdk(String baseUrl) {
    this(baseUrl, null);
  }

  /** An SDK client whose API key is {@code token}, e.g. a Kubernetes bearer token. */
  NodeSdk(String baseUrl, String token) {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  /** Skips the calling test when the SDK cannot run here, or fails it on CI. */
  static void assumeAvailable() {
    String missing = null;
    if (!Files.isDirectory(FOLDER.resolve("node_modules/openai"))) {
      missing = "the openai npm package (run: cd src/test/node && npm ci)";
    } else if (!nodeRuns()) {
      missing = "node on the PATH";
    }
    if (missing != null && "true".equals(System.getenv("CI"))) {
      throw new AssertionError("CI=true but " + missing + " is missing");
    }
    Assumptions.assumeTrue(missing == null, "skipped: needs " + missing);
  }

  private static boolean nodeRuns() {
    try {
      Process process = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
      return process.waitFor(20, TimeUnit.SECONDS) && process.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Runs one scenario ({@code chat}, {@code stream}, {@code models}) and returns what the script
   * printed: {@code {"ok": true, "result": ...}} or {@code {"ok": false, "error": ...}}.
   */
  JsonNode run(String scenario, String request) throws Exception {
    ProcessBuilder builder =
        new ProcessBuilder(
                "node",
                "gateway-client.mjs",
                baseUrl + "/v1",
                scenario,
                request == null ? "{}" : request)
            .directory(FOLDER.toFile())
            .redirectError(ProcessBuilder.Redirect.INHERIT);
    if (token != null) {
      builder.environment().put("VERA_TOKEN", token);
    }
    Process process = builder.start();
    byte[] out = process.getInputStream().readAllBytes();
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("node finished").isTrue();
    String text = new String(out, StandardCharsets.UTF_8).trim();
    assertThat(process.exitValue()).as(text).isZero();
    return JSON.readTree(text.substring(text.lastIndexOf('\n') + 1));
  }

  /** The SDK's result, failing with the error it raised if it raised one. */
  JsonNode ok(String scenario, String request) throws Exception {
    JsonNode answer = run(scenario, request);
    assertThat(answer.path("ok").asBoolean()).as(answer.toString()).isTrue();
    return answer.path("result");
  }

  /** The error the SDK raised; fails if the call succeeded. */
  JsonNode error(String scenario, String request) throws Exception {
    JsonNode answer = run(scenario, request);
    assertThat(answer.path("ok").asBoolean()).as(answer.toString()).isFalse();
    return answer.path("error");
  }
}
