package io.vera.operator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

class RunCommandTest {
  /** 64 characters: a valid Lease name, but one character too long for a label value. */
  private static final String LONG_LEASE_NAME =
      "vera-operator-leader-of-the-installation-in-namespace-team-a-xyz";

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

  @ParameterizedTest
  @ValueSource(
      strings = {
        "--leader-pod=just-a-name",
        "--leader-pod=ns/name/extra",
        "--leader-pod=vera-system/vera-0 --leader-election-lease-name=-not-a-label-value",
        "--leader-pod=vera-system/vera-0 --leader-election-lease-name=" + LONG_LEASE_NAME
      })
  void aLeaderPodOrLeaseNameThatCannotLabelAPodIsRefusedBeforeAnythingStarts(String options) {
    Path state = temp.resolve("state");
    List<String> args =
        new ArrayList<>(List.of("--embedded", "--state-dir", state.toString(), "--port", "0"));
    args.addAll(List.of(options.split(" ")));

    int exit = new CommandLine(new RunCommand()).execute(args.toArray(String[]::new));

    assertThat(exit).isEqualTo(2);
    assertThat(Files.exists(state)).isFalse();
  }
}
