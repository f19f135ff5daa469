package io.vera.operator.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.embedded.EmbeddedApiServer;
import io.vera.operator.embedded.KubeconfigWriter;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code bench apiserver} against the embedded API server: which requests a life cycle makes. */
class ApiServerBenchCommandTest {
  private static final String NS = "raw";
  private static final String TASKS = "/apis/vera.io/v1alpha1/namespaces/" + NS + "/veratasks";

  /** Method, path and content type of each request the server answered. */
  private final List<String> requests = new CopyOnWriteArrayList<>();

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();
  private EmbeddedApiServer server;
  private Path kubeconfig;

  @BeforeEach
  void start(@TempDir Path dir) throws Exception {
    server =
        EmbeddedApiServer.start(
            0,
            request -> {
              String type = request.getHeaders().get("Content-Type");
              requests.add(
                  request.getMethod()
                      + " "
                      + request.getPath().replaceFirst("\\?.*", "")
                      + (type == null ? "" : " " + type.replaceFirst(";.*", "")));
              return Optional.empty();
            });
    server.installCrds();
    server
        .client()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .create();
    kubeconfig = dir.resolve("kubeconfig");
    KubeconfigWriter.write(kubeconfig, server.url(), NS);
    requests.clear();
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void eachLifeCycleIsOneCreateAndTwoStatusMergePatchesWithNoRead() throws Exception {
    int exit = execute("--tasks", "6", "--warmup", "0", "--concurrency", "2", "--keep", "--json");

    assertThat(exit).as(err.toString()).isZero();
    JsonNode figures = new ObjectMapper().readTree(out.toString());
    assertThat(figures.path("completed").asLong()).isEqualTo(6);
    assertThat(figures.path("errors").asLong()).isZero();
    List<String> taskRequests = requests.stream().filter(r -> r.contains("/veratasks")).toList();
    assertThat(taskRequests)
        .filteredOn(r -> r.startsWith("POST " + TASKS + " application/json"))
        .hasSize(6);
    assertThat(taskRequests)
        .filteredOn(
            r -> r.matches("PATCH " + TASKS + "/[0-9a-f-]+/status application/merge-patch\\+json"))
        .hasSize(12);
    assertThat(taskRequests).as("no other request on tasks, no GET before a patch").hasSize(18);
  }

  @Test
  void keptTasksEndSucceededWithAResult() {
    assertThat(execute("--tasks", "3", "--warmup", "1", "--concurrency", "1", "--keep")).isZero();

    List<VeraTask> tasks =
        server.client().resources(VeraTask.class).inNamespace(NS).list().getItems();
    assertThat(tasks).hasSize(4);
    assertThat(tasks)
        .allSatisfy(
            task -> {
              assertThat(task.getStatus().phase).isEqualTo(TaskPhase.Succeeded);
              assertThat(task.getStatus().result).isNotNull();
              assertThat(task.getStatus().completionTime).isNotNull();
              assertThat(task.getMetadata().getLabels())
                  .containsKey(ApiServerBenchCommand.RUN_LABEL);
            });
    assertThat(out.toString())
        .contains("Raw task life cycle on " + server.url())
        .contains("completed 3  errors 0  unfinished 0");
  }

  @Test
  void theTasksOfTheRunAreDeletedAtTheEndUnlessKept() {
    assertThat(execute("--tasks", "4", "--warmup", "2", "--concurrency", "2")).isZero();

    assertThat(server.client().resources(VeraTask.class).inNamespace(NS).list().getItems())
        .isEmpty();
  }

  @Test
  void aMissingNamespaceIsAUsageErrorSayingHowToCreateIt() {
    assertThat(execute("--namespace", "nowhere", "--tasks", "1")).isEqualTo(2);

    assertThat(err.toString())
        .contains("namespace 'nowhere' does not exist; create it: kubectl create ns nowhere");
    assertThat(requests).noneMatch(r -> r.contains("/veratasks"));
  }

  private int execute(String... args) {
    String[] all = new String[args.length + 4];
    all[0] = "--kubeconfig";
    all[1] = kubeconfig.toString();
    all[2] = "--namespace";
    all[3] = NS;
    System.arraycopy(args, 0, all, 4, args.length);
    return new CommandLine(new ApiServerBenchCommand())
        .setOverwrittenOptionsAllowed(true) // a test's own --namespace overrides the one above
        .setOut(new PrintWriter(out))
        .setErr(new PrintWriter(err))
        .execute(all);
  }
}
