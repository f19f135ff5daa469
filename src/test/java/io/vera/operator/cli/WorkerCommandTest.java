package io.vera.operator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class WorkerCommandTest {
  private static final String URL = "http://127.0.0.1:9";

  /** Runs the command line and returns its exit code, keeping what picocli printed. */
  private static int run(StringBuilder printed, String... args) {
    PrintStream stderr = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      return VeraCommand.execute(args);
    } finally {
      System.setErr(stderr);
      printed.append(captured.toString(StandardCharsets.UTF_8));
    }
  }

  @Test
  void aMissingRequiredValueIsAUsageError() {
    StringBuilder printed = new StringBuilder();
    int code =
        run(printed, "worker", "--operator-url", URL, "--namespace", "default", "--pool", "");
    assertThat(code).isEqualTo(2);
    assertThat(printed).contains("missing --pool (or environment variable VERA_POOL)");
    assertThat(printed).contains("Usage:");
  }

  @Test
  void rejectsAnOperatorUrlThatIsNotHttp() {
    StringBuilder printed = new StringBuilder();
    int code =
        run(printed, "worker", "--operator-url", "vera:8000", "--namespace", "n", "--pool", "p");
    assertThat(code).isEqualTo(2);
    assertThat(printed).contains("--operator-url must be an http:// or https:// URL");
  }

  @Test
  void concurrencyMustBeBetweenOneAnd256() {
    for (String value : new String[] {"0", "257", "many"}) {
      StringBuilder printed = new StringBuilder();
      int code =
          run(
              printed,
              "worker",
              "--operator-url",
              URL,
              "--namespace",
              "n",
              "--pool",
              "p",
              "--concurrency",
              value);
      assertThat(code).as("--concurrency %s", value).isEqualTo(2);
      assertThat(printed).contains("--concurrency must be");
    }
  }
}
