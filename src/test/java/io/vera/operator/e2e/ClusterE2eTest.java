package io.vera.operator.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.LocalPortForward;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceStatus;
import io.vera.operator.api.Provider;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskStatus;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.compute.ComputeLabels;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
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
 * tasks, {@code kubectl scale}, scaling by queue depth, no writes when unchanged manifests are
 * applied again, REST auth by TokenReview and SubjectAccessReview, the Docker example in the node's
 * Docker engine through its socket, commands in a Pod ComputeResource through the kubelet, garbage
 * collection by the controller-manager, and a leader killed mid-run without losing a task.
 *
 * <p>Runs against whatever KUBECONFIG points at (skips when no cluster answers, unless CI=true). On
 * {@code ../shared/k8s/local-k8s.sh start --with-node} (one node named 127.0.0.1, no pod network)
 * it loads the image into the node's Docker engine, runs every pod with hostNetwork on loopback
 * ports and gives the operator that engine's socket (chart value {@code docker.socket}); elsewhere
 * (kind, any cluster) the image must already be pullable or loaded, e.g. {@code
 * -Dvera.e2e.image=registry/vera-operator:tag -Dvera.e2e.pullPolicy=IfNotPresent}.
 */
@Tag("e2e")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ClusterE2eTest {
  private static final String NS = "vera-e2e";
  private static final String RELEASE = "vera";

  /** A second release sharing the first one's Lease: the standby of the failover test. */
  private static final String STANDBY = "vera-b";

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration KUBECTL_TIMEOUT = Duration.ofMinutes(2);
  private static final Duration POD_READY = Duration.ofMinutes(3);
  private static final List<String> CRDS =
      List.of("veratasks", "workerpools", "computeresources", "providers");

  /** What the Docker example's {@code busybox:latest} is in the node's engine (local-k8s.sh's). */
  private static final String NODE_BUSYBOX = "vera.local/busybox:1";

  private KubernetesClient client;
  private Path kubeconfig;
  private Path kubectl;
  private Path work;
  private boolean hostNetwork;

  /**
   * The node engine's socket the operator gets (the Docker example runs there), or null where the
   * test knows no node engine and leaves the Docker example out.
   */
  private Path dockerSocket;

  private int dockerGroup;
  private boolean crdsExisted;
  private int port;
  private String operatorUrl;
  private LocalPortForward portForward;
  private MockWebServer openAi;
  private final List<String> openAiRequests = new CopyOnWriteArrayList<>();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

  /** Example objects not applied on this cluster, by kind/name (see {@link #leaveOut}). */
  private final Set<String> leftOut = new TreeSet<>();

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
      shareNodeDockerEngine();
    }
    // A run that died half-way leaves its namespace: start from nothing.
    if (client.namespaces().withName(NS).get() != null) {
      kubectl("delete", "namespace", NS, "--wait=true", "--timeout=120s");
    }
    crdsExisted =
        client.apiextensions().v1().customResourceDefinitions().withName("veratasks.vera.io").get()
            != null;
  }

  /** The socket of local-k8s.sh's node Docker engine. */
  private static Path nodeSocket() {
    Path home =
        Path.of(
            Objects.requireNonNullElse(
                System.getenv("VERA_K8S_HOME"),
                System.getProperty("user.home") + "/.cache/vera-k8s/v1.20.2"));
    return home.resolve("state/node/docker.sock");
  }

  /** local-k8s.sh's node runs a private Docker engine: copy the image (and its :latest) into it. */
  private void loadImageIntoLocalNode() {
    Path socket = nodeSocket();
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

  /**
   * Readies local-k8s.sh's node engine for the Docker example as written: its socket for the
   * operator pod, and {@code busybox:latest} without a pull (the engine must not reach a registry).
   *
   * <p>The socket's group decides the chart's {@code docker.socket.groupId}. dockerd makes it
   * {@code root:docker 0660} (its {@code -G} default, the group Debian's docker.io creates), so the
   * operator joins {@code docker}, as the README tells users to. Group 0 (a root-owned socket) is
   * refused here as in the chart: making the operator a member of root's group, or changing the
   * socket's owner behind the script's back, would test something users are told not to do.
   */
  private void shareNodeDockerEngine() throws IOException {
    Path socket = nodeSocket();
    String node = "unix://" + socket;
    dockerGroup = (Integer) Files.getAttribute(socket, "unix:gid");
    int mode = (Integer) Files.getAttribute(socket, "unix:mode") & 0777;
    System.out.printf(
        "[e2e] node Docker socket %s: uid %s gid %d mode %o%n",
        socket, Files.getAttribute(socket, "unix:uid"), dockerGroup, mode);
    E2e.require(
        dockerGroup != 0,
        "the node's Docker socket belongs to group 0 (no 'docker' group when dockerd started)");
    assertThat(mode & 0060).as("the socket's group may read and write it").isEqualTo(0060);
    if (imageId(node, "busybox:latest").startsWith("missing:")) {
      E2e.run(Duration.ofSeconds(30), "docker", "-H", node, "tag", NODE_BUSYBOX, "busybox:latest")
          .ok();
    }
    dockerSocket = socket;
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
        // Resources first, while the operator runs (it removes the finalizers it owns, and the
        // containers of ComputeResources while their Provider is still there).
        for (String crd : List.of("veratasks", "workerpools", "computeresources", "providers")) {
          kubectlAllowFailure(
              "delete", crd + ".vera.io", "--all", "-n", NS, "--wait=true", "--timeout=60s");
        }
        uninstall(STANDBY);
        uninstall(RELEASE);
        kubectlAllowFailure("delete", "namespace", NS, "--wait=true", "--timeout=120s");
      }
      if (!crdsExisted) {
        kubectlAllowFailure("delete", "-f", "crds/", "--ignore-not-found", "--timeout=60s");
      }
      if (dockerSocket != null) {
        // A run that failed with the operator down leaves its containers in the node's engine.
        String left = nodeContainers(ComputeLabels.RESOURCE_NAMESPACE + "=" + NS);
        if (!left.isBlank()) {
          System.out.println("[e2e] removing containers left in the node's engine: " + left);
          List<String> rm = E2e.list("docker", "-H", "unix://" + dockerSocket, "rm", "-f");
          rm.addAll(left.lines().toList());
          E2e.run(Duration.ofSeconds(60), Map.of(), null, rm);
        }
      }
    } finally {
      if (openAi != null) {
        openAi.close();
      }
      client.close();
    }
  }

  private void uninstall(String release) {
    new Helm(Path.of("helm", "vera-operator"))
        .uninstall(release)
        .withNamespace(NS)
        .withKubeConfig(kubeconfig)
        .ignoreNotFound()
        .call();
  }

  // ------------------------------------------------------------------------------------------ CRDs

  @Test
  @Order(1)
  void crdsAreAcceptedAndEstablished() {
    // The previous chart's CRDs first, made as Helm makes them (create, or replace on a cluster
    // that has them), then the upgrade step docs/install.md gives users.
    Path previous = Path.of("src", "test", "resources", "e2e", "previous-crds");
    kubectl(crdsExisted ? "replace" : "create", "-f", previous.toString());
    for (String crd : CRDS) {
      E2e.await(
          crd + ".vera.io (previous) Established",
          Duration.ofSeconds(60),
          () -> condition(crd(crd), "Established"));
    }
    String out = kubectl("apply", "--server-side", "--force-conflicts", "-f", "crds/").output();
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
    // The upgrade took: the new columns are served, Age last.
    List<String> columns =
        crd("veratasks").getSpec().getVersions().get(0).getAdditionalPrinterColumns().stream()
            .map(c -> c.getName())
            .toList();
    assertThat(columns).contains("Start", "Duration", "Reason").endsWith("Age");
    // kubectl explain reads the descriptions from the API server's OpenAPI document, which it
    // republishes a moment after a CRD changes.
    E2e.awaitOr(
        "kubectl explain shows the field descriptions",
        Duration.ofSeconds(60),
        () ->
            explain("veratask.spec.retries.maxBackoffSeconds")
                    .contains("Upper bound of the doubling retry delay")
                && explain("computeresource.spec.resources.memoryMb").contains("Memory in MiB")
                && explain("provider.status.usage.costUsd").contains("in USD")
                && explain("workerpool.status.oldestQueuedAgeSeconds").contains("in seconds"),
        () -> kubectlAllowFailure("explain", "veratask.spec.retries").output());
  }

  /** What {@code kubectl explain} says of a field, its line wrapping undone. */
  private String explain(String field) {
    return kubectlAllowFailure("explain", field).output().replaceAll("\\s+", " ");
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
    installRelease(RELEASE, port);
    E2e.awaitOr(
        "the operator pod Ready and leading",
        POD_READY,
        () -> operatorPod() != null && serving(operatorPod()),
        () -> operatorDiagnostics(RELEASE));
    Pod pod = operatorPod();
    assertThat(pod.getSpec().getServiceAccountName()).isEqualTo(RELEASE + "-vera-operator");
    assertThat(
            pod.getSpec().getContainers().get(0).getSecurityContext().getReadOnlyRootFilesystem())
        .isTrue();
    if (dockerSocket != null) {
      // The node's Docker socket, reached as a member of its group, not as root.
      assertThat(pod.getSpec().getSecurityContext().getRunAsNonRoot()).isTrue();
      assertThat(pod.getSpec().getSecurityContext().getSupplementalGroups())
          .containsExactly((long) dockerGroup);
      assertThat(pod.getSpec().getVolumes())
          .anyMatch(
              v ->
                  v.getHostPath() != null
                      && v.getHostPath().getPath().equals(dockerSocket.toString()));
    }
    connectToOperator();
    HttpResponse<String> health = get("/orchestrator/health");
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(health.body()).contains("healthy");
    assertThat(get("/metrics").body()).contains("operator_sdk");
    assertOperatorHealthy();
    operatorMayDoOnlyWhatItNeedsAndOnlyInItsNamespace();
  }

  /**
   * Least privilege, asked of the API server as the operator's ServiceAccount: what it uses in the
   * watched namespace is granted, the same verbs elsewhere and listing Secrets are denied.
   */
  private void operatorMayDoOnlyWhatItNeedsAndOnlyInItsNamespace() {
    assertThat(client.network().v1().networkPolicies().inNamespace(NS).list().getItems())
        .as("the chart's NetworkPolicy")
        .anyMatch(p -> p.getMetadata().getName().equals(RELEASE + "-vera-operator"));
    List<String> granted =
        List.of(
            "create pods/exec -n " + NS,
            "get secrets -n " + NS,
            "patch veratasks.vera.io -n " + NS,
            "create deployments.apps -n " + NS,
            "create events -n " + NS,
            "patch pods -n " + NS, // the leader's own pod label
            "create tokenreviews.authentication.k8s.io",
            "create subjectaccessreviews.authorization.k8s.io");
    List<String> denied =
        List.of(
            "create pods/exec -n default",
            "get secrets -n kube-system",
            "list secrets -n " + NS,
            "get secrets --all-namespaces",
            "create deployments.apps -n default",
            "patch pods -n default",
            "update pods -n " + NS,
            "list veratasks.vera.io --all-namespaces",
            "get namespaces/kube-system",
            "delete namespaces/" + NS);
    for (String check : granted) {
      assertThat(canI(check)).as("the operator may " + check).isTrue();
    }
    for (String check : denied) {
      assertThat(canI(check)).as("the operator may not " + check).isFalse();
    }
  }

  private boolean canI(String check) {
    List<String> args =
        E2e.list(
            "auth", "can-i", "--as=system:serviceaccount:" + NS + ":" + RELEASE + "-vera-operator");
    args.addAll(List.of(check.split(" ")));
    E2e.Result answer = kubectlResult(args);
    // "yes" (exit 0) or "no" (exit 1) on a line of its own, beside any warning on stderr;
    // anything else is an error of the question, not an answer.
    List<String> answers =
        answer
            .output()
            .lines()
            .map(String::strip)
            .filter(l -> l.matches("(yes|no)( - .*)?"))
            .toList();
    assertThat(answers).as(check + ": " + answer.output()).hasSize(1);
    return answer.exitCode() == 0 && answers.get(0).startsWith("yes");
  }

  /**
   * Installs the chart as {@code release}, REST on {@code restPort}. On the local node (no pod
   * network) the operator runs with hostNetwork on loopback and reaches the API server at 127.0.0.1
   * instead of the service address.
   */
  private void installRelease(String release, int restPort) throws IOException {
    String repository = E2e.IMAGE.replaceAll(":[^:/]+$", "");
    String tag = E2e.IMAGE.substring(repository.length() + 1);
    StringBuilder values = new StringBuilder();
    values.append("image: {repository: \"").append(repository).append("\", tag: \"");
    values.append(tag).append("\", pullPolicy: ").append(pullPolicy()).append("}\n");
    values.append("rest: {port: ").append(restPort).append("}\n");
    values.append("resources: {requests: {cpu: 100m, memory: 256Mi}, limits: {memory: 768Mi}}\n");
    // Production settings: RBAC scoped to the test namespace, and a NetworkPolicy (ingress from
    // that namespace's worker pods; egress to DNS, the API server and HTTPS providers).
    values.append("watchNamespaces: [").append(NS).append("]\n");
    values.append("networkPolicy: {enabled: true}\n");
    if (hostNetwork) {
      URI api = URI.create(client.getConfiguration().getMasterUrl());
      values.append("hostNetwork: true\n");
      values.append("operatorUrl: \"http://127.0.0.1:").append(restPort).append("\"\n");
      values.append("extraArgs: [\"--host=127.0.0.1\"]\n");
      values.append("env:\n");
      values.append("  - {name: KUBERNETES_SERVICE_HOST, value: \"").append(api.getHost());
      values.append("\"}\n  - {name: KUBERNETES_SERVICE_PORT, value: \"").append(api.getPort());
      values.append("\"}\n");
    }
    if (dockerSocket != null) {
      values.append("docker: {socket: {enabled: true, hostPath: \"").append(dockerSocket);
      values.append("\", groupId: ").append(dockerGroup).append("}}\n");
    }
    Path valuesFile = work.resolve(release + "-values.yaml");
    Files.writeString(valuesFile, values);
    new Helm(Path.of("helm", "vera-operator"))
        .install()
        .withName(release)
        .withNamespace(NS)
        .withKubeConfig(kubeconfig)
        .withValuesFile(valuesFile)
        .withTimeout(120)
        .call();
  }

  /** Points operatorUrl at the ready operator pod: its loopback port, or a new port-forward. */
  private void connectToOperator() throws IOException {
    if (hostNetwork) {
      operatorUrl = "http://127.0.0.1:" + port;
      return;
    }
    if (portForward != null) {
      portForward.close();
    }
    portForward =
        client
            .pods()
            .inNamespace(NS)
            .withName(operatorPod().getMetadata().getName())
            .portForward(port, InetAddress.getLoopbackAddress(), 0);
    operatorUrl = "http://127.0.0.1:" + portForward.getLocalPort();
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
    leaveOut(examples);
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
    // kstatus's Ready, as kubectl wait, Flux and Argo CD read it.
    kubectl(
        "wait",
        "--for=condition=Ready",
        "veratask/sum-10-20",
        "workerpool/general-embedded",
        "-n",
        NS,
        "--timeout=60s");

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
      kubectl("wait", "--for=condition=Ready", "provider/openai", "-n", NS, "--timeout=30s");
      // The provider-call example task is made by the operator through that Provider.
      E2e.awaitOr(
          "VeraTask summarize-with-openai Succeeded",
          Duration.ofSeconds(90),
          () -> phase("summarize-with-openai") == TaskPhase.Succeeded,
          () -> describe("veratask", "summarize-with-openai") + "\nrequests: " + openAiRequests);
      VeraTaskStatus call = task("summarize-with-openai").getStatus();
      assertThat(call.usage).isNotNull();
      assertThat(call.usage.tokensIn).isEqualTo(21L);
      assertThat(call.usage.tokensOut).isEqualTo(5L);
      assertThat(openAiRequests)
          .anyMatch(r -> r.startsWith("POST /v1/chat/completions Bearer replace-me"));
    }
    if (dockerSocket != null) {
      dockerExampleRunsInTheNodeEngine();
    }
    // The operator read the Secret by name and never wrote a secret value into status or events.
    assertThat(kubectl("get", "provider", "openai", "-n", NS, "-o", "yaml").output())
        .doesNotContain("replace-me");
    assertThat(kubectl("get", "events", "-n", NS).output()).doesNotContain("replace-me");
    assertOperatorHealthy();
  }

  /**
   * The Docker example as written: the Provider probes the node's engine through the socket the
   * chart mounted, sandbox-1 becomes a container there (no network), and the example command runs
   * in it.
   */
  private void dockerExampleRunsInTheNodeEngine() {
    String node = "unix://" + dockerSocket;
    E2e.awaitOr(
        "Provider local-docker Ready",
        Duration.ofSeconds(90),
        () -> "True".equals(providerReady("local-docker")),
        () -> describe("provider", "local-docker") + operatorDiagnostics(RELEASE));
    String engineVersion =
        E2e.run(
                Duration.ofSeconds(30),
                "docker",
                "-H",
                node,
                "version",
                "-f",
                "{{.Server.Version}}")
            .ok()
            .output()
            .trim();
    Provider docker =
        client.resources(Provider.class).inNamespace(NS).withName("local-docker").get();
    assertThat(docker.getStatus().host.version).isEqualTo(engineVersion);
    assertThat(docker.getStatus().observedGeneration)
        .isEqualTo(docker.getMetadata().getGeneration());

    E2e.awaitOr(
        "ComputeResource sandbox-1 Ready and Available",
        POD_READY,
        () ->
            "True".equals(computeReady("sandbox-1"))
                && computePhase("sandbox-1") == ComputeResourceStatus.Phase.Available,
        () -> describe("computeresource", "sandbox-1") + operatorDiagnostics(RELEASE));
    ComputeResource sandbox = compute("sandbox-1");
    String id = sandbox.getStatus().machineId;
    assertThat(sandbox.getStatus().resourceId).isEqualTo("docker-" + id.substring(0, 12));
    String uid = sandbox.getMetadata().getUid();
    assertThat(nodeContainers(ComputeLabels.RESOURCE_UID + "=" + uid))
        .as("containers of sandbox-1 in the node's engine")
        .isEqualTo(id);
    String inspect =
        E2e.run(
                Duration.ofSeconds(30),
                "docker",
                "-H",
                node,
                "inspect",
                "-f",
                "{{.Config.Image}} {{.HostConfig.NetworkMode}} {{.State.Status}}",
                id)
            .ok()
            .output()
            .trim();
    assertThat(inspect).isEqualTo("busybox:latest none running");

    E2e.awaitOr(
        "VeraTask uname-in-sandbox Succeeded",
        Duration.ofSeconds(90),
        () -> phase("uname-in-sandbox") == TaskPhase.Succeeded,
        () -> describe("veratask", "uname-in-sandbox") + describe("computeresource", "sandbox-1"));
    VeraTaskStatus uname = task("uname-in-sandbox").getStatus();
    assertThat(uname.result.path("exit_code").asInt()).isZero();
    // uname names the container's hostname (its short id) and id the image's root user: the
    // command ran in sandbox-1's container, not in the operator.
    assertThat(uname.result.path("stdout").asText())
        .startsWith("Linux " + id.substring(0, 12) + " ")
        .contains("\nuid=0(root) gid=0(root)");
    System.out.printf(
        "[e2e] Docker example: Provider local-docker Ready (engine %s), sandbox-1 is container"
            + " %s (busybox:latest, network none), uname-in-sandbox in %d ms: %s%n",
        engineVersion,
        id.substring(0, 12),
        uname.result.path("duration_ms").asLong(),
        uname.result.path("stdout").asText().replace('\n', '|'));
  }

  /** IDs of the node engine's containers carrying {@code label}, one a line. */
  private String nodeContainers(String label) {
    return E2e.run(
            Duration.ofSeconds(30),
            "docker",
            "-H",
            "unix://" + dockerSocket,
            "ps",
            "-a",
            "--no-trunc",
            "-q",
            "--filter",
            "label=" + label)
        .ok()
        .output()
        .trim();
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
    assertOperatorHealthy();
  }

  // --------------------------------------------------------------------------------------- GitOps

  @Test
  @Order(6)
  void reapplyingUnchangedManifestsWritesNothingAndReconcilesNothing() throws Exception {
    requireOperator();
    E2e.awaitOr(
        "every task finished",
        Duration.ofSeconds(90),
        () ->
            client.resources(VeraTask.class).inNamespace(NS).list().getItems().stream()
                .allMatch(t -> t.getStatus() != null && t.getStatus().completionTime != null),
        () -> kubectlAllowFailure("get", "veratasks", "-n", NS, "-o", "wide").output());
    if (dockerSocket != null) {
      // The Docker Provider counts sandbox-1 at its first probe after the container exists (one a
      // minute): a real change, not churn, so it must land before the measurement.
      E2e.awaitOr(
          "Provider local-docker's status counting sandbox-1",
          Duration.ofSeconds(90),
          () -> Objects.equals(providerStatus("local-docker").host.resources, 1),
          () -> describe("provider", "local-docker"));
    }
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
    // The CRDs are not re-applied here: crdsAreAcceptedAndEstablished applied them server-side, as
    // docs/install.md upgrades them, and Kubernetes 1.20 stores every server-side apply as a write
    // (a new resourceVersion) even when nothing changed, which would say nothing about Vera.
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
        .withValuesFile(work.resolve(RELEASE + "-values.yaml"))
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
        "[e2e] GitOps re-apply (%d manifests, helm upgrade with the same"
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
    // kubectl re-sends Secrets with stringData as patches that change nothing: those requests are
    // reported; what is stored must not change, and no watch event may follow.
    assertThat(writes1 - writes0).as("write requests while idle").isZero();
    assertThat(sum(delta(events1, events2), "ResourceEvent"))
        .as("watch events after the re-apply")
        .isZero();
    assertOperatorHealthy();
  }

  @Test
  @Order(7)
  void deletingTheDockerComputeResourceRemovesItsContainer() {
    requireOperator();
    org.junit.jupiter.api.Assumptions.assumeTrue(
        dockerSocket != null, "the Docker example is left out on this cluster");
    ComputeResource sandbox = compute("sandbox-1");
    String uid = sandbox.getMetadata().getUid();
    assertThat(sandbox.getMetadata().getFinalizers())
        .as("the container is outside Kubernetes: a finalizer removes it")
        .isNotEmpty();
    assertThat(nodeContainers(ComputeLabels.RESOURCE_UID + "=" + uid)).isNotBlank();
    kubectl("delete", "computeresource", "sandbox-1", "-n", NS, "--wait=false");
    E2e.awaitOr(
        "sandbox-1 and its container gone",
        Duration.ofSeconds(90),
        () ->
            compute("sandbox-1") == null
                && nodeContainers(ComputeLabels.RESOURCE_UID + "=" + uid).isEmpty(),
        () ->
            describe("computeresource", "sandbox-1")
                + nodeContainers(ComputeLabels.RESOURCE_UID + "=" + uid)
                + operatorDiagnostics(RELEASE));
    assertOperatorHealthy();
  }

  @Test
  @Order(8)
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
    assertOperatorHealthy();
  }

  // ----------------------------------------------------------------------------------- REST auth

  @Test
  @Order(9)
  void restCallsAreAuthenticatedAndAuthorizedByTheApiServer() throws Exception {
    requireOperator();
    kubectl("create", "serviceaccount", "e2e-nobody", "-n", NS);
    kubectl("create", "serviceaccount", "e2e-submitter", "-n", NS);
    kubectl(
        "create",
        "rolebinding",
        "e2e-submitter",
        "-n",
        NS,
        "--clusterrole=" + RELEASE + "-vera-operator-submitter",
        "--serviceaccount=" + NS + ":e2e-submitter");
    String nobody = serviceAccountToken("e2e-nobody");
    String submitter = serviceAccountToken("e2e-submitter");
    String submit = "/orchestrator/tasks/submit";
    String sum = "{\"name\": \"compute.sum\", \"payload\": {\"a\": 1, \"b\": 2}}";

    HttpResponse<String> anonymous = post(submit, sum, null);
    assertThat(anonymous.statusCode()).as(anonymous.body()).isEqualTo(401);
    assertThat(anonymous.headers().firstValue("WWW-Authenticate"))
        .hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
    HttpResponse<String> forged = post(submit, sum, "not-a-token");
    assertThat(forged.statusCode()).as(forged.body()).isEqualTo(401);
    HttpResponse<String> denied = post(submit, sum, nobody);
    assertThat(denied.statusCode()).as(denied.body()).isEqualTo(403);
    assertThat(denied.body()).contains("create", "veratasks");
    HttpResponse<String> allowed = post(submit, sum, submitter);
    assertThat(allowed.statusCode()).as(allowed.body()).isEqualTo(200);
    String id = JSON.readTree(allowed.body()).path("task_id").asText();
    assertThat(task(id)).as("the VeraTask of the submitted task").isNotNull();
    // The submitter role reads tasks but holds no 'call' on providers (only the admin role does).
    assertThat(get("/orchestrator/tasks/" + id + "/status", submitter).statusCode()).isEqualTo(200);
    long callsBefore = openAiRequests.stream().filter(r -> r.startsWith("POST")).count();
    HttpResponse<String> call =
        post(
            "/orchestrator/external/execute",
            "{\"provider\": \"openai\", \"prompt\": \"hi\"}",
            submitter);
    assertThat(call.statusCode()).as(call.body()).isEqualTo(403);
    // Refused before the upstream: no call beyond the example task's own.
    assertThat(openAiRequests.stream().filter(r -> r.startsWith("POST")).count())
        .isEqualTo(callsBefore);
    client.resources(VeraTask.class).inNamespace(NS).withName(id).delete();
    assertOperatorHealthy();
  }

  /** A token of the ServiceAccount: `kubectl create token` (1.24+), else its token Secret. */
  private String serviceAccountToken(String account) {
    E2e.Result created = kubectlAllowFailure("create", "token", account, "-n", NS);
    if (created.exitCode() == 0) {
      return created.output().trim();
    }
    String[] token = new String[1];
    E2e.awaitOr(
        "a token Secret of ServiceAccount " + account,
        Duration.ofSeconds(90),
        () -> {
          ServiceAccount sa = client.serviceAccounts().inNamespace(NS).withName(account).get();
          if (sa == null || sa.getSecrets() == null || sa.getSecrets().isEmpty()) {
            return false;
          }
          Secret secret =
              client.secrets().inNamespace(NS).withName(sa.getSecrets().get(0).getName()).get();
          String data =
              secret == null || secret.getData() == null ? null : secret.getData().get("token");
          if (data == null) {
            return false;
          }
          token[0] = new String(Base64.getDecoder().decode(data), StandardCharsets.UTF_8);
          return true;
        },
        () -> describe("serviceaccount", account));
    return token[0];
  }

  // ------------------------------------------------------------------ a Pod ComputeResource

  @Test
  @Order(10)
  void podComputeResourceRunsCommandsThroughTheKubelet() {
    requireOperator();
    StringBuilder box = new StringBuilder();
    box.append("apiVersion: vera.io/v1alpha1\nkind: ComputeResource\nmetadata: {name: pod-box}\n");
    box.append("spec:\n  type: Pod\n  taskType: GENERAL\n");
    box.append("  resources: {cpuCores: 0.1, memoryMb: 128}\n");
    box.append("  pod:\n    image: \"").append(shellImage()).append("\"\n");
    if (hostNetwork) {
      box.append("    hostNetwork: true\n");
    }
    apply(box.toString());
    E2e.awaitOr(
        "ComputeResource pod-box Available",
        POD_READY,
        () -> computePhase("pod-box") == ComputeResourceStatus.Phase.Available,
        () -> describe("computeresource", "pod-box") + machineDiagnostics("pod-box"));
    kubectl("wait", "--for=condition=Ready", "computeresource/pod-box", "-n", NS, "--timeout=30s");
    ComputeResource resource = compute("pod-box");
    Pod pod = machinePod("pod-box");
    String podName = pod.getMetadata().getName();
    assertThat(resource.getStatus().resourceId).isEqualTo("pod-" + podName);
    OwnerReference owner = pod.getMetadata().getOwnerReferences().get(0);
    assertThat(owner.getKind()).isEqualTo("ComputeResource");
    assertThat(owner.getUid()).isEqualTo(resource.getMetadata().getUid());
    assertThat(owner.getController()).isTrue();

    // One command at a time in the resource: output, a failing exit code, and a timeout.
    apply(commandTask("pod-echo", "echo \"$GREETING from $(pwd)\"; echo oops >&2", 60));
    apply(commandTask("pod-exit", "echo partial; echo broken >&2; exit 3", 60));
    // (the shell stays as the parent of sleep, so killing only the command's own PID is not enough)
    apply(commandTask("pod-timeout", "sleep 300; echo never", 5));
    for (String name : List.of("pod-echo", "pod-exit", "pod-timeout")) {
      E2e.awaitOr(
          "VeraTask " + name + " finished",
          Duration.ofSeconds(120),
          () -> task(name).getStatus() != null && task(name).getStatus().completionTime != null,
          () ->
              describe("veratask", name)
                  + describe("computeresource", "pod-box")
                  + operatorDiagnostics(RELEASE));
    }
    VeraTaskStatus echo = task("pod-echo").getStatus();
    assertThat(echo.phase).as(describe("veratask", "pod-echo")).isEqualTo(TaskPhase.Succeeded);
    assertThat(echo.result.path("exit_code").asInt()).isZero();
    assertThat(echo.result.path("stdout").asText()).isEqualTo("hello from /tmp\n");
    assertThat(echo.result.path("stderr").asText()).isEqualTo("oops\n");
    VeraTaskStatus exit = task("pod-exit").getStatus();
    assertThat(exit.phase).as(describe("veratask", "pod-exit")).isEqualTo(TaskPhase.Failed);
    assertThat(exit.error.type).isEqualTo("CommandFailed");
    assertThat(exit.error.message).contains("exit code 3", "broken");
    // A failed task's terminal phase as conditions: Stalled (kstatus) and Succeeded False.
    kubectl("wait", "--for=condition=Stalled", "veratask/pod-exit", "-n", NS, "--timeout=30s");
    assertThat(exit.conditions)
        .anyMatch(
            c ->
                c.getType().equals("Succeeded")
                    && c.getStatus().equals("False")
                    && c.getReason().equals("CommandFailed"));
    VeraTaskStatus timeout = task("pod-timeout").getStatus();
    assertThat(timeout.phase).as(describe("veratask", "pod-timeout")).isEqualTo(TaskPhase.Failed);
    assertThat(timeout.error.type).isEqualTo("Timeout");
    assertThat(
            Duration.between(
                Instant.parse(timeout.startTime), Instant.parse(timeout.completionTime)))
        .as("time from start to the timeout's failure")
        .isLessThan(Duration.ofSeconds(60));
    // Killed in the pod, not left running there.
    E2e.awaitOr(
        "the timed-out 'sleep 300' gone from pod " + podName,
        Duration.ofSeconds(90),
        () -> !kubectl("exec", "-n", NS, podName, "--", "ps").output().contains("sleep 300"),
        () ->
            kubectlAllowFailure("exec", "-n", NS, podName, "--", "ps").output()
                + operatorDiagnostics(RELEASE));
    System.out.printf(
        "[e2e] Pod ComputeResource %s: echo in %d ms, exit 3 reported, 'sleep 300; echo never'"
            + " failed at its 5 s timeout after %d ms and was killed%n",
        podName,
        echo.result.path("duration_ms").asLong(),
        Duration.between(Instant.parse(timeout.startTime), Instant.parse(timeout.completionTime))
            .toMillis());
    assertOperatorHealthy();
  }

  private String shellImage() {
    return System.getProperty(
        "vera.e2e.shellImage", hostNetwork ? "vera.local/busybox:1" : "busybox:1.36");
  }

  private static String commandTask(String name, String command, int timeoutSeconds) {
    return "apiVersion: vera.io/v1alpha1\nkind: VeraTask\nmetadata: {name: "
        + name
        + "}\nspec:\n  resourceRef:\n    name: pod-box\n    command: '"
        + command.replace("'", "''")
        + "'\n    workdir: /tmp\n    env: {GREETING: hello}\n  timeoutSeconds: "
        + timeoutSeconds
        + "\n  retries: {limit: 0}\n";
  }

  // ------------------------------------------------------------------------- garbage collection

  @Test
  @Order(11)
  void theControllerManagerCollectsWhatDeletedResourcesOwned() throws Exception {
    requireOperator();
    // A Pods pool has no finalizer: the operator takes no part in its deletion, and its
    // Deployment, ReplicaSet and worker pods go by their ownerReferences.
    assertThat(pool("tool-pods").getMetadata().getFinalizers()).isEmpty();
    Deployment workers =
        client.apps().deployments().inNamespace(NS).withName("tool-pods-workers").get();
    assertThat(workers).as("tool-pods' Deployment").isNotNull();
    String deploymentUid = workers.getMetadata().getUid();
    assertThat(
            client.pods().inNamespace(NS).withLabel("vera.io/pool", "tool-pods").list().getItems())
        .as("tool-pods' worker pods")
        .isNotEmpty();
    kubectl("delete", "workerpool", "tool-pods", "-n", NS);
    E2e.awaitOr(
        "tool-pods' Deployment, ReplicaSets and pods collected",
        Duration.ofMinutes(3),
        () ->
            client.apps().deployments().inNamespace(NS).withName("tool-pods-workers").get() == null
                && client.apps().replicaSets().inNamespace(NS).list().getItems().stream()
                    .noneMatch(
                        rs ->
                            rs.getMetadata().getOwnerReferences().stream()
                                .anyMatch(o -> o.getUid().equals(deploymentUid)))
                && client
                    .pods()
                    .inNamespace(NS)
                    .withLabel("vera.io/pool", "tool-pods")
                    .list()
                    .getItems()
                    .isEmpty(),
        () -> kubectlAllowFailure("get", "deployments,replicasets,pods", "-n", NS).output());

    // A Pod ComputeResource deleted while the operator is down, its finalizer removed by hand
    // (as an admin does when the operator is gone): only the controller-manager is left to
    // remove its pod, by the ownerReference.
    String podName = machinePod("pod-box").getMetadata().getName();
    String deployment = RELEASE + "-vera-operator";
    kubectl("scale", "deployment", deployment, "-n", NS, "--replicas=0");
    try {
      E2e.awaitOr(
          "no operator pod",
          Duration.ofMinutes(2),
          () -> operatorPods(RELEASE).isEmpty(),
          () -> operatorDiagnostics(RELEASE));
      kubectl("delete", "computeresource", "pod-box", "-n", NS, "--wait=false");
      kubectl(
          "patch",
          "computeresource",
          "pod-box",
          "-n",
          NS,
          "--type=merge",
          "-p",
          "{\"metadata\":{\"finalizers\":null}}");
      E2e.awaitOr(
          "pod " + podName + " collected",
          Duration.ofMinutes(2),
          () -> client.pods().inNamespace(NS).withName(podName).get() == null,
          () -> describe("pod", podName));
      assertThat(compute("pod-box")).isNull();
    } finally {
      kubectl("scale", "deployment", deployment, "-n", NS, "--replicas=1");
      E2e.awaitOr(
          "the operator Ready and leading again",
          POD_READY,
          () -> operatorPod() != null && serving(operatorPod()),
          () -> operatorDiagnostics(RELEASE));
      connectToOperator();
    }
    assertOperatorHealthy();
  }

  // ---------------------------------------------------------------------------- leader election

  @Test
  @Order(12)
  @Timeout(value = 10, unit = TimeUnit.MINUTES)
  void killingTheLeaderHandsOverWithinTheLeaseAndLosesNoTask() throws Exception {
    requireOperator();
    // Two replicas: on a node without a pod network both would bind one loopback port, so the
    // second is a release of its own on another port, electing with the same Lease.
    String leader = operatorPod().getMetadata().getName();
    assertThat(leaseHolder()).isEqualTo(leader);
    installRelease(STANDBY, hostNetwork ? freeLoopbackPort() : 8000);
    try {
      E2e.awaitOr(
          "the standby following " + leader,
          POD_READY,
          () ->
              operatorPods(STANDBY).stream()
                  .anyMatch(
                      p ->
                          kubectlAllowFailure("logs", p.getMetadata().getName(), "-n", NS)
                              .output()
                              .contains("leader is " + leader)),
          () -> operatorDiagnostics(STANDBY));
      // The standby is Ready (it can take over) but unlabelled, so no Service selects it; each
      // release's Service selects its own pods holding the leader label.
      E2e.awaitOr(
          "the standby Ready",
          POD_READY,
          () -> operatorPods(STANDBY).stream().allMatch(ClusterE2eTest::ready),
          () -> operatorDiagnostics(STANDBY));
      E2e.awaitOr(
          "the Services selecting the leader " + leader + " alone",
          Duration.ofSeconds(60),
          () ->
              podsTheServiceSelects(RELEASE).equals(List.of(leader))
                  && podsTheServiceSelects(STANDBY).isEmpty(),
          this::haDiagnostics);
      assertThat(operatorPods(STANDBY)).noneMatch(ClusterE2eTest::labelledLeader);
      // A budget over both replicas, as the chart makes for replicaCount 2: with the standby
      // Ready a drain may evict one of them, the leader included.
      apply(
          "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: e2e-operators}\n"
              + "spec:\n  maxUnavailable: 1\n  selector: {matchLabels:"
              + " {app.kubernetes.io/name: vera-operator}}\n");
      E2e.awaitOr(
          "the budget allowing one eviction of two Ready replicas",
          Duration.ofSeconds(60),
          () -> {
            String status =
                kubectlAllowFailure(
                        "get",
                        "pdb",
                        "e2e-operators",
                        "-n",
                        NS,
                        "-o",
                        "jsonpath={.status.currentHealthy}/{.status.disruptionsAllowed}")
                    .output()
                    .trim();
            return status.equals("2/1");
          },
          () ->
              kubectlAllowFailure("get", "pdb", "e2e-operators", "-n", NS, "-o", "yaml").output());
      kubectl("delete", "pdb", "e2e-operators", "-n", NS);

      int count = 12;
      for (int i = 0; i < count; i++) {
        apply(
            "apiVersion: vera.io/v1alpha1\nkind: VeraTask\nmetadata: {name: ha-"
                + i
                + "}\nspec: {handler: sleep, poolRef: general-embedded, payload: {seconds: 5},"
                + " timeoutSeconds: 120, retries: {limit: 3, backoffSeconds: 1}}\n");
      }
      E2e.awaitOr(
          "a task of the batch running on the leader",
          Duration.ofSeconds(90),
          () -> haTasks().stream().anyMatch(t -> phaseOf(t) == TaskPhase.Running),
          this::haDiagnostics);
      // The leader crashes, and its Deployment is scaled to 0 so that no replacement pod
      // competes: the standby that waited must be the one to take over.
      Instant killed = Instant.now();
      crash(leader);
      kubectl("scale", "deployment", RELEASE + "-vera-operator", "-n", NS, "--replicas=0");
      kubectl("delete", "pod", leader, "-n", NS, "--grace-period=0", "--force");
      E2e.awaitOr(
          "the standby holding the Lease",
          Duration.ofSeconds(90),
          () ->
              operatorPods(STANDBY).stream()
                  .anyMatch(p -> p.getMetadata().getName().equals(leaseHolder())),
          this::haDiagnostics);
      Duration takeover = Duration.between(killed, Instant.now());
      String newLeader = leaseHolder();
      E2e.awaitOr(
          "every task of the batch Succeeded",
          Duration.ofMinutes(4),
          () ->
              haTasks().size() == count
                  && haTasks().stream().allMatch(t -> phaseOf(t) == TaskPhase.Succeeded),
          this::haDiagnostics);
      Duration done = Duration.between(killed, Instant.now());
      long again = haTasks().stream().filter(t -> t.getStatus().attempts > 1).count();
      System.out.printf(
          "[e2e] leader %s killed with %d tasks in flight; the standby %s took over in %d s"
              + " (lease 15 s);"
              + " all %d Succeeded %d s after the kill, %d of them run again%n",
          leader, count, newLeader, takeover.toSeconds(), count, done.toSeconds(), again);
      // The lease lasts 15 s from the dead leader's last renewal; the rest is polling and load.
      assertThat(takeover).as("time to a new Lease holder").isLessThan(Duration.ofSeconds(30));
      E2e.awaitOr(
          "the new leader " + newLeader + " Ready",
          Duration.ofSeconds(60),
          () -> {
            Pod pod = client.pods().inNamespace(NS).withName(newLeader).get();
            return pod != null && ready(pod);
          },
          this::haDiagnostics);
      // It labelled its pod: its Service now selects exactly it, the old leader's nothing.
      E2e.awaitOr(
          "the Service of " + STANDBY + " selecting exactly the new leader " + newLeader,
          Duration.ofSeconds(60),
          () ->
              podsTheServiceSelects(STANDBY).equals(List.of(newLeader))
                  && podsTheServiceSelects(RELEASE).isEmpty(),
          this::haDiagnostics);
    } finally {
      kubectlAllowFailure("delete", "pdb", "e2e-operators", "-n", NS, "--ignore-not-found");
      kubectl("scale", "deployment", RELEASE + "-vera-operator", "-n", NS, "--replicas=1");
      uninstall(STANDBY);
      E2e.awaitOr(
          "an operator of " + RELEASE + " leading and Ready again",
          POD_READY,
          () -> operatorPod() != null && serving(operatorPod()),
          () -> operatorDiagnostics(RELEASE));
      connectToOperator();
    }
  }

  /**
   * On the local node, SIGKILL to the pod's containers: a crash, not a shutdown, so the process
   * gets no chance to release the Lease. Elsewhere the forced delete that follows must do.
   */
  private void crash(String pod) {
    if (hostNetwork) {
      E2e.run(
              Duration.ofSeconds(60),
              "bash",
              "-c",
              "ids=$(docker -H \"$0\" ps -q --filter label=io.kubernetes.pod.name=\"$1\");"
                  + " [ -n \"$ids\" ] && docker -H \"$0\" kill $ids",
              "unix://" + nodeSocket(),
              pod)
          .ok();
    }
  }

  private List<VeraTask> haTasks() {
    return client.resources(VeraTask.class).inNamespace(NS).list().getItems().stream()
        .filter(t -> t.getMetadata().getName().startsWith("ha-"))
        .toList();
  }

  private static TaskPhase phaseOf(VeraTask task) {
    return task.getStatus() == null ? null : task.getStatus().phase;
  }

  private String haDiagnostics() {
    return "Lease holder: "
        + leaseHolder()
        + "\nPods the Services select: "
        + RELEASE
        + "="
        + podsTheServiceSelects(RELEASE)
        + " "
        + STANDBY
        + "="
        + podsTheServiceSelects(STANDBY)
        + "\n"
        + kubectlAllowFailure("get", "pods", "-n", NS, "-L", "vera.io/leader", "-o", "wide")
            .output()
        + kubectlAllowFailure("get", "veratasks", "-n", NS, "-o", "wide").output()
        + operatorDiagnostics(RELEASE)
        + operatorDiagnostics(STANDBY);
  }

  /**
   * The pods a release's Service selects, Ready or not: the leader's alone when the label is right.
   * Read from the Service's selector rather than its Endpoints, because on this loopback cluster
   * every pod's address is 127.0.0.1, which the API server refuses in an Endpoints object, so the
   * endpoints controller can list none.
   */
  private List<String> podsTheServiceSelects(String release) {
    Service service = client.services().inNamespace(NS).withName(release + "-vera-operator").get();
    List<String> pods = new ArrayList<>();
    if (service != null && service.getSpec().getSelector() != null) {
      client
          .pods()
          .inNamespace(NS)
          .withLabels(service.getSpec().getSelector())
          .list()
          .getItems()
          .stream()
          .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
          .forEach(p -> pods.add(p.getMetadata().getName()));
    }
    return pods;
  }

  /** The pod carries the label the chart's Service selects the leader by. */
  private static boolean labelledLeader(Pod pod) {
    return "vera-operator-leader".equals(pod.getMetadata().getLabels().get("vera.io/leader"));
  }

  /** Ready, and the leader the Service selects (a Ready pod may be a standby). */
  private boolean serving(Pod pod) {
    return ready(pod) && labelledLeader(pod) && pod.getMetadata().getName().equals(leaseHolder());
  }

  private String leaseHolder() {
    Lease lease =
        client.resources(Lease.class).inNamespace(NS).withName("vera-operator-leader").get();
    return lease == null || lease.getSpec() == null ? null : lease.getSpec().getHolderIdentity();
  }

  private ComputeResource compute(String name) {
    return client.resources(ComputeResource.class).inNamespace(NS).withName(name).get();
  }

  private String computeReady(String name) {
    ComputeResource resource = compute(name);
    return resource == null || resource.getStatus() == null
        ? null
        : resource.getStatus().conditions.stream()
            .filter(c -> c.getType().equals("Ready"))
            .map(c -> c.getStatus())
            .findFirst()
            .orElse(null);
  }

  private ComputeResourceStatus.Phase computePhase(String name) {
    ComputeResource resource = compute(name);
    return resource == null || resource.getStatus() == null ? null : resource.getStatus().phase;
  }

  /** The pod a Pod ComputeResource runs in. */
  private Pod machinePod(String resource) {
    return client
        .pods()
        .inNamespace(NS)
        .withLabel(ComputeLabels.RESOURCE_NAME, resource)
        .list()
        .getItems()
        .stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .findFirst()
        .orElseThrow(() -> new AssertionError("no pod of ComputeResource " + resource));
  }

  private String machineDiagnostics(String resource) {
    StringBuilder out = new StringBuilder();
    for (Pod pod :
        client
            .pods()
            .inNamespace(NS)
            .withLabel(ComputeLabels.RESOURCE_NAME, resource)
            .list()
            .getItems()) {
      out.append(describe("pod", pod.getMetadata().getName()));
    }
    return out + operatorDiagnostics(RELEASE);
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
      if (leftOut.contains(kind + "/" + doc.path("metadata").path("name").asText())) {
        continue;
      }
      if (kind.equals("Provider") && spec.path("type").asText().equals("OpenAI")) {
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

  /**
   * Notes the example objects this cluster cannot serve, by kind/name: Providers whose upstream the
   * operator cannot reach here (the OpenAI double on this machine's loopback, out of reach of pods
   * with a network of their own; a Docker engine where the test knows none on the node), and the
   * ComputeResources and VeraTasks that name them. They are left out rather than pointed at a real
   * API or left Pending.
   */
  private void leaveOut(List<Path> examples) throws IOException {
    List<JsonNode> docs = new ArrayList<>();
    for (Path example : examples) {
      for (JsonNode doc :
          YAML.readerFor(JsonNode.class)
              .<JsonNode>readValues(Files.readString(example))
              .readAll()) {
        if (doc != null && doc.has("kind")) {
          docs.add(doc);
        }
      }
    }
    for (JsonNode doc : docs) {
      String type = doc.path("spec").path("type").asText();
      if (doc.path("kind").asText().equals("Provider")
          && (type.equals("OpenAI") && openAi == null
              || type.equals("Docker") && dockerSocket == null)) {
        leftOut.add("Provider/" + doc.path("metadata").path("name").asText());
      }
    }
    for (JsonNode doc : docs) {
      if (doc.path("kind").asText().equals("ComputeResource")
          && leftOut.contains("Provider/" + doc.path("spec").path("providerRef").asText())) {
        leftOut.add("ComputeResource/" + doc.path("metadata").path("name").asText());
      }
    }
    for (JsonNode doc : docs) {
      JsonNode spec = doc.path("spec");
      if (doc.path("kind").asText().equals("VeraTask")
          && (leftOut.contains("Provider/" + spec.path("providerRef").path("name").asText())
              || leftOut.contains(
                  "ComputeResource/" + spec.path("resourceRef").path("name").asText()))) {
        leftOut.add("VeraTask/" + doc.path("metadata").path("name").asText());
      }
    }
    if (!leftOut.isEmpty()) {
      System.out.println("[e2e] examples left out on this cluster: " + leftOut);
    }
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
            String body =
                request.getUrl().encodedPath().endsWith("/chat/completions")
                    ? "{\"id\":\"chatcmpl-e2e\",\"object\":\"chat.completion\",\"created\":1764230400,"
                        + "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,"
                        + "\"message\":{\"role\":\"assistant\",\"content\":\"Urgent work goes first.\"},"
                        + "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":21,"
                        + "\"completion_tokens\":5,\"total_tokens\":26}}"
                    : "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o-mini\",\"object\":\"model\"}]}";
            return new MockResponse.Builder()
                .code(200)
                .addHeader("Content-Type", "application/json")
                .body(body)
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
    return operatorPods(RELEASE).stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .findFirst()
        .orElse(null);
  }

  /** The operator pods of a release, terminating ones included. */
  private List<Pod> operatorPods(String release) {
    return client
        .pods()
        .inNamespace(NS)
        .withLabel("app.kubernetes.io/instance", release)
        .withLabel("app.kubernetes.io/name", "vera-operator")
        .list()
        .getItems();
  }

  /**
   * The operator never restarted and was never refused by the API server: a permission missing from
   * the chart's RBAC shows up here even where the operator only logs it and retries.
   */
  private void assertOperatorHealthy() {
    for (Pod pod : operatorPods(RELEASE)) {
      String name = pod.getMetadata().getName();
      int restarts =
          pod.getStatus().getContainerStatuses().stream()
              .mapToInt(c -> c.getRestartCount() == null ? 0 : c.getRestartCount())
              .sum();
      String logs = kubectlAllowFailure("logs", name, "-n", NS).output();
      assertThat(restarts)
          .as(
              "restarts of %s; its previous run logged:%n%s",
              name, tail(kubectlAllowFailure("logs", name, "-n", NS, "--previous").output(), 60))
          .isZero();
      // The API server's words for an RBAC refusal (REST denials the operator logs differ).
      assertThat(logs.lines().filter(l -> l.contains("is forbidden: User")).toList())
          .as("API requests the chart's RBAC refused to %s", name)
          .isEmpty();
    }
  }

  private static String tail(String text, int lines) {
    List<String> all = text.lines().toList();
    return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
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

  private String operatorDiagnostics(String release) {
    StringBuilder out = new StringBuilder();
    out.append(
        kubectlAllowFailure("get", "pods,deployments,events", "-n", NS, "-o", "wide").output());
    for (Pod pod : operatorPods(release)) {
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
    return get(path, null);
  }

  private HttpResponse<String> get(String path, String token) {
    return send(HttpRequest.newBuilder(URI.create(operatorUrl + path)).GET(), token);
  }

  private HttpResponse<String> post(String path, String json, String token) {
    return send(
        HttpRequest.newBuilder(URI.create(operatorUrl + path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json)),
        token);
  }

  private HttpResponse<String> send(HttpRequest.Builder request, String token) {
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    try {
      return http.send(
          request.timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
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
