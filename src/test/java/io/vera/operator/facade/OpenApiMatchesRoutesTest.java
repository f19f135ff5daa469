package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.compute.ComputeHosts;
import io.vera.operator.compute.ComputeService;
import io.vera.operator.compute.ComputeUsage;
import io.vera.operator.compute.DefaultComputeHostFactory;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.compute.MachineCache;
import io.vera.operator.compute.pod.PodHost;
import io.vera.operator.facade.legacy.LegacyInfrastructure;
import io.vera.operator.facade.legacy.LegacyPools;
import io.vera.operator.facade.legacy.LegacyProviders;
import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.pool.CpuSampler;
import io.vera.operator.provider.ProviderGateway;
import io.vera.operator.provider.SecretCredentials;
import io.vera.operator.provider.UsageLedger;
import io.vera.operator.task.TaskDispatcher;
import io.vera.operator.task.TaskService;
import io.vera.operator.worker.RemoteWorkers;
import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The OpenAPI document and the routes the facade registers agree: every route is documented with
 * its method, and every documented operation is registered.
 */
class OpenApiMatchesRoutesTest {
  private static final Set<String> HTTP_METHODS =
      Set.of("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE");

  /**
   * Routes that are served but deliberately not documented: the Swagger UI's own files, and the
   * dashboard's page, files and the JSON only its page reads (docs/dashboard.md describes them).
   */
  private static final Set<String> UNDOCUMENTED =
      Set.of(
          "GET /docs/assets/{file}",
          "GET /ui",
          "GET /ui/assets/{file}",
          "GET /ui/api/permissions",
          "GET /ui/api/overview",
          "GET /ui/api/series",
          "GET /ui/api/tasks",
          "GET /ui/api/tasks/{task_id}",
          "GET /ui/api/queue",
          "GET /ui/api/compute",
          "GET /ui/api/providers");

  private static KubernetesClient client;
  private static TaskDispatcher dispatcher;
  private static CpuSampler cpu;
  private static FacadeServer facade;
  private static List<String> inOrder;
  private static Set<String> registered;
  private static Set<String> documented;

  @BeforeAll
  static void buildFacade() throws IOException {
    // Registering routes makes no API call; the client points nowhere and is never used.
    client =
        new KubernetesClientBuilder()
            .withConfig(
                new ConfigBuilder(Config.empty()).withMasterUrl("http://127.0.0.1:1").build())
            .build();
    HandlerRegistry handlers = HandlerRegistry.loadDefault();
    Clock clock = Clock.systemUTC();
    dispatcher =
        new TaskDispatcher(
            handlers,
            key -> {},
            new TaskDispatcher.Settings(64 * 1024, 300, 3, Duration.ofSeconds(10)),
            clock);
    cpu = new CpuSampler();
    facade =
        new FacadeServer(
            new FacadeServer.Services(
                new TaskService(client, dispatcher, "default", 3600),
                dispatcher,
                dispatcher,
                new LegacyPools(client, "default", WorkerPoolSpec.Runtime.Embedded),
                handlers,
                new RemoteWorkers(clock),
                cpu,
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT),
                new LegacyProviders(client, "default"),
                new ProviderGateway(new UsageLedger(clock), new SimpleMeterRegistry(), clock),
                new UsageLedger(clock),
                new ComputeService(
                    client,
                    new ComputeHosts(
                        client,
                        new SecretCredentials(client),
                        new DefaultComputeHostFactory(new InstanceId("routes-test")),
                        ns -> new PodHost(client, ns, clock, new InstanceId("routes-test"))),
                    new ComputeUsage(clock),
                    new MachineCache(),
                    clock),
                new LegacyInfrastructure(client, "default")));

    inOrder = facade.routes();
    registered = new TreeSet<>();
    for (String route : inOrder) {
      // A WebSocket endpoint is documented as the GET that upgrades.
      registered.add(route.startsWith("WS ") ? "GET " + route.substring(3) : route);
    }
    documented = new TreeSet<>();
    try (InputStream in =
        OpenApiMatchesRoutesTest.class
            .getClassLoader()
            .getResourceAsStream("openapi/vera-openapi.json")) {
      JsonNode paths = new ObjectMapper().readTree(in).path("paths");
      paths
          .fields()
          .forEachRemaining(
              path ->
                  path.getValue()
                      .fieldNames()
                      .forEachRemaining(
                          method -> {
                            if (HTTP_METHODS.contains(method.toUpperCase())) {
                              documented.add(method.toUpperCase() + " " + path.getKey());
                            }
                          }));
    }
  }

  @AfterAll
  static void close() {
    facade.close();
    cpu.close();
    dispatcher.close();
    client.close();
  }

  @Test
  void theFacadeRegistersTheRoutersItServes() {
    assertThat(registered)
        .contains(
            "POST /orchestrator/tasks/submit",
            "GET /orchestrator/ws/updates",
            "POST /internal/v1/leases/{lease}/renew",
            "GET /healthz",
            "GET /metrics");
  }

  @Test
  void everyRegisteredRouteIsDocumentedWithItsMethod() {
    Set<String> undocumented = new TreeSet<>(registered);
    undocumented.removeAll(documented);
    undocumented.removeAll(UNDOCUMENTED);

    assertThat(undocumented).as("registered but not in vera-openapi.json").isEmpty();
  }

  @Test
  void everyDocumentedImplementedOperationIsRegistered() {
    Set<String> missing = new TreeSet<>();
    for (String operation : documented) {
      String path = operation.substring(operation.indexOf(' ') + 1);
      if (!registered.contains(operation)) {
        missing.add(operation);
      }
    }

    assertThat(missing).as("in vera-openapi.json but not registered").isEmpty();
  }

  /**
   * Javalin serves a request with the first registered route of its method whose pattern matches,
   * so a route whose paths an earlier route also matches could never be reached; the provider calls
   * are registered first for speed, and this keeps that reordering (or any later one) honest.
   */
  @Test
  void noRouteIsShadowedByAnEarlierOne() {
    List<String> shadowed = new ArrayList<>();
    for (int later = 0; later < inOrder.size(); later++) {
      String laterRoute = inOrder.get(later);
      String method = laterRoute.substring(0, laterRoute.indexOf(' '));
      String samplePath = laterRoute.substring(method.length() + 1).replaceAll("\\{[^}]+}", "p1");
      for (int earlier = 0; earlier < later; earlier++) {
        String earlierRoute = inOrder.get(earlier);
        if (earlierRoute.startsWith(method + " ")
            && pattern(earlierRoute.substring(method.length() + 1)).matcher(samplePath).matches()) {
          shadowed.add(laterRoute + " (by " + earlierRoute + ")");
        }
      }
    }

    assertThat(shadowed).isEmpty();
    assertThat(inOrder.stream().filter(r -> r.startsWith("POST ")).findFirst())
        .as("the first POST route Javalin tries")
        .contains("POST /orchestrator/external/execute");
  }

  /** A route path as Javalin matches it: a path parameter is one non-empty segment. */
  private static Pattern pattern(String routePath) {
    StringBuilder regex = new StringBuilder();
    for (String part : routePath.split("(?=\\{)|(?<=})")) {
      regex.append(part.startsWith("{") ? "[^/]+" : Pattern.quote(part));
    }
    return Pattern.compile(regex.toString());
  }
}
