package io.vera.operator.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vera.operator.compute.docker.DockerTestEngine;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import picocli.CommandLine;

class DockerBenchCommandTest {
  @RegisterExtension static final DockerTestEngine docker = new DockerTestEngine();

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  @Test
  void measuresBothToolsAndLeavesNoContainerBehind() throws Exception {
    int exit =
        execute(
            "docker",
            "--host",
            DockerTestEngine.engineUrl(),
            "--rounds",
            "2",
            "--warmup",
            "0",
            "--concurrent",
            "3",
            "--json");

    assertThat(exit).as(err.toString()).isZero();
    JsonNode figures = new ObjectMapper().readTree(out.toString());
    for (String operation : new String[] {"provision_ms", "exec_ms"}) {
      assertThat(figures.path(operation).path("docker_host").path("count").asInt()).isEqualTo(2);
      assertThat(figures.path(operation).path("docker_cli").path("p50").asDouble()).isPositive();
      assertThat(figures.path(operation).path("ratio_p50").asDouble()).isPositive();
    }
    assertThat(figures.path("concurrent_host").path("errors").asInt()).isZero();
    assertThat(figures.path("concurrent_host").path("each_ms").path("count").asInt()).isEqualTo(3);
    assertThat(figures.path("errors")).isEmpty();
    assertThat(
            docker
                .client()
                .listContainersCmd()
                .withShowAll(true)
                .withLabelFilter(java.util.List.of("vera.io/bench-run"))
                .exec())
        .isEmpty();
  }

  @Test
  void plainBenchStillRunsAndDockerIsASubcommand() {
    assertThat(execute("--help")).isZero();
    assertThat(out.toString()).contains("docker");
    assertThat(execute("docker", "--rounds", "0")).isEqualTo(2);
    assertThat(err.toString()).contains("--rounds");
  }

  private int execute(String... args) {
    return new CommandLine(new BenchCommand())
        .setOut(new PrintWriter(out))
        .setErr(new PrintWriter(err))
        .execute(args);
  }
}
