package io.vera.operator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

class RunCommandTest {
  @TempDir Path temp;

  @ParameterizedTest
  @ValueSource(strings = {"-1", "100.5", "NaN"})
  void anOutOfRangeDefaultCpuThresholdIsRefusedBeforeAnythingStarts(String threshold) {
    Path state = temp.resolve("state");

    int exit =
        new CommandLine(new RunCommand())
            .execute(
                "--embedded",
                "--state-dir",
                state.toString(),
                "--port",
                "0",
                "--default-cpu-threshold",
                threshold);

    assertThat(exit).isEqualTo(2);
    assertThat(Files.exists(state)).isFalse();
  }
}
