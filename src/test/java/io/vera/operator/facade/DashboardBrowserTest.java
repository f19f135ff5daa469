package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.api.ProviderStatus;
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
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
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
    try (OperatorHarness harness = new OperatorHarness();
        MockWebServer upstream = fakeOpenAi()) {
      harness.createEmbeddedPool("general", TaskType.GENERAL, 2, false);
      harness.createEmbeddedPool("held", TaskType.BACKGROUND, 1, true);
      providerWithAMonthOfSpend(harness, upstream);
      harness.client().resource(streamedTask("streaming")).create();
      Result open =
          browser(
              Map.of(
                  "VERA_URL",
                  harness.baseUrl(),
                  "VERA_MODE",
                  "open",
                  "VERA_HELD_POOL",
                  "held",
                  "VERA_STREAMED_TASK",
                  "streaming"));
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

  /**
   * An OpenAI upstream on 127.0.0.1: whole answers with usage at once, streams slowly (two words a
   * second for half a minute), so a streamed task is still running while the browser looks.
   */
  private static MockWebServer fakeOpenAi() throws IOException {
    MockWebServer upstream = new MockWebServer();
    upstream.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            String body = request.getBody() == null ? "" : request.getBody().utf8();
            if (request.getUrl().encodedPath().endsWith("/models")) {
              return json("{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o\"}]}");
            }
            if (body.contains("\"stream\":true")) {
              StringBuilder sse = new StringBuilder();
              for (int i = 0; i < 60; i++) {
                sse.append(
                    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
                        + "\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
                        + "\"delta\":{\"content\":\"tokens \"},\"finish_reason\":null}]}\n\n");
              }
              sse.append("data: [DONE]\n\n");
              return new MockResponse.Builder()
                  .addHeader("Content-Type", "text/event-stream")
                  .body(sse.toString())
                  .throttleBody(300, 1, TimeUnit.SECONDS)
                  .build();
            }
            return json(
                "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o\","
                    + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                    + "\"content\":\"ok\"},\"finish_reason\":\"stop\"}],"
                    + "\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":500,"
                    + "\"total_tokens\":1500}}");
          }
        });
    upstream.start();
    return upstream;
  }

  private static MockResponse json(String body) {
    return new MockResponse.Builder()
        .addHeader("Content-Type", "application/json")
        .body(body)
        .build();
  }

  /**
   * An OpenAI Provider with budgets whose status holds spend on the earlier days of this month (as
   * a previous operator left it), and a few calls of two models today.
   */
  private static void providerWithAMonthOfSpend(OperatorHarness harness, MockWebServer upstream) {
    assertThat(
            harness
                .post(
                    "/orchestrator/external/initialize",
                    "{\"openai\": {\"api_key\": \"sk-browser-test\", \"base_url\": \""
                        + upstream.url("/v1")
                        + "\"}}")
                .status())
        .isEqualTo(200);
    harness.awaitProviderReady("openai", Duration.ofSeconds(30));
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    harness.restartOperator(
        () -> {
          var providers =
              harness
                  .client()
                  .resources(Provider.class)
                  .inNamespace(OperatorHarness.NAMESPACE)
                  .withName("openai");
          providers.edit(
              p -> {
                p.getSpec().limits = new ProviderSpec.Limits();
                p.getSpec().limits.dailyBudgetUsd = 0.5;
                p.getSpec().limits.monthlyBudgetUsd = 5.0;
                return p;
              });
          providers.editStatus(
              p -> {
                if (p.getStatus().usage == null) {
                  p.getStatus().usage = new ProviderStatus.UsageTotals();
                }
                List<ProviderStatus.DayUsage> days = new ArrayList<>();
                for (LocalDate day = today.withDayOfMonth(1);
                    day.isBefore(today);
                    day = day.plusDays(1)) {
                  int n = day.getDayOfMonth();
                  days.add(day(day, "gpt-4o", 20 + 7 * (n % 4), "0.0075"));
                  days.add(day(day, "gpt-4o-mini", 90 + 13 * (n % 3), "0.00045"));
                  if (n % 2 == 0) {
                    days.add(day(day, "gpt-4.1", 5 + n, "0.006"));
                  }
                }
                p.getStatus().usage.days = days;
                return p;
              });
        });
    harness.awaitProviderReady("openai", Duration.ofSeconds(30));
    for (String model : List.of("gpt-4o", "gpt-4o", "gpt-4o", "gpt-4o-mini", "gpt-4o-mini")) {
      assertThat(
              harness
                  .post(
                      "/orchestrator/external/execute",
                      "{\"provider\": \"openai\", \"prompt\": \"hi\", \"model\": \""
                          + model
                          + "\"}")
                  .status())
          .isEqualTo(200);
    }
  }

  private static ProviderStatus.DayUsage day(
      LocalDate day, String model, int requests, String costPerCall) {
    ProviderStatus.DayUsage usage = new ProviderStatus.DayUsage();
    usage.day = day.toString();
    usage.model = model;
    usage.requests = (long) requests;
    usage.failed = requests / 40L;
    usage.tokensIn = 1000L * requests;
    usage.tokensOut = 500L * requests;
    usage.costUsd = new BigDecimal(costPerCall).multiply(BigDecimal.valueOf(requests));
    return usage;
  }

  /** A provider task streamed from the fake upstream, with no token limit. */
  private static VeraTask streamedTask(String name) {
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(OperatorHarness.NAMESPACE).build());
    VeraTaskSpec spec = new VeraTaskSpec();
    spec.handler = "llm.complete";
    spec.providerRef = new VeraTaskSpec.ProviderTarget();
    spec.providerRef.name = "openai";
    spec.providerRef.prompt = "Count slowly.";
    spec.providerRef.model = "gpt-4o";
    spec.providerRef.params = JsonBody.MAPPER.createObjectNode().put("stream", true);
    spec.timeoutSeconds = 120;
    task.setSpec(spec);
    return task;
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
