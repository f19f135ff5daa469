package io.vera.operator.e2e;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;

/**
 * What the end-to-end tests share: skipping (or, with {@code CI=true}, failing) when what they need
 * is missing, running commands with a deadline, and waiting with a deadline. Nothing here waits
 * without a bound, so a broken cluster fails the run instead of hanging it.
 */
final class E2e {
  static final boolean CI = "true".equals(System.getenv("CI"));

  /** The image the tests run: -Dvera.e2e.image, else what .ci/build-image tags. */
  static final String IMAGE = System.getProperty("vera.e2e.image", "vera-operator:" + appVersion());

  private E2e() {}

  /** Skips the test with {@code reason}, or fails it when CI=true (CI must run everything). */
  static void require(boolean present, String reason) {
    if (!present && CI) {
      fail(reason + "; CI=true requires it");
    }
    Assumptions.assumeTrue(present, () -> reason + "; skipping");
  }

  static Optional<Path> onPath(String name) {
    return Arrays.stream(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
        .filter(entry -> !entry.isEmpty())
        .map(entry -> Path.of(entry, name))
        .filter(Files::isExecutable)
        .findFirst();
  }

  static String appVersion() {
    try {
      Matcher m =
          Pattern.compile("(?m)^appVersion:\\s*\"?([^\"\\s]+)\"?")
              .matcher(Files.readString(Path.of("helm", "vera-operator", "Chart.yaml")));
      return m.find() ? m.group(1) : "latest";
    } catch (IOException e) {
      return "latest";
    }
  }

  record Result(int exitCode, String output) {
    Result ok() {
      if (exitCode != 0) {
        fail("exit code " + exitCode + ":\n" + output);
      }
      return this;
    }
  }

  /** Runs a command with stdin from {@code input} (may be null), output and errors merged. */
  static Result run(Duration timeout, Map<String, String> env, Path input, List<String> command) {
    try {
      Path output = Files.createTempFile("vera-e2e", ".out");
      try {
        ProcessBuilder builder =
            new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile());
        builder.redirectInput(
            input != null ? ProcessBuilder.Redirect.from(input.toFile()) : redirectNull());
        builder.environment().putAll(env);
        Process process = builder.start();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
          process.descendants().forEach(ProcessHandle::destroyForcibly);
          process.destroyForcibly();
          process.waitFor(10, TimeUnit.SECONDS);
          fail(
              String.join(" ", command)
                  + " did not finish within "
                  + timeout
                  + ":\n"
                  + Files.readString(output, StandardCharsets.UTF_8));
        }
        return new Result(process.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
      } finally {
        Files.deleteIfExists(output);
      }
    } catch (IOException e) {
      throw new AssertionError("could not run " + command, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted running " + command, e);
    }
  }

  static Result run(Duration timeout, String... command) {
    return run(timeout, Map.of(), null, List.of(command));
  }

  private static ProcessBuilder.Redirect redirectNull() {
    return ProcessBuilder.Redirect.from(new File("/dev/null"));
  }

  /**
   * Polls {@code condition} every 500 ms until it holds; fails with {@code what} at the deadline.
   */
  static void await(String what, Duration timeout, BooleanSupplier condition) {
    awaitOr(what, timeout, condition, () -> "");
  }

  static void awaitOr(
      String what,
      Duration timeout,
      BooleanSupplier condition,
      java.util.function.Supplier<String> diagnostics) {
    Instant deadline = Instant.now().plus(timeout);
    RuntimeException last = null;
    while (Instant.now().isBefore(deadline)) {
      try {
        if (condition.getAsBoolean()) {
          return;
        }
        last = null;
      } catch (RuntimeException e) {
        last = e;
      }
      sleep(Duration.ofMillis(500));
    }
    String detail = "";
    try {
      detail = diagnostics.get();
    } catch (RuntimeException e) {
      detail = "(diagnostics failed: " + e + ")";
    }
    throw new AssertionError(
        "timed out after " + timeout + " waiting for " + what + "\n" + detail, last);
  }

  static void sleep(Duration duration) {
    try {
      Thread.sleep(duration.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  static List<String> list(String... items) {
    return new ArrayList<>(Arrays.asList(items));
  }
}
