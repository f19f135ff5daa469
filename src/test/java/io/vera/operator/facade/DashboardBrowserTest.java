package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.TaskPriority;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.app.ClusterSettings;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.facade.auth.FakeReviews;
import io.vera.operator.facade.auth.Identity;
import io.vera.operator.facade.auth.RestGuard;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The dashboard in a real browser: Debian's chromium driven by Playwright ({@code
 * src/test/browser/dashboard.test.mjs}) against a running operator. Screenshots land in {@code
 * target/dashboard-screenshots}. Skips with a message when node, chromium or the script's npm
 * packages are missing, except with {@code CI=true}, where they must be there ({@code .ci/run}
 * installs them).
 */
class DashboardBrowserTest {
  private static final Path SCRIPT_DIR = Path.of("src/test/browser");
  private static final Path SHOTS = Path.of("target/dashboard-screenshots");
  private static final String CHROMIUM =
      System.getenv().getOrDefault("CHROMIUM", "/usr/bin/chromium");
  private static final int MANY_TASKS =
      Integer.parseInt(System.getenv().getOrDefault("VERA_BROWSER_TEST_TASKS", "10000"));

  @BeforeAll
  static void needsABrowser() throws Exception {
    String missing = null;
    if (!Files.isExecutable(Path.of(CHROMIUM))) {
      missing = CHROMIUM + " is missing (apt-get install chromium)";
    } else if (run(List.of("node", "--version"), Map.of(), Duration.ofSeconds(20)).exit() != 0) {
      missing = "node is not on the PATH";
    } else if (!Files.isDirectory(SCRIPT_DIR.resolve("node_modules/playwright-core"))) {
      Result install =
          run(List.of("npm", "ci", "--no-audit", "--no-fund"), Map.of(), Duration.ofMinutes(3));
      if (install.exit() != 0) {
        missing = "npm ci in " + SCRIPT_DIR + " failed: " + install.output();
      }
    }
    if (missing != null && "true".equals(System.getenv("CI"))) {
      throw new IllegalStateException("the browser test must run in CI, but " + missing);
    }
    assumeTrue(missing == null, "skipping the browser test: " + missing);
  }

  @Test
  void aPersonSeesTasksLiveOpensThemAndCancelsThemWithNothingLoadedFromOutside() throws Exception {
    try (OperatorHarness harness = new OperatorHarness()) {
      harness.createEmbeddedPool("general", TaskType.GENERAL, 2, false);
      harness.createEmbeddedPool("held", TaskType.BACKGROUND, 1, true);
      Result open =
          browser(
              Map.of("VERA_URL", harness.baseUrl(), "VERA_MODE", "open", "VERA_HELD_POOL", "held"));
      assertThat(open.exit()).as(open.output()).isZero();

      seed(harness, MANY_TASKS);
      Result paging =
          browser(
              Map.of(
                  "VERA_URL",
                  harness.baseUrl(),
                  "VERA_MODE",
                  "paging",
                  "VERA_MANY",
                  String.valueOf(MANY_TASKS)));
      assertThat(paging.exit()).as(paging.output()).isZero();
    }
  }

  @Test
  void aUserWithoutPatchOnVeraTasksSeesNoCancelButton() throws Exception {
    FakeReviews reviews =
        new FakeReviews()
            .token("viewer-token", new Identity("viewer", "uid-viewer", List.of(), Map.of()))
            .grant("viewer get veratasks")
            .grant("viewer list veratasks")
            .grant("viewer watch veratasks")
            .token("root-token", new Identity("root", "uid-root", List.of(), Map.of()))
            .grant("root * *");
    try (OperatorHarness harness =
        new OperatorHarness(
            reviews,
            new ClusterSettings(
                RestGuard.Settings.on(), ClusterSettings.LeaderElection.disabled(), null))) {
      harness.client().resource(pool("general")).create();
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  harness
                      .send(
                          "GET",
                          "/orchestrator/workers/pools",
                          null,
                          Map.of("Authorization", "Bearer root-token"))
                      .text()
                      .contains("general"));
      Result viewer =
          browser(
              Map.of(
                  "VERA_URL", harness.baseUrl(),
                  "VERA_MODE", "viewer",
                  "VERA_TOKEN", "viewer-token",
                  "VERA_ADMIN_TOKEN", "root-token"));
      assertThat(viewer.exit()).as(viewer.output()).isZero();
    }
  }

  private static io.vera.operator.api.WorkerPool pool(String name) {
    var pool = new io.vera.operator.api.WorkerPool();
    pool.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(OperatorHarness.NAMESPACE).build());
    pool.setSpec(new io.vera.operator.api.WorkerPoolSpec());
    pool.getSpec().taskType = TaskType.GENERAL;
    pool.getSpec().replicas = 1;
    pool.getSpec().runtime = io.vera.operator.api.WorkerPoolSpec.Runtime.Embedded;
    return pool;
  }

  /** Creates {@code count} small tasks as resources, as kubectl would, and waits until all ran. */
  private static void seed(OperatorHarness harness, int count) throws Exception {
    TaskPriority[] priorities = {TaskPriority.NORMAL, TaskPriority.LOW, TaskPriority.HIGH};
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> created = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        int n = i;
        created.add(
            pool.submit(
                () -> {
                  VeraTask task = new VeraTask();
                  task.setMetadata(
                      new ObjectMetaBuilder()
                          .withName(String.format("seed-%05d", n))
                          .withNamespace(OperatorHarness.NAMESPACE)
                          .build());
                  VeraTaskSpec spec = new VeraTaskSpec();
                  spec.handler = "echo";
                  spec.priority = priorities[n % priorities.length];
                  spec.payload = JsonBody.MAPPER.createObjectNode().put("n", n);
                  task.setSpec(spec);
                  harness.client().resource(task).create();
                }));
      }
      for (Future<?> f : created) {
        f.get(2, TimeUnit.MINUTES);
      }
    } finally {
      pool.shutdownNow();
    }
    Awaitility.await()
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofSeconds(1))
        .until(
            () ->
                // Finished tasks leave the dispatcher once marked; the API server keeps them.
                harness
                        .client()
                        .resources(VeraTask.class)
                        .inNamespace(OperatorHarness.NAMESPACE)
                        .list()
                        .getItems()
                        .stream()
                        .filter(t -> t.getStatus() != null && t.getStatus().phase != null)
                        .filter(t -> t.getStatus().phase.isFinished())
                        .count()
                    >= count);
  }

  private Result browser(Map<String, String> env) throws Exception {
    Map<String, String> all = new java.util.HashMap<>(env);
    all.put("VERA_SHOTS", SHOTS.toAbsolutePath().toString());
    all.put("CHROMIUM", CHROMIUM);
    Result result = run(List.of("node", "dashboard.test.mjs"), all, Duration.ofMinutes(4));
    System.out.println(result.output());
    return result;
  }

  private record Result(int exit, String output) {}

  private static Result run(List<String> command, Map<String, String> env, Duration timeout)
      throws IOException, InterruptedException {
    Path log = Files.createTempFile("vera-browser-", ".log");
    try {
      ProcessBuilder builder =
          new ProcessBuilder(command)
              .directory(SCRIPT_DIR.toFile())
              .redirectErrorStream(true)
              .redirectOutput(log.toFile());
      builder.environment().putAll(env);
      Process process;
      try {
        process = builder.start();
      } catch (IOException e) {
        return new Result(127, e.getMessage());
      }
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        return new Result(124, Files.readString(log, StandardCharsets.UTF_8) + "\n(timed out)");
      }
      return new Result(process.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(log);
    }
  }
}
