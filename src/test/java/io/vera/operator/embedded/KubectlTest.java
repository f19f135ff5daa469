package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import io.vera.operator.api.VeraTask;
import io.vera.operator.api.WorkerPool;
import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the real kubectl against the embedded API server. Skipped when kubectl is not on the PATH,
 * except when the environment variable CI is {@code true}, where that fails the test.
 */
class KubectlTest {

  private static final String NAMESPACE = "kubectl-test";
  private static final String[] MANIFESTS = {
    "workerpool.yaml", "veratask.yaml", "computeresource.yaml", "provider.yaml"
  };

  @TempDir Path dir;

  private Path kubectl;
  private EmbeddedApiServer server;

  @BeforeEach
  void start() throws IOException {
    kubectl = findKubectl();
    server = EmbeddedApiServer.start(0);
    server.installCrds();
    KubeconfigWriter.write(dir.resolve("kubeconfig"), server.url(), NAMESPACE);
  }

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void appliesListsScalesAndDeletesVeraResources() throws Exception {
    assertThat(kubectl("get", "vera").output()).contains("No resources found");

    Result applied = kubectl(withManifests("apply"));
    assertThat(applied.output())
        .contains(
            "workerpool.vera.io/llm-pool created",
            "veratask.vera.io/sum-1 created",
            "computeresource.vera.io/sandbox-1 created",
            "provider.vera.io/local-docker created");

    assertThat(kubectl("get", "vera").output())
        .contains(
            "workerpool.vera.io/llm-pool",
            "veratask.vera.io/sum-1",
            "computeresource.vera.io/sandbox-1",
            "provider.vera.io/local-docker");

    List<String> pools = kubectl("get", "workerpools").output().lines().toList();
    assertThat(pools.get(0).split("\\s+"))
        .contains("NAME", "TYPE", "RUNTIME", "REPLICAS", "READY", "QUEUED", "RUNNING", "AGE");
    assertThat(pools.get(1).split("\\s+")).contains("llm-pool", "LLM", "Embedded");

    assertThat(kubectl("scale", "workerpool", "llm-pool", "--replicas=3").output())
        .contains("workerpool.vera.io/llm-pool scaled");
    assertThat(pool().getSpec().replicas).isEqualTo(3);

    assertThat(kubectl(withManifests("apply")).output())
        .contains("workerpool.vera.io/llm-pool configured");
    assertThat(pool().getSpec().replicas).isEqualTo(1);

    assertThat(kubectl(withManifests("delete")).output())
        .contains(
            "workerpool.vera.io \"llm-pool\" deleted",
            "veratask.vera.io \"sum-1\" deleted",
            "computeresource.vera.io \"sandbox-1\" deleted",
            "provider.vera.io \"local-docker\" deleted");
    assertThat(pool()).isNull();
    assertThat(server.client().resources(VeraTask.class).inNamespace(NAMESPACE).list().getItems())
        .isEmpty();
  }

  @Test
  void getFollowsListChunksToTheLastObject() throws Exception {
    StringBuilder pools = new StringBuilder();
    for (int i = 0; i < 7; i++) {
      pools.append(
          """
          ---
          apiVersion: vera.io/v1alpha1
          kind: WorkerPool
          metadata:
            name: chunk-%d
          spec:
            taskType: LLM
            runtime: Embedded
            replicas: 1
          """
              .formatted(i));
    }
    kubectl("apply", "-f", Files.writeString(dir.resolve("pools.yaml"), pools).toString());

    List<String> rows =
        kubectl("get", "workerpools", "--chunk-size=3", "--no-headers").output().lines().toList();

    assertThat(rows).hasSize(7);
  }

  @Test
  void everyExampleAppliesAsWritten() throws Exception {
    Path examples = Path.of("examples").toAbsolutePath();
    Result applied = kubectl("apply", "-f", examples.toString());
    assertThat(applied.output())
        .contains(
            "workerpool.vera.io/general-embedded created",
            "workerpool.vera.io/tool-pods created",
            "veratask.vera.io/sum-10-20 created",
            "veratask.vera.io/uname-in-sandbox created",
            "veratask.vera.io/summarize-with-openai created",
            "computeresource.vera.io/sandbox-1 created",
            "provider.vera.io/local-docker created",
            "provider.vera.io/openai created",
            "secret/openai-credentials created",
            "configmap/vera-pricing created");
    assertThat(kubectl("get", "vera").output().lines().filter(l -> l.contains(".vera.io/")).count())
        .isEqualTo(8);

    Result again = kubectl("apply", "-f", examples.toString());
    assertThat(again.output())
        .contains("configmap/vera-pricing unchanged", "secret/openai-credentials unchanged");
  }

  @Test
  void applyIsValidatedByTheServer() throws Exception {
    Path urgent = manifest("urgent.yaml", "priority: urgent\n  handler: compute.sum");
    Path misspelled = manifest("misspelled.yaml", "handlr: compute.sum");

    Result invalid = run("apply", "-f", urgent.toString());
    Result unknown = run("apply", "-f", misspelled.toString());

    assertThat(invalid.exitCode()).isNotZero();
    assertThat(invalid.output())
        .contains(
            "spec.priority: Unsupported value: \"urgent\": supported values: \"background\",");
    assertThat(unknown.exitCode()).isNotZero();
    // Refused by the server (kubectl 1.27 and later), or before sending by kubectl's own check
    // against /openapi/v2 (earlier ones; they do not check enums, so urgent reaches the server).
    assertThat(unknown.output())
        .containsAnyOf(
            "strict decoding error: unknown field \"spec.handlr\"",
            "ValidationError(VeraTask.spec): unknown field \"handlr\"");
    assertThat(server.client().resources(VeraTask.class).inNamespace(NAMESPACE).list().getItems())
        .isEmpty();
  }

  @Test
  void explainDescribesVeraFieldsFromTheirSchema() throws Exception {
    String explained = kubectl("explain", "veratask.spec.priority").output();

    // kubectl before 1.27 reads /openapi/v2, later ones /openapi/v3; the layout differs a little.
    assertThat(explained)
        .containsPattern("KIND:\\s+VeraTask")
        .containsPattern("FIELD:\\s+priority <string>")
        .contains("background", "critical", "served strictly in that order");
    assertThat(kubectl("explain", "workerpools.spec").output()).contains("taskType", "replicas");
  }

  @Test
  void getWatchPrintsEachChangeAndDescribeShowsEvents() throws Exception {
    kubectl(withManifests("apply"));
    Path printed = dir.resolve("watch.txt");
    Process watch = start(printed, "get", "veratasks", "--watch", "--output-watch-events");
    try {
      waitFor(printed, "sum-1");
      kubectl("annotate", "veratask", "sum-1", "checked=yes");
      kubectl("delete", "veratask", "sum-1");
      waitFor(printed, "DELETED");
    } finally {
      watch.destroy();
    }
    List<String> events = Files.readAllLines(printed);
    assertThat(events).filteredOn(line -> line.startsWith("ADDED")).hasSize(1);
    assertThat(events).anyMatch(line -> line.matches("MODIFIED\\s+sum-1\\s.*compute\\.sum.*"));

    kubectl(withManifests("apply"));
    VeraTask task =
        server.client().resources(VeraTask.class).inNamespace(NAMESPACE).withName("sum-1").get();
    server
        .client()
        .v1()
        .events()
        .inNamespace(NAMESPACE)
        .resource(
            new io.fabric8.kubernetes.api.model.EventBuilder()
                .withNewMetadata()
                .withName("sum-1.queued")
                .endMetadata()
                .withNewInvolvedObject()
                .withApiVersion("vera.io/v1alpha1")
                .withKind("VeraTask")
                .withName("sum-1")
                .withNamespace(NAMESPACE)
                .withUid(task.getMetadata().getUid())
                .endInvolvedObject()
                .withType("Normal")
                .withReason("Queued")
                .withMessage("queued in pool general")
                .build())
        .create();

    assertThat(kubectl("describe", "veratask", "sum-1").output())
        .contains("Events:", "Queued", "queued in pool general");
  }

  @Test
  void applyServerSideCreatesUpdatesAndValidates() throws Exception {
    Path examples = Path.of("examples").toAbsolutePath();
    assertThat(kubectl("apply", "--server-side", "-f", examples.toString()).output())
        .contains(
            "veratask.vera.io/sum-10-20 serverside-applied",
            "secret/openai-credentials serverside-applied",
            "configmap/vera-pricing serverside-applied");
    assertThat(kubectl(withManifests("apply", "--server-side")).output())
        .contains("workerpool.vera.io/llm-pool serverside-applied");
    kubectl("scale", "workerpool", "llm-pool", "--replicas=3");

    kubectl(withManifests("apply", "--server-side"));
    Result refused =
        run(
            "apply",
            "--server-side",
            "-f",
            manifest("urgent.yaml", "priority: urgent\n  handler: compute.sum").toString());

    assertThat(pool().getSpec().replicas).isEqualTo(1);
    assertThat(refused.exitCode()).isNotZero();
    assertThat(refused.output()).contains("spec.priority: Unsupported value: \"urgent\"");
  }

  private Process start(Path output, String... args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(kubectl.toString());
    command.add("--cache-dir=" + dir.resolve("cache"));
    command.addAll(Arrays.asList(args));
    ProcessBuilder builder =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile());
    builder.environment().put("KUBECONFIG", dir.resolve("kubeconfig").toString());
    return builder.start();
  }

  /** Waits (at most a minute) until a file holds a text. */
  private static void waitFor(Path file, String text) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    while (!Files.readString(file).contains(text)) {
      if (System.nanoTime() > deadline) {
        fail("no " + text + " within a minute in:\n" + Files.readString(file));
      }
      Thread.sleep(100);
    }
  }

  private Path manifest(String file, String spec) throws IOException {
    Path path = dir.resolve(file);
    Files.writeString(
        path,
        "apiVersion: vera.io/v1alpha1\nkind: VeraTask\nmetadata:\n  name: "
            + file.replace(".yaml", "")
            + "\nspec:\n  "
            + spec
            + "\n");
    return path;
  }

  private WorkerPool pool() {
    return server
        .client()
        .resources(WorkerPool.class)
        .inNamespace(NAMESPACE)
        .withName("llm-pool")
        .get();
  }

  private static String[] withManifests(String... args) throws URISyntaxException {
    List<String> all = new ArrayList<>(Arrays.asList(args));
    for (String manifest : MANIFESTS) {
      all.add("-f");
      all.add(Path.of(KubectlTest.class.getResource("/manifests/" + manifest).toURI()).toString());
    }
    return all.toArray(String[]::new);
  }

  /** Runs kubectl and fails the test unless it exits with 0. */
  private Result kubectl(String... args) throws IOException, InterruptedException {
    Result result = run(args);
    assertThat(result.exitCode())
        .as("kubectl %s\n%s", String.join(" ", args), result.output())
        .isZero();
    return result;
  }

  private Result run(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(kubectl.toString());
    command.add("--cache-dir=" + dir.resolve("cache"));
    command.addAll(Arrays.asList(args));
    Path output = dir.resolve("kubectl-output.txt");
    ProcessBuilder builder =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile());
    builder.environment().put("KUBECONFIG", dir.resolve("kubeconfig").toString());
    Process process = builder.start();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      fail("kubectl " + String.join(" ", args) + " did not finish within 60 seconds");
    }
    return new Result(process.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
  }

  private record Result(int exitCode, String output) {}

  private static Path findKubectl() {
    Optional<Path> found =
        Arrays.stream(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
            .filter(entry -> !entry.isEmpty())
            .map(entry -> Path.of(entry, "kubectl"))
            .filter(Files::isExecutable)
            .findFirst();
    if (found.isEmpty() && "true".equals(System.getenv("CI"))) {
      fail("kubectl is not on the PATH; CI=true requires it for this test");
    }
    Assumptions.assumeTrue(
        found.isPresent(), "kubectl is not on the PATH; skipping the kubectl compatibility test");
    return found.get();
  }
}
