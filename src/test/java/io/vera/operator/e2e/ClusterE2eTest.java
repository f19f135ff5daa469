package io.vera.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.LocalPortForward;
import io.vera.operator.api.Provider;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.WorkerPool;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The operator on a real Kubernetes API server, installed from its Helm chart with its own image,
 * ServiceAccount and RBAC: CRDs, schema validation, every example, worker pods that lease and run
 * tasks, {@code kubectl scale}, scaling by queue depth, and no writes when unchanged manifests are
 * applied again.
 *
 * <p>Runs against whatever KUBECONFIG points at (skips when no cluster answers, unless CI=true). On
 * {@code ../shared/k8s/local-k8s.sh start --with-node} (one node named 127.0.0.1, no pod network)
 * it loads the image into the node's Docker engine and runs every pod with hostNetwork on loopback
 * ports; elsewhere (kind, any cluster) the image must already be pullable or loaded, e.g. {@code
 * -Dvera.e2e.image=registry/vera-operator:tag -Dvera.e2e.pullPolicy=IfNotPresent}.
 */
@Tag("e2e")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 5, unit = java.util.concurrent.TimeUnit.MINUTES)
class ClusterE2eTest {
  private static final String NS = "vera-e2e";
  private static final String RELEASE = "vera";
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration KUBECTL_TIMEOUT = Duration.ofMinutes(2);
  private static final Duration POD_READY = Duration.ofMinutes(3);
  private static final List<String> CRDS =
      List.of("veratasks", "workerpools", "computeresources", "providers");

  private KubernetesClient client;
  private Path kubeconfig;
  private Path kubectl;
  private Path work;
  private boolean hostNetwork;
  private boolean crdsExisted;
  private int port;
  private String operatorUrl;
  private LocalPortForward portForward;
  private MockWebServer openAi;
  private final List<String> openAiRequests = new CopyOnWriteArrayList<>();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

  /** The manifests applied, as kubectl gets them: examples (adapted) and the test's own pool. */
  private final Map<String, String> applied = new LinkedHashMap<>();

  @BeforeAll
  void connect() throws Exception {
    kubectl = E2e.onPath("kubectl").orElse(null);
    E2e.require(kubectl != null, "kubectl is not on the PATH");
    String env = System.getenv("KUBECONFIG");
    kubeconfig =
        env != null && !env.isBlank()
            ? Path.of(env.split(java.io.File.pathSeparator)[0])
            : Path.of(System.getProperty("user.home"), ".kube", "config");
    E2e.require(Files.isRegularFile(kubeconfig), "no kubeconfig at " + kubeconfig);
    Config config = Config.autoConfigure(null);
    config.setRequestTimeout(20_000);
    config.setConnectionTimeout(5_000);
    client = new KubernetesClientBuilder().withConfig(config).build();
    String version;
    try {
      version = client.getKubernetesVersion().getGitVersion();
    } catch (RuntimeException e) {
      version = null;
    }
    E2e.require(version != null, "no Kubernetes API server answers at " + config.getMasterUrl());
    System.out.println("[e2e] Kubernetes " + version + " at " + config.getMasterUrl());
    work = Files.createTempDirectory("vera-e2e");
    hostNetwork =
        Boolean.parseBoolean(
            System.getProperty(
                "vera.e2e.hostNetwork",
                Boolean.toString(
                    client.nodes().withName("127.0.0.1").get() != null
                        && "127.0.0.1".equals(URI.create(config.getMasterUrl()).getHost()))));
    if (hostNetwork) {
      loadImageIntoLocalNode();
    }
    // A run that died half-way leaves its namespace: start from nothing.
    if (client.namespaces().withName(NS).get() != null) {
      kubectl("delete", "namespace", NS, "--wait=true", "--timeout=120s");
    }
    crdsExisted =
        client.apiextensions().v1().customResourceDefinitions().withName("veratasks.vera.io").get()
            != null;
  }

  /** local-k8s.sh's node runs a private Docker engine: copy the image (and its :latest) into it. */
  private void loadImageIntoLocalNode() {
    Path home =
        Path.of(
            Objects.requireNonNullElse(
                System.getenv("VERA_K8S_HOME"),
                System.getProperty("user.home") + "/.cache/vera-k8s/v1.20.2"));
    Path socket = home.resolve("state/node/docker.sock");
    E2e.require(Files.exists(socket), "no node Docker engine at " + socket);
    E2e.require(
        E2e.run(Duration.ofSeconds(30), "docker", "image", "inspect", E2e.IMAGE).exitCode() == 0,
        "image " + E2e.IMAGE + " is not built (run .ci/build-image)");
    String latest = E2e.IMAGE.replaceAll(":[^:/]+$", "") + ":latest";
    String node = "unix://" + socket;
    String hostId = imageId(null, E2e.IMAGE);
    if (hostId.equals(imageId(node, E2e.IMAGE)) && hostId.equals(imageId(node, latest))) {
      return;
    }
    long t0 = System.nanoTime();
    E2e.run(
            Duration.ofMinutes(3),
            "bash",
            "-o",
            "pipefail",
            "-c",
            "docker save \"$0\" \"$1\" | docker -H \"$2\" load",
            E2e.IMAGE,
            latest,
            node)
        .ok();
    System.out.printf(
        "[e2e] loaded %s into the node's engine in %d s%n",
        E2e.IMAGE, (System.nanoTime() - t0) / 1_000_000_000);
  }

  private static String imageId(String host, String image) {
    List<String> cmd = E2e.list("docker");
    if (host != null) {
      cmd.addAll(List.of("-H", host));
    }
    cmd.addAll(List.of("image", "inspect", "-f", "{{.Id}}", image));
    E2e.Result r = E2e.run(Duration.ofSeconds(30), Map.of(), null, cmd);
    return r.exitCode() == 0 ? r.output().trim() : "missing:" + host;
  }

  @AfterAll
  void cleanUp() throws Exception {
    if (client == null) {
      return;
    }
    try {
      if (portForward != null) {
        portForward.close();
      }
      if (client.namespaces().withName(NS).get() != null) {
        // Resources first, while the operator runs (it removes the finalizers it owns).
        for (String crd : CRDS) {
          kubectlAllowFailure(
              "delete", crd + ".vera.io", "--all", "-n", NS, "--wait=true", "--timeout=60s");
        }
        new Helm(Path.of("helm", "vera-operator"))
            .uninstall(RELEASE)
            .withNamespace(NS)
            .withKubeConfig(kubeconfig)
            .ignoreNotFound()
            .call();
        kubectlAllowFailure("delete", "namespace", NS, "--wait=true", "--timeout=120s");
      }
      if (!crdsExisted) {
        kubectlAllowFailure("delete", "-f", "crds/", "--ignore-not-found", "--timeout=60s");
      }
    } finally {
      if (openAi != null) {
        openAi.close();
      }
      client.close();
    }
  }

  // ------------------------------------------------------------------------------------------ CRDs

  @Test
  @Order(1)
  void crdsAreAcceptedAndEstablished() {
    String out = kubectl("apply", "-f", "crds/").output();
    assertThat(out).contains("veratasks.vera.io", "workerpools.vera.io");
    for (String crd : CRDS) {
      E2e.await(
          crd + ".vera.io Established",
          Duration.ofSeconds(60),
          () -> condition(crd(crd), "Established"));
      CustomResourceDefinition live = crd(crd);
      assertThat(condition(live, "NonStructuralSchema")).as(crd + " structural").isFalse();
      assertThat(live.getSpec().getVersions().get(0).getSubresources().getStatus()).isNotNull();
    }
    // The printer columns and short names work through kubectl as users see them.
    E2e.await(
        "kubectl get vera answers",
        Duration.ofSeconds(30),
        () -> kubectlAllowFailure("get", "vera", "-A").exitCode() == 0);
  }

  @Test
  @Order(2)
  void schemaValidationRefusesBadResources() {
    kubectl("create", "namespace", NS);
    E2e.Result task =
        applyRaw(
            "apiVersion: vera.io/v1alpha1\nkind: VeraTask\nmetadata: {name: bad-priority}\n"
                + "spec: {handler: compute.sum, priority: urgent}\n");
    assertThat(task.exitCode()).isNotZero();
    assertThat(task.output()).contains("spec.priority", "Unsupported value: \"urgent\"");
    E2e.Result pool =
        applyRaw(
            "apiVersion: vera.io/v1alpha1\nkind: WorkerPool\nmetadata: {name: bad-replicas}\n"
                + "spec: {taskType: GENERAL, replicas: -1}\n");
    assertThat(pool.exitCode()).isNotZero();
    assertThat(pool.output()).contains("spec.replicas", "greater than or equal to 0");
    E2e.Result noType =
        applyRaw(
            "apiVersion: vera.io/v1alpha1\nkind: WorkerPool\nmetadata: {name: no-type}\n"
                + "spec: {replicas: 1}\n");
    assertThat(noType.exitCode()).isNotZero();
    assertThat(noType.output()).contains("spec.taskType", "Required value");
    E2e.Result runtime =
        applyRaw(
            "apiVersion: vera.io/v1alpha1\nkind: WorkerPool\nmetadata: {name: bad-runtime}\n"
                + "spec: {taskType: GENERAL, runtime: Threads}\n");
    assertThat(runtime.exitCode()).isNotZero();
    assertThat(runtime.output()).contains("spec.runtime");
    assertThat(client.resources(WorkerPool.class).inNamespace(NS).list().getItems()).isEmpty();
    assertThat(client.resources(VeraTask.class).inNamespace(NS).list().getItems()).isEmpty();
  }

  // ------------------------------------------------------------------------------------ the chart

  @Test
  @Order(3)
  void operatorRunsFromTheChartWithItsOwnRbac() throws Exception {
    port = hostNetwork ? freeLoopbackPort() : 8000;
    String repository = E2e.IMAGE.replaceAll(":[^:/]+$", "");
    String tag = E2e.IMAGE.substring(repository.length() + 1);
    StringBuilder values = new StringBuilder();
    values.append("image: {repository: \"").append(repository).append("\", tag: \"");
    values.append(tag).append("\", pullPolicy: ").append(pullPolicy()).append("}\n");
    values.append("rest: {port: ").append(port).append("}\n");
    values.append("resources: {requests: {cpu: 100m, memory: 256Mi}, limits: {memory: 768Mi}}\n");
    if (hostNetwork) {
      URI api = URI.create(client.getConfiguration().getMasterUrl());
      values.append("hostNetwork: true\n");
      values.append("operatorUrl: \"http://127.0.0.1:").append(port).append("\"\n");
      values.append("extraArgs: [\"--host=127.0.0.1\"]\n");
      values.append("env:\n");
      values.append("  - {name: KUBERNETES_SERVICE_HOST, value: \"").append(api.getHost());
      values.append("\"}\n  - {name: KUBERNETES_SERVICE_PORT, value: \"").append(api.getPort());
      values.append("\"}\n");
    }
    Path valuesFile = work.resolve("values.yaml");
    Files.writeString(valuesFile, values);
    new Helm(Path.of("helm", "vera-operator"))
        .install()
        .withName(RELEASE)
        .withNamespace(NS)
        .withKubeConfig(kubeconfig)
        .withValuesFile(valuesFile)
        .withTimeout(120)
        .call();
    E2e.awaitOr(
        "the operator pod Ready",
        POD_READY,
        () -> operatorPod() != null && ready(operatorPod()),
        this::operatorDiagnostics);
    Pod pod = operatorPod();
    assertThat(pod.getSpec().getServiceAccountName()).isEqualTo(RELEASE + "-vera-operator");
    assertThat(
            pod.getSpec().getContainers().get(0).getSecurityContext().getReadOnlyRootFilesystem())
        .isTrue();
    if (hostNetwork) {
      operatorUrl = "http://127.0.0.1:" + port;
    } else {
      portForward =
          client
              .pods()
              .inNamespace(NS)
              .withName(pod.getMetadata().getName())
              .portForward(port, InetAddress.getLoopbackAddress(), 0);
      operatorUrl = "http://127.0.0.1:" + portForward.getLocalPort();
    }
    HttpResponse<String> health = get("/orchestrator/health");
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(health.body()).contains("healthy");
    assertThat(get("/metrics").body()).contains("operator_sdk");
  }

  // ------------------------------------------------------------------------------------- examples

  @Test
  @Order(4)
  void everyExampleIsAcceptedAndReconciles() throws Exception {
    requireOperator();
    startOpenAiDouble();
    List<Path> examples;
    try (Stream<Path> files = Files.list(Path.of("examples"))) {
      examples = files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    assertThat(examples).isNotEmpty();
    for (Path example : examples) {
      String manifest = adapt(Files.readString(example));
      applied.put(example.getFileName().toString(), manifest);
      apply(manifest);
    }

    // The embedded pool runs the example task inside the operator.
    E2e.awaitOr(
        "VeraTask sum-10-20 Succeeded",
        Duration.ofSeconds(90),
        () -> phase("sum-10-20") == TaskPhase.Succeeded,
        () -> describe("veratask", "sum-10-20"));
    assertThat(task("sum-10-20").getStatus().result.asInt()).isEqualTo(30);
    E2e.await(
        "general-embedded reports 2 ready workers",
        Duration.ofSeconds(60),
        () -> Objects.equals(pool("general-embedded").getStatus().readyReplicas, 2));

    // The Pods pool of the example gets its Deployment and a worker pod that becomes Ready.
    E2e.awaitOr(
        "a Ready worker pod of tool-pods",
        POD_READY,
        () -> readyPods("tool-pods") >= 1,
        () -> podDiagnostics("tool-pods"));
    Deployment workers =
        client.apps().deployments().inNamespace(NS).withName("tool-pods-workers").get();
    assertThat(workers.getMetadata().getOwnerReferences().get(0).getKind()).isEqualTo("WorkerPool");

    // The OpenAI Provider probes the test double (never the real API) and turns Ready.
    if (openAi != null) {
      E2e.awaitOr(
          "Provider openai Ready",
          Duration.ofSeconds(60),
          () -> "True".equals(providerReady("openai")),
          () -> describe("provider", "openai") + "\nrequests seen: " + openAiRequests);
      assertThat(openAiRequests).anyMatch(r -> r.startsWith("GET /v1/models Bearer replace-me"));
    }
    // The Docker provider is not callable through the provider API; it says so, and is observed.
    E2e.await(
        "Provider local-docker reconciled",
        Duration.ofSeconds(60),
        () -> providerReady("local-docker") != null);
    Provider docker =
        client.resources(Provider.class).inNamespace(NS).withName("local-docker").get();
    assertThat(docker.getStatus().observedGeneration)
        .isEqualTo(docker.getMetadata().getGeneration());
    assertThat(
            client
                .genericKubernetesResources("vera.io/v1alpha1", "ComputeResource")
                .inNamespace(NS)
                .withName("sandbox-1")
                .get())
        .isNotNull();
    // The operator read the Secret by name and never wrote a secret value into status or events.
    assertThat(kubectl("get", "provider", "openai", "-n", NS, "-o", "yaml").output())
        .doesNotContain("replace-me");
    assertThat(kubectl("get", "events", "-n", NS).output()).doesNotContain("replace-me");
  }

  // --------------------------------------------------------------------- worker pods and scaling

  @Test
  @Order(5)
  void workerPodsLeaseAndRunTasksAndKubectlScaleWorks() throws Exception {
    requireOperator();
    // A pool of its own without autoscaling, started at zero, so `kubectl scale` decides its size.
    StringBuilder pool = new StringBuilder();
    pool.append("apiVersion: vera.io/v1alpha1\nkind: WorkerPool\nmetadata: {name: e2e-pods}\n");
    pool.append("spec:\n  taskType: BACKGROUND\n  runtime: Pods\n  replicas: 0\n");
    pool.append("  concurrencyPerWorker: 2\n  template:\n");
    pool.append("    image: \"").append(E2e.IMAGE).append("\"\n");
    pool.append("    imagePullPolicy: ").append(pullPolicy()).append('\n');
    pool.append("    resources: {requests: {cpu: 50m, memory: 128Mi}, limits: {memory: 384Mi}}\n");
    if (hostNetwork) {
      pool.append("    hostNetwork: true\n");
    }
    applied.put("e2e-pods", pool.toString());
    apply(pool.toString());
    E2e.await(
        "e2e-pods Deployment at 0 replicas",
        Duration.ofSeconds(60),
        () -> deploymentReplicas("e2e-pods") == 0);

    kubectl("scale", "workerpool", "e2e-pods", "-n", NS, "--replicas=1");
    E2e.awaitOr(
        "a Ready worker pod of e2e-pods",
        POD_READY,
        () -> readyPods("e2e-pods") == 1,
        () -> podDiagnostics("e2e-pods"));
    String podName = pods("e2e-pods").get(0).getMetadata().getName();
    assertThat(pods("e2e-pods").get(0).getSpec().getContainers().get(0).getImage())
        .isEqualTo(E2e.IMAGE);

    // Tasks on both Pods pools run in worker pods, not in the operator.
    apply(taskYaml("pod-sum", "e2e-pods", "compute.sum", "{a: 2, b: 40}"));
    apply(taskYaml("tool-product", "tool-pods", "compute.multiply", "{a: 6, b: 7}"));
    for (String name : List.of("pod-sum", "tool-product")) {
      E2e.awaitOr(
          "VeraTask " + name + " Succeeded",
          Duration.ofSeconds(90),
          () -> phase(name) == TaskPhase.Succeeded,
          () -> describe("veratask", name) + podDiagnostics("e2e-pods"));
      assertThat(task(name).getStatus().result.asInt()).isEqualTo(42);
    }
    assertThat(task("pod-sum").getStatus().worker).contains(podName);
    assertThat(task("tool-product").getStatus().worker).contains("tool-pods-workers");
    E2e.await(
        "e2e-pods status shows 1 ready worker and 1 success",
        Duration.ofSeconds(60),
        () ->
            Objects.equals(pool("e2e-pods").getStatus().readyReplicas, 1)
                && Objects.equals(pool("e2e-pods").getStatus().succeeded, 1L));

    kubectl("scale", "workerpool", "e2e-pods", "-n", NS, "--replicas=2");
    E2e.awaitOr(
        "2 Ready worker pods of e2e-pods",
        POD_READY,
        () ->
            readyPods("e2e-pods") == 2 && Objects.equals(pool("e2e-pods").getStatus().replicas, 2),
        () -> podDiagnostics("e2e-pods"));
    assertThat(kubectl("get", "workerpool", "e2e-pods", "-n", NS).output()).contains("e2e-pods");

    kubectl("scale", "workerpool", "e2e-pods", "-n", NS, "--replicas=0");
    E2e.await(
        "e2e-pods worker pods gone",
        Duration.ofSeconds(120),
        () -> pods("e2e-pods").isEmpty() && deploymentReplicas("e2e-pods") == 0);
    // The pool is back as applied, so the next test re-applies an unchanged manifest.
    assertThat(pool("e2e-pods").getSpec().replicas).isZero();
  }

  // --------------------------------------------------------------------------------------- GitOps

  @Test
  @Order(6)
  void reapplyingUnchangedManifestsWritesNothingAndReconcilesNothing() throws Exception {
    requireOperator();
    E2e.await(
        "no task in flight",
        Duration.ofSeconds(60),
        () ->
            client.resources(VeraTask.class).inNamespace(NS).list().getItems().stream()
                .allMatch(t -> t.getStatus() != null && t.getStatus().completionTime != null));
    E2e.sleep(Duration.ofSeconds(5));
    Duration window = Duration.ofSeconds(20);

    // Baseline: the same window with nothing applied (pools recheck every 5 s, providers every
    // 15 s, and a callable Provider records its probe once a minute; none of that is churn).
    Map<String, Double> reconciles0 = operatorCounters("operator_sdk_reconciliations_started");
    Map<String, Double> events0 = operatorCounters("operator_sdk_events_received");
    long writes0 = apiWrites();
    E2e.sleep(window);
    Map<String, Double> reconciles1 = operatorCounters("operator_sdk_reconciliations_started");
    Map<String, Double> events1 = operatorCounters("operator_sdk_events_received");
    long writes1 = apiWrites();

    Map<String, String> versionsBefore = versions();
    Instant start = Instant.now();
    kubectl("apply", "-f", "crds/");
    for (String manifest : applied.values()) {
      // kubectl re-sends a Secret's stringData every time ("configured"); the server finds
      // nothing to change, which the resourceVersions below prove.
      assertThat(apply(manifest).output().lines())
          .allMatch(l -> l.endsWith(" unchanged") || l.startsWith("secret/"));
    }
    new Helm(Path.of("helm", "vera-operator"))
        .upgrade()
        .withName(RELEASE)
        .withNamespace(NS)
        .withKubeConfig(kubeconfig)
        .withValuesFile(work.resolve("values.yaml"))
        .withTimeout(120)
        .call();
    Duration left = window.minus(Duration.between(start, Instant.now()));
    if (!left.isNegative()) {
      E2e.sleep(left);
    }
    Duration took = Duration.between(start, Instant.now());
    Map<String, String> versionsAfter = versions();
    Map<String, Double> reconciles2 = operatorCounters("operator_sdk_reconciliations_started");
    Map<String, Double> events2 = operatorCounters("operator_sdk_events_received");
    long writes2 = apiWrites();

    List<String> changed =
        versionsBefore.keySet().stream()
            .filter(k -> !versionsBefore.get(k).equals(versionsAfter.get(k)))
            .toList();
    System.out.printf(
        "[e2e] GitOps re-apply (kubectl apply -f crds/, %d manifests, helm upgrade with the same"
            + " values) of %d objects: changed %s; API writes to vera.io/Deployments/CRDs"
            + " %d in %d s (idle baseline %d in %d s); reconciles started %s (baseline %s);"
            + " events received %s (baseline %s)%n",
        applied.size(),
        versionsBefore.size(),
        changed,
        writes2 - writes1,
        took.toSeconds(),
        writes1 - writes0,
        window.toSeconds(),
        delta(reconciles1, reconciles2),
        delta(reconciles0, reconciles1),
        delta(events1, events2),
        delta(events0, events1));
    assertThat(changed)
        .as("objects whose resourceVersion, generation or managers changed")
        .isEmpty();
    // kubectl re-sends CRDs (and Secrets with stringData) as patches that change nothing: those
    // requests are reported; what is stored must not change, and no watch event may follow.
    assertThat(writes1 - writes0).as("write requests while idle").isZero();
    assertThat(sum(delta(events1, events2), "ResourceEvent"))
        .as("watch events after the re-apply")
        .isZero();
  }

  @Test
  @Order(7)
  void autoscalingFollowsQueueDepth() {
    requireOperator();
    // tool-pods (example): 4 tasks per worker of 2 slots, 1..10 workers. Ten 30-second tasks
    // need ceil(10 / (4 * 2)) = 2 workers.
    for (int i = 0; i < 10; i++) {
      apply(taskYaml("nap-" + i, "tool-pods", "sleep", "{seconds: 30}"));
    }
    E2e.awaitOr(
        "tool-pods scaled to 2 by its queue",
        Duration.ofSeconds(60),
        () ->
            Objects.equals(pool("tool-pods").getStatus().replicas, 2)
                && deploymentReplicas("tool-pods") == 2,
        () -> describe("workerpool", "tool-pods"));
    // The decision lives in status and the Deployment; the Git-owned spec keeps what was applied.
    assertThat(pool("tool-pods").getSpec().replicas).isEqualTo(1);
    for (int i = 0; i < 10; i++) {
      client.resources(VeraTask.class).inNamespace(NS).withName("nap-" + i).delete();
    }
  }

  // ------------------------------------------------------------------------------------- helpers

  private void requireOperator() {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        operatorUrl != null, "the operator is not running (an earlier step failed)");
  }

  private String pullPolicy() {
    return System.getProperty("vera.e2e.pullPolicy", hostNetwork ? "Never" : "IfNotPresent");
  }

  /**
   * Examples as applied here: the OpenAI Provider gets the test double's endpoint (tests never call
   * real providers), and on a cluster without a pod network pod templates get hostNetwork.
   */
  private String adapt(String manifest) throws IOException {
    List<String> docs = new ArrayList<>();
    for (JsonNode doc : YAML.readerFor(JsonNode.class).<JsonNode>readValues(manifest).readAll()) {
      if (doc == null || !doc.has("kind")) {
        continue;
      }
      String kind = doc.path("kind").asText();
      if (!(doc.path("spec") instanceof ObjectNode spec)) {
        docs.add("---\n" + YAML.writeValueAsString(doc).replaceFirst("^---\n", ""));
        continue;
      }
      if (kind.equals("Provider") && spec.path("type").asText().equals("OpenAI")) {
        E2e.require(openAi != null, "no OpenAI test double for the example Provider");
        spec.put("endpoint", "http://127.0.0.1:" + openAi.getPort() + "/v1");
      }
      if (kind.equals("Provider") && !spec.path("endpoint").isMissingNode()) {
        assertThat(spec.path("endpoint").asText()).startsWith("http://127.0.0.1:");
      }
      if (kind.equals("WorkerPool")
          && hostNetwork
          && spec.path("runtime").asText().equals("Pods")) {
        spec.withObjectProperty("template").put("hostNetwork", true);
      }
      docs.add("---\n" + YAML.writeValueAsString(doc).replaceFirst("^---\n", ""));
    }
    return String.join("", docs);
  }

  /** An OpenAI-compatible double on loopback; the operator reaches it only with hostNetwork. */
  private void startOpenAiDouble() throws IOException {
    if (!hostNetwork) {
      return;
    }
    openAi = new MockWebServer();
    openAi.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            openAiRequests.add(
                request.getMethod()
                    + " "
                    + request.getUrl().encodedPath()
                    + " "
                    + request.getHeaders().get("Authorization"));
            return new MockResponse.Builder()
                .code(200)
                .addHeader("Content-Type", "application/json")
                .body(
                    "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o-mini\",\"object\":\"model\"}]}")
                .build();
          }
        });
    openAi.start(InetAddress.getLoopbackAddress(), 0);
  }

  private static String taskYaml(String name, String pool, String handler, String payload) {
    return "apiVersion: vera.io/v1alpha1\nkind: VeraTask\nmetadata: {name: "
        + name
        + "}\nspec: {handler: "
        + handler
        + ", poolRef: "
        + pool
        + ", payload: "
        + payload
        + ", timeoutSeconds: 60}\n";
  }

  private E2e.Result apply(String manifest) {
    return applyWith(manifest, List.of()).ok();
  }

  /** Server-side validation only (kubectl's client-side check would refuse before the server). */
  private E2e.Result applyRaw(String manifest) {
    return applyWith(manifest, List.of("--validate=false"));
  }

  private E2e.Result applyWith(String manifest, List<String> flags) {
    try {
      Path file = Files.createTempFile(work, "manifest", ".yaml");
      Files.writeString(file, manifest);
      List<String> args = E2e.list("apply", "-n", NS, "-f", file.toString());
      args.addAll(flags);
      return kubectlResult(args);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private E2e.Result kubectl(String... args) {
    return kubectlResult(List.of(args)).ok();
  }

  private E2e.Result kubectlAllowFailure(String... args) {
    return kubectlResult(List.of(args));
  }

  private E2e.Result kubectlResult(List<String> args) {
    List<String> command = E2e.list(kubectl.toString(), "--request-timeout=60s");
    command.addAll(args);
    return E2e.run(KUBECTL_TIMEOUT, Map.of("KUBECONFIG", kubeconfig.toString()), null, command);
  }

  private String describe(String kind, String name) {
    return kubectlAllowFailure("describe", kind, name, "-n", NS).output();
  }

  private CustomResourceDefinition crd(String plural) {
    return client
        .apiextensions()
        .v1()
        .customResourceDefinitions()
        .withName(plural + ".vera.io")
        .get();
  }

  private static boolean condition(CustomResourceDefinition crd, String type) {
    return crd != null
        && crd.getStatus() != null
        && crd.getStatus().getConditions().stream()
            .anyMatch(c -> c.getType().equals(type) && c.getStatus().equals("True"));
  }

  private Pod operatorPod() {
    return client
        .pods()
        .inNamespace(NS)
        .withLabel("app.kubernetes.io/instance", RELEASE)
        .withLabel("app.kubernetes.io/name", "vera-operator")
        .list()
        .getItems()
        .stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .findFirst()
        .orElse(null);
  }

  private static boolean ready(Pod pod) {
    return pod.getStatus() != null
        && pod.getStatus().getConditions().stream()
            .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
  }

  private List<Pod> pods(String pool) {
    return client.pods().inNamespace(NS).withLabel("vera.io/pool", pool).list().getItems().stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .toList();
  }

  private long readyPods(String pool) {
    return pods(pool).stream().filter(ClusterE2eTest::ready).count();
  }

  private int deploymentReplicas(String pool) {
    Deployment d = client.apps().deployments().inNamespace(NS).withName(pool + "-workers").get();
    return d == null ? -1 : d.getSpec().getReplicas();
  }

  private String operatorDiagnostics() {
    StringBuilder out = new StringBuilder();
    out.append(
        kubectlAllowFailure("get", "pods,deployments,events", "-n", NS, "-o", "wide").output());
    Pod pod = operatorPod();
    if (pod != null) {
      out.append(describe("pod", pod.getMetadata().getName()));
      out.append(
          kubectlAllowFailure("logs", pod.getMetadata().getName(), "-n", NS, "--tail=80").output());
    }
    return out.toString();
  }

  private String podDiagnostics(String pool) {
    StringBuilder out = new StringBuilder(describe("workerpool", pool));
    for (Pod pod : pods(pool)) {
      out.append(describe("pod", pod.getMetadata().getName()));
      out.append(
          kubectlAllowFailure("logs", pod.getMetadata().getName(), "-n", NS, "--tail=40").output());
    }
    return out.toString();
  }

  private VeraTask task(String name) {
    return client.resources(VeraTask.class).inNamespace(NS).withName(name).get();
  }

  private TaskPhase phase(String name) {
    VeraTask task = task(name);
    return task == null || task.getStatus() == null ? null : task.getStatus().phase;
  }

  private WorkerPool pool(String name) {
    return client.resources(WorkerPool.class).inNamespace(NS).withName(name).get();
  }

  private io.vera.operator.api.ProviderStatus providerStatus(String name) {
    Provider provider = client.resources(Provider.class).inNamespace(NS).withName(name).get();
    return provider == null || provider.getStatus() == null
        ? new io.vera.operator.api.ProviderStatus()
        : provider.getStatus();
  }

  private String providerReady(String name) {
    var conditions = providerStatus(name).conditions;
    return conditions == null
        ? null
        : conditions.stream()
            .filter(c -> c.getType().equals("Ready"))
            .map(c -> c.getStatus())
            .findFirst()
            .orElse(null);
  }

  private HttpResponse<String> get(String path) {
    try {
      return http.send(
          HttpRequest.newBuilder(URI.create(operatorUrl + path))
              .timeout(Duration.ofSeconds(10))
              .GET()
              .build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** resourceVersion of every object the tests applied or installed, by kind/name. */
  private Map<String, String> versions() {
    Map<String, String> versions = new TreeMap<>();
    for (String crd : CRDS) {
      put(versions, crd(crd));
    }
    client
        .resources(VeraTask.class)
        .inNamespace(NS)
        .list()
        .getItems()
        .forEach(o -> put(versions, o));
    client
        .resources(WorkerPool.class)
        .inNamespace(NS)
        .list()
        .getItems()
        .forEach(o -> put(versions, o));
    client
        .resources(Provider.class)
        .inNamespace(NS)
        .list()
        .getItems()
        .forEach(o -> put(versions, o));
    client
        .genericKubernetesResources("vera.io/v1alpha1", "ComputeResource")
        .inNamespace(NS)
        .list()
        .getItems()
        .forEach(o -> put(versions, o));
    client.apps().deployments().inNamespace(NS).list().getItems().forEach(o -> put(versions, o));
    put(versions, client.secrets().inNamespace(NS).withName("openai-credentials").get());
    client.services().inNamespace(NS).list().getItems().forEach(o -> put(versions, o));
    client.serviceAccounts().inNamespace(NS).list().getItems().stream()
        .filter(o -> o.getMetadata().getName().startsWith(RELEASE))
        .forEach(o -> put(versions, o));
    return versions;
  }

  private static void put(Map<String, String> versions, HasMetadata object) {
    if (object != null) {
      versions.put(
          object.getKind() + "/" + object.getMetadata().getName(),
          object.getMetadata().getResourceVersion()
              + " gen="
              + object.getMetadata().getGeneration()
              + " managers="
              + object.getMetadata().getManagedFields().stream()
                  .map(f -> f.getManager() + ":" + f.getOperation() + "@" + f.getTime())
                  .collect(Collectors.joining(",")));
    }
  }

  private static void putSpec(Map<String, String> versions, HasMetadata object) {
    versions.put(
        object.getKind() + "/" + object.getMetadata().getName(),
        "gen="
            + object.getMetadata().getGeneration()
            + " managers="
            + object.getMetadata().getManagedFields().stream()
                // Kubernetes 1.20 records status writes without a subresource: skip entries
                // that own only status (a callable Provider writes its probe time each minute).
                .filter(
                    f ->
                        f.getFieldsV1() == null
                            || !f.getFieldsV1()
                                .getAdditionalProperties()
                                .keySet()
                                .equals(java.util.Set.of("f:status")))
                .map(f -> f.getManager() + ":" + f.getOperation() + "@" + f.getTime())
                .collect(Collectors.joining(",")));
  }

  private static double sum(Map<String, Double> counters, String keyPart) {
    return counters.entrySet().stream()
        .filter(e -> e.getKey().contains(keyPart))
        .mapToDouble(Map.Entry::getValue)
        .sum();
  }

  private static final Pattern API_WRITE =
      Pattern.compile("(?m)^apiserver_request_total\\{([^}]*)\\} ([0-9.e+]+)$");

  /** Write requests (POST/PUT/PATCH/DELETE) the API server served for vera.io and Deployments. */
  private long apiWrites() {
    String metrics =
        client.raw(URI.create(client.getMasterUrl().toString()).resolve("/metrics").toString());
    assertThat(metrics).as("the API server's /metrics").contains("apiserver_request_total");
    double total = 0;
    Matcher m = API_WRITE.matcher(metrics);
    while (m.find()) {
      String labels = m.group(1);
      boolean write = labels.matches(".*verb=\"(POST|PUT|PATCH|DELETE|APPLY|CREATE|UPDATE)\".*");
      boolean probe =
          labels.contains("resource=\"providers\"") && labels.contains("subresource=\"status\"");
      boolean ours =
          !probe && labels.contains("group=\"vera.io\"")
              || labels.contains("resource=\"deployments\"")
              || labels.contains("resource=\"customresourcedefinitions\"");
      if (write && ours) {
        total += Double.parseDouble(m.group(2));
      }
    }
    return Math.round(total);
  }

  /** Sum of an operator counter by its controller (or resource) label, from /metrics. */
  private Map<String, Double> operatorCounters(String name) {
    Map<String, Double> sums = new TreeMap<>();
    Pattern line = Pattern.compile("(?m)^" + name + "_total\\{([^}]*)\\} ([0-9.eE+]+)$");
    Matcher m = line.matcher(get("/metrics").body());
    while (m.find()) {
      Matcher controller = Pattern.compile("(?:controller|name)=\"([^\"]+)\"").matcher(m.group(1));
      String key = controller.find() ? controller.group(1) : m.group(1);
      sums.merge(key, Double.parseDouble(m.group(2)), Double::sum);
    }
    return sums;
  }

  private static Map<String, Double> delta(Map<String, Double> before, Map<String, Double> after) {
    Map<String, Double> delta = new TreeMap<>();
    after.forEach((k, v) -> delta.put(k, v - before.getOrDefault(k, 0.0)));
    return delta;
  }

  private static int freeLoopbackPort() throws IOException {
    return ImageE2eTest.freePort();
  }
}
