package io.vera.operator.compute;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.Provider;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.compute.proxmox.ProxmoxSimulator;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The legacy infrastructure API when its hosts are down, silent or stall: every call answers within
 * its documented bound (docs/fault-handling.md; 15 s is the bound these tests hold each request
 * to), a failed provision leaves no ComputeResource behind, and deletion never waits on a host for
 * a machine that was never recorded.
 */
class HostFaultsTest {
  private static final String BASE = "/orchestrator/infrastructure";
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A request not answered in this time fails the test: the bound is part of the contract. */
  private static final Duration ANSWER_BOUND = Duration.ofSeconds(15);

  @TempDir Path dir;
  private OperatorHarness harness;
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() {
    harness = new OperatorHarness();
  }

  @AfterEach
  void stop() {
    harness.close();
  }

  private String missingSocket() {
    Path socket = dir.resolve("no-engine.sock");
    assertThat(Files.exists(socket)).isFalse();
    return "unix://" + socket;
  }

  private record Answer(int status, JsonNode json) {}

  private Answer call(String method, String path, String body, Duration bound) throws Exception {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(harness.baseUrl() + path))
            .timeout(bound)
            .header("Content-Type", "application/json")
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body))
            .build();
    HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
    return new Answer(
        response.statusCode(), response.body().isEmpty() ? null : JSON.readTree(response.body()));
  }

  private Answer post(String path, String body) throws Exception {
    return call("POST", path, body, ANSWER_BOUND);
  }

  private List<ComputeResource> resources() {
    return harness
        .client()
        .resources(ComputeResource.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .list()
        .getItems();
  }

  private List<String> eventReasons(String object) {
    return harness.events().stream()
        .filter(e -> object.equals(e.getInvolvedObject().getName()))
        .map(Event::getReason)
        .toList();
  }

  @Test
  void callsBeforeInitializeAreTheClientsMissingStep400() throws Exception {
    for (String[] call :
        List.of(
            new String[] {"POST", BASE + "/resources/docker/provision", "{}"},
            new String[] {"GET", BASE + "/resources", null},
            new String[] {"POST", BASE + "/resources/cleanup", "{}"})) {
      Answer answer = call(call[0], call[1], call[2], ANSWER_BOUND);
      assertThat(answer.status()).as(call[1]).isEqualTo(400);
      assertThat(answer.json().path("detail").asText())
          .as(call[1])
          .startsWith("Infrastructure not initialized");
    }
  }

  @Test
  void initializeWithTheEngineDownSucceedsAndSaysTheEngineIsNotReady() throws Exception {
    Answer init = post(BASE + "/initialize", "{\"docker_url\": \"" + missingSocket() + "\"}");
    assertThat(init.status()).isEqualTo(200);
    assertThat(init.json().path("status").asText()).isEqualTo("success");
    JsonNode docker = init.json().path("providers").path("docker");
    assertThat(docker.path("ready").asBoolean(true)).isFalse();
    assertThat(docker.path("detail").asText()).contains("no-engine.sock");
  }

  @Test
  void provisionWithTheEngineDownIsRefusedWith503AndCreatesNothing() throws Exception {
    post(BASE + "/initialize", "{\"docker_url\": \"" + missingSocket() + "\"}");
    for (int i = 0; i < 3; i++) {
      Answer answer = post(BASE + "/resources/docker/provision", "{\"image\": \"busybox\"}");
      assertThat(answer.status()).isEqualTo(503);
      assertThat(answer.json().path("detail").asText())
          .contains("vera-docker")
          .contains("unreachable");
    }
    Answer scale =
        post(BASE + "/resources/scale", "{\"resource_type\": \"docker_container\", \"count\": 3}");
    assertThat(scale.status()).isEqualTo(503);
    assertThat(resources()).isEmpty();
  }

  @Test
  void provisionAgainstASilentDockerEngineIsRefusedWith504AndCreatesNothing() throws Exception {
    try (SilentHost silent = new SilentHost()) {
      Answer init =
          post(BASE + "/initialize", "{\"docker_url\": \"tcp://127.0.0.1:" + silent.port() + "\"}");
      assertThat(init.status()).isEqualTo(200);
      assertThat(init.json().path("providers").path("docker").path("ready").asBoolean(true))
          .isFalse();
      for (int i = 0; i < 3; i++) {
        Answer answer = post(BASE + "/resources/docker/provision", "{}");
        assertThat(answer.status()).isEqualTo(504);
        assertThat(answer.json().path("detail").asText())
            .contains("vera-docker")
            .contains("did not answer");
      }
      assertThat(resources()).isEmpty();
    }
  }

  @Test
  void provisionAgainstASilentProxmoxHostIsRefusedWith504AndCreatesNothing() throws Exception {
    try (SilentHost silent = new SilentHost()) {
      Answer init =
          post(
              BASE + "/initialize",
              "{\"enable_docker\": false, \"enable_proxmox\": true, \"proxmox_host\":"
                  + " \"https://127.0.0.1:"
                  + silent.port()
                  + "\", \"proxmox_user\": \"vera@pve\", \"proxmox_token_name\": \"operator\","
                  + " \"proxmox_token_value\": \"secret\"}");
      assertThat(init.status()).isEqualTo(200);
      Answer answer =
          post(BASE + "/resources/proxmox/provision", "{\"node\": \"pve1\", \"template\": \"t\"}");
      assertThat(answer.status()).isEqualTo(504);
      assertThat(answer.json().path("detail").asText()).contains("vera-proxmox");
      assertThat(resources()).isEmpty();
    }
  }

  @Test
  void aProvisionWhoseEngineStallsAfterItsProbeRemovesWhatItMadeAlsoWhenTheClientLeft()
      throws Exception {
    try (StallingDockerEngine engine = new StallingDockerEngine()) {
      Answer init = post(BASE + "/initialize", "{\"docker_url\": \"" + engine.url() + "\"}");
      assertThat(init.json().path("providers").path("docker").path("ready").asBoolean())
          .as(init.json().toString())
          .isTrue();
      // Every call the reconciler makes gives up after 2 s instead of the default minute.
      harness
          .client()
          .resources(Provider.class)
          .inNamespace(OperatorHarness.NAMESPACE)
          .withName(LegacyInfrastructure.DOCKER)
          .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\": {\"timeoutSeconds\": 2}}");

      // The client gives up after one second; the operator carries on and cleans up.
      try {
        call("POST", BASE + "/resources/docker/provision", "{}", Duration.ofSeconds(1));
      } catch (HttpTimeoutException expected) {
        // the point of this test
      }
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .untilAsserted(() -> assertThat(resources()).isEmpty());

      // A client that waits gets 503 naming the host, and nothing is left either.
      Answer waited = post(BASE + "/resources/docker/provision", "{}");
      assertThat(waited.status()).isEqualTo(503);
      assertThat(waited.json().path("detail").asText()).contains("did not answer");
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .untilAsserted(() -> assertThat(resources()).isEmpty());
      assertThat(harness.events().stream().map(Event::getReason)).contains("NothingRecorded");
    }
  }

  @Test
  void healthReportsEachHostAndIsHealthyWhileAnyIs() throws Exception {
    try (ProxmoxSimulator proxmox = ProxmoxSimulator.start()) {
      Answer init =
          post(
              BASE + "/initialize",
              "{\"docker_url\": \""
                  + missingSocket()
                  + "\", \"enable_proxmox\": true, \"proxmox_host\": \""
                  + proxmox.baseUrl()
                  + "\", \"proxmox_user\": \"vera@pve\", \"proxmox_token_name\": \"operator\","
                  + " \"proxmox_token_value\": \""
                  + proxmox.tokenSecret().get("tokenSecret")
                  + "\"}");
      assertThat(init.status()).isEqualTo(200);
      assertThat(init.json().path("providers").path("proxmox").path("ready").asBoolean())
          .as(init.json().toString())
          .isTrue();
      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                Answer health = call("GET", BASE + "/health", null, ANSWER_BOUND);
                assertThat(health.status()).as(health.json().toString()).isEqualTo(200);
                JsonNode providers = health.json().path("providers");
                assertThat(providers.path("docker").path("healthy").asBoolean(true)).isFalse();
                assertThat(providers.path("docker").path("detail").asText())
                    .contains("no-engine.sock");
                assertThat(providers.path("proxmox").path("healthy").asBoolean()).isTrue();
                assertThat(health.json().path("docker_available").asBoolean(true)).isFalse();
                assertThat(health.json().path("proxmox_available").asBoolean()).isTrue();
              });
    }
  }

  @Test
  void healthIs503OnlyWhenEveryConfiguredHostIsDown() throws Exception {
    post(BASE + "/initialize", "{\"docker_url\": \"" + missingSocket() + "\"}");
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              Answer health = call("GET", BASE + "/health", null, ANSWER_BOUND);
              assertThat(health.status()).isEqualTo(503);
              assertThat(health.json().path("detail").asText()).startsWith("docker: ");
              assertThat(health.json().path("providers").path("docker").path("healthy").asBoolean())
                  .isFalse();
            });
  }

  @Test
  void aResourceTaskNoResourceCanTakeFailsWithTimeoutAfterItsTimeoutSeconds() {
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withName("needs-64-cpus")
            .withNamespace(OperatorHarness.NAMESPACE)
            .build());
    task.setSpec(new VeraTaskSpec());
    task.getSpec().resourceRef = new VeraTaskSpec.ResourceTarget();
    task.getSpec().resourceRef.command = "true";
    task.getSpec().resourceRef.minimum = new ComputeResourceSpec.ResourceSpec();
    task.getSpec().resourceRef.minimum.cpuCores = 64.0;
    task.getSpec().timeoutSeconds = 2;
    harness.client().resource(task).create();

    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              VeraTask seen = harness.task("needs-64-cpus");
              assertThat(seen.getStatus()).isNotNull();
              assertThat(seen.getStatus().phase).isEqualTo(TaskPhase.Failed);
              assertThat(seen.getStatus().error.type).isEqualTo("Timeout");
              assertThat(seen.getStatus().error.message).contains("waited more than 2s");
            });
  }

  @Test
  void autoProvisioningNeverMakesAContainerLargerThanItsHostOffers() throws Exception {
    try (StallingDockerEngine engine = new StallingDockerEngine()) {
      Answer init =
          post(
              BASE + "/initialize",
              "{\"docker_url\": \"" + engine.url() + "\", \"auto_scale\": true}");
      assertThat(init.status()).isEqualTo(200);
      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> {
                Provider p =
                    harness
                        .client()
                        .resources(Provider.class)
                        .inNamespace(OperatorHarness.NAMESPACE)
                        .withName(LegacyInfrastructure.DOCKER)
                        .get();
                return p.getStatus() != null
                    && p.getStatus().host != null
                    && p.getStatus().host.capacity != null;
              });
      VeraTask task = new VeraTask();
      task.setMetadata(
          new ObjectMetaBuilder()
              .withName("needs-8-cpus")
              .withNamespace(OperatorHarness.NAMESPACE)
              .build());
      task.setSpec(new VeraTaskSpec());
      task.getSpec().resourceRef = new VeraTaskSpec.ResourceTarget();
      task.getSpec().resourceRef.command = "true";
      task.getSpec().resourceRef.minimum = new ComputeResourceSpec.ResourceSpec();
      task.getSpec().resourceRef.minimum.cpuCores = 8.0;
      task.getSpec().timeoutSeconds = 8;
      harness.client().resource(task).create();

      Awaitility.await()
          .atMost(Duration.ofSeconds(40))
          .untilAsserted(
              () -> {
                assertThat(resources()).as("containers made for a 2-CPU engine").isEmpty();
                VeraTask seen = harness.task("needs-8-cpus");
                assertThat(seen.getStatus()).isNotNull();
                assertThat(seen.getStatus().phase).isEqualTo(TaskPhase.Failed);
              });
      assertThat(resources()).isEmpty();
    }
  }

  @Test
  void autoProvisioningStopsAfterAContainerFailsToStartAndSaysSoOnTheProvider() throws Exception {
    try (RefusingDockerEngine engine = new RefusingDockerEngine()) {
      assertThat(
              post(
                      BASE + "/initialize",
                      "{\"docker_url\": \"" + engine.url() + "\", \"auto_scale\": true}")
                  .status())
          .isEqualTo(200);
      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> {
                Provider p = dockerProvider();
                return p.getStatus() != null
                    && p.getStatus().host != null
                    && p.getStatus().host.capacity != null;
              });
      VeraTask task = new VeraTask();
      task.setMetadata(
          new ObjectMetaBuilder()
              .withName("never-starts")
              .withNamespace(OperatorHarness.NAMESPACE)
              .build());
      task.setSpec(new VeraTaskSpec());
      task.getSpec().resourceRef = new VeraTaskSpec.ResourceTarget();
      task.getSpec().resourceRef.command = "true";
      task.getSpec().timeoutSeconds = 8;
      harness.client().resource(task).create();

      // The task waits 8 s, four autoscaler rounds: without a backoff each round made another
      // container after the previous one failed.
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .untilAsserted(
              () -> {
                assertThat(dockerProvider().getStatus().conditions)
                    .anySatisfy(
                        c -> {
                          assertThat(c.getType()).isEqualTo(ResourceAutoscaler.CONDITION);
                          assertThat(c.getStatus()).isEqualTo("False");
                          assertThat(c.getReason()).isEqualTo("BackingOff");
                          assertThat(c.getMessage())
                              .contains("failed to start")
                              .contains(RefusingDockerEngine.REFUSAL)
                              .contains("next attempt in 30 s");
                        });
                assertThat(eventReasons(LegacyInfrastructure.DOCKER))
                    .contains("AutoProvisionFailed");
                assertThat(harness.task("never-starts").getStatus().phase)
                    .isEqualTo(TaskPhase.Failed);
              });
      assertThat(resources())
          .as("containers made while the first one's failure holds auto-provisioning back")
          .hasSize(1)
          .allSatisfy(
              r ->
                  assertThat(r.getStatus().phase)
                      .isEqualTo(io.vera.operator.api.ComputeResourceStatus.Phase.Failed));
      assertThat(engine.refusedCreates()).isEqualTo(1);
      // The Provider's own reconciler keeps the condition when it writes Ready.
      assertThat(dockerProvider().getStatus().conditions)
          .extracting(c -> c.getType())
          .contains("Ready", ResourceAutoscaler.CONDITION);
    }
  }

  private Provider dockerProvider() {
    return harness
        .client()
        .resources(Provider.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName(LegacyInfrastructure.DOCKER)
        .get();
  }

  @Test
  void aPodResourceWhereNoNodeCanRunPodsFailsSayingSo() {
    ComputeResource resource = new ComputeResource();
    resource.setMetadata(
        new ObjectMetaBuilder()
            .withName("pod-nowhere")
            .withNamespace(OperatorHarness.NAMESPACE)
            .build());
    ComputeResourceSpec spec = new ComputeResourceSpec();
    spec.type = ComputeResourceSpec.Type.Pod;
    spec.pod = new ComputeResourceSpec.PodSpec();
    spec.pod.image = "vera.local/busybox:1";
    resource.setSpec(spec);
    harness.client().resource(resource).create();

    // While it waits (20 s), the resource says for what, not only "creating the machine".
    Awaitility.await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () -> {
              ComputeResource seen = resource("pod-nowhere");
              assertThat(seen.getStatus()).isNotNull();
              assertThat(seen.getStatus().phase)
                  .isEqualTo(io.vera.operator.api.ComputeResourceStatus.Phase.Provisioning);
              assertThat(seen.getStatus().conditions)
                  .anySatisfy(
                      c -> {
                        assertThat(c.getType()).isEqualTo("Ready");
                        assertThat(c.getStatus()).isEqualTo("False");
                        assertThat(c.getReason()).isEqualTo("NoNode");
                        assertThat(c.getMessage())
                            .contains("waits for a Node")
                            .contains("fails after 20s");
                      });
              assertThat(eventReasons("pod-nowhere")).contains("NoNode");
            });

    Awaitility.await()
        .atMost(Duration.ofSeconds(90))
        .untilAsserted(
            () -> {
              ComputeResource seen = resource("pod-nowhere");
              assertThat(seen.getStatus()).isNotNull();
              assertThat(seen.getStatus().phase)
                  .isEqualTo(io.vera.operator.api.ComputeResourceStatus.Phase.Failed);
              assertThat(seen.getStatus().conditions)
                  .anySatisfy(c -> assertThat(c.getMessage()).contains("no Node exists"));
            });

    // Failed for good: no pod is made again (the pod's deletion, the retry timer), the phase stays.
    String uid = resource("pod-nowhere").getMetadata().getUid();
    Awaitility.await()
        .during(Duration.ofSeconds(20))
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              assertThat(resource("pod-nowhere").getStatus().phase)
                  .isEqualTo(io.vera.operator.api.ComputeResourceStatus.Phase.Failed);
              assertThat(
                      harness
                          .client()
                          .pods()
                          .inNamespace(OperatorHarness.NAMESPACE)
                          .withLabel(ComputeLabels.RESOURCE_UID, uid)
                          .list()
                          .getItems())
                  .allSatisfy(p -> assertThat(p.getMetadata().getDeletionTimestamp()).isNotNull());
            });
  }

  private ComputeResource createDockerResource(String name) {
    ComputeResource resource = new ComputeResource();
    resource.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace(OperatorHarness.NAMESPACE).build());
    ComputeResourceSpec spec = new ComputeResourceSpec();
    spec.type = ComputeResourceSpec.Type.Docker;
    spec.providerRef = LegacyInfrastructure.DOCKER;
    spec.docker = new ComputeResourceSpec.DockerSpec();
    spec.docker.image = "busybox";
    resource.setSpec(spec);
    harness.client().resource(resource).create();
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> ComputeService.hostUnavailable(resource(name)));
    return resource(name);
  }

  private ComputeResource resource(String name) {
    return harness
        .client()
        .resources(ComputeResource.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName(name)
        .get();
  }

  @Test
  void deletingAResourceThatNeverGotAMachineDoesNotWaitForTheDownHost() throws Exception {
    post(BASE + "/initialize", "{\"docker_url\": \"" + missingSocket() + "\"}");
    ComputeResource resource = createDockerResource("never-ran");
    assertThat(resource.getMetadata().getFinalizers()).isNotEmpty();

    harness.client().resource(resource).delete();

    Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> resource("never-ran") == null);
    assertThat(eventReasons("never-ran")).contains("NothingRecorded");
  }

  @Test
  void deletingAResourceWhoseMachineCannotBeRemovedRetriesUntilAnAdminAbandonsIt()
      throws Exception {
    post(BASE + "/initialize", "{\"docker_url\": \"" + missingSocket() + "\"}");
    createDockerResource("had-a-machine");
    harness
        .client()
        .resources(ComputeResource.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName("had-a-machine")
        .subresource("status")
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"status\": {\"resourceId\": \"docker-0123456789ab\"}}");
    harness.client().resource(resource("had-a-machine")).delete();

    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              assertThat(eventReasons("had-a-machine")).contains("RemovalFailed");
              ComputeResource pending = resource("had-a-machine");
              assertThat(pending.getMetadata().getDeletionTimestamp()).isNotNull();
              assertThat(pending.getStatus().conditions)
                  .anySatisfy(
                      c -> {
                        assertThat(c.getReason()).isEqualTo("RemovalPending");
                        assertThat(c.getMessage())
                            .contains("docker-0123456789ab")
                            .contains(ComputeResourceReconciler.ABANDON_ANNOTATION);
                      });
            });

    harness
        .client()
        .resources(ComputeResource.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName("had-a-machine")
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"metadata\": {\"annotations\": {\""
                + ComputeResourceReconciler.ABANDON_ANNOTATION
                + "\": \"true\"}}}");
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> resource("had-a-machine") == null);
    assertThat(eventReasons("had-a-machine")).contains("MachineAbandoned");
  }
}
