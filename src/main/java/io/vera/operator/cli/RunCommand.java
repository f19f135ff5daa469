package io.vera.operator.cli;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.app.ClusterSettings;
import io.vera.operator.app.LeaderPodLabel;
import io.vera.operator.app.OperatorSettings;
import io.vera.operator.app.VeraOperator;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.HostProbe;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.compute.docker.DockerHost;
import io.vera.operator.embedded.EmbeddedApiServer;
import io.vera.operator.embedded.KubeconfigWriter;
import io.vera.operator.facade.auth.RestGuard;
import io.vera.operator.facade.legacy.LegacyInfrastructure;
import io.vera.operator.facade.legacy.LegacyPools;
import io.vera.operator.kube.TolerantReads;
import io.vera.operator.provider.pricing.PricingConfigMap;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * Runs the operator. With a cluster (kubeconfig or in-cluster service account) it reconciles there;
 * with none, or with {@code --embedded}, it first starts an in-process API server and writes a
 * kubeconfig for kubectl.
 */
@Command(
    name = "run",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Runs the operator and its REST API (the default command).",
      "With no cluster configured, or with --embedded, it starts an in-process Kubernetes API, creates"
          + " one Embedded WorkerPool per task type and writes a kubeconfig for kubectl."
    })
public class RunCommand implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(RunCommand.class);

  @Option(
      names = "--port",
      defaultValue = "8000",
      description = "REST API port (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(
      names = "--host",
      description = "Address the REST API binds; 127.0.0.1 in embedded mode, 0.0.0.0 otherwise.")
  String host;

  @Option(
      names = "--embedded",
      description = "Start an in-process API server even if a cluster is configured.")
  boolean embedded;

  @Option(
      names = "--api-port",
      defaultValue = "0",
      description = "Port of the embedded API server; 0 picks a free one.")
  int apiPort;

  @Option(
      names = "--state-dir",
      description =
          "Where embedded mode keeps its objects (a SQLite database); one operator at a time"
              + " (default: ~/.vera/state).")
  Path stateDir;

  @Option(
      names = "--ephemeral",
      description = "Embedded mode keeps its objects in memory only: all is lost when it stops.")
  boolean ephemeral;

  @Option(
      names = "--state-sync",
      defaultValue = "normal",
      description =
          "normal: a write is answered once committed, which survives the operator being killed;"
              + " full: also synced to the disk on every commit, which survives a power loss"
              + " (default: ${DEFAULT-VALUE}). See docs/embedded-mode.md.")
  StateSync stateSync;

  /** How embedded mode's commits reach the disk. */
  enum StateSync {
    normal,
    full
  }

  @Option(
      names = "--kubeconfig-out",
      description = "Where embedded mode writes its kubeconfig (default: ~/.vera/kubeconfig).")
  Path kubeconfigOut;

  @Option(
      names = "--namespace",
      description =
          "Namespace of REST-submitted tasks and legacy pools (default: the client's namespace, or 'default').")
  String namespace;

  @Option(
      names = "--watch-namespace",
      description = "Namespace to watch; repeat for several. Default: all namespaces.")
  List<String> watchNamespaces = new ArrayList<>();

  @Option(
      names = "--rest-task-ttl",
      defaultValue = "3600",
      description = "ttlSecondsAfterFinished of REST-submitted tasks (default: ${DEFAULT-VALUE}).")
  int restTaskTtl;

  @Option(
      names = "--default-cpu-threshold",
      defaultValue = "75",
      description =
          "CPU gate (percent) of the default pools created at an embedded first start; 100 turns it"
              + " off (default: ${DEFAULT-VALUE}).")
  double defaultCpuThreshold;

  @Option(
      names = "--max-result-bytes",
      defaultValue = "262144",
      description = "Largest task result kept, as JSON bytes (default: ${DEFAULT-VALUE}).")
  int maxResultBytes;

  @Option(
      names = "--legacy-pool-runtime",
      description =
          "Runtime of pools created by POST /orchestrator/initialize: Pods or Embedded (default: Embedded in embedded mode, Pods otherwise).")
  WorkerPoolSpec.Runtime legacyPoolRuntime;

  @Option(
      names = "--worker-image",
      defaultValue = "vera-operator:latest",
      description = "Worker pod image when a pool names none (default: ${DEFAULT-VALUE}).")
  String workerImage;

  @Option(
      names = "--operator-url",
      description =
          "URL worker pods use to reach this operator (default: http://vera-operator.<namespace>.svc:<port>).")
  String operatorUrl;

  /**
   * Each status write waits for the API server's answer, and embedded workers pause while finished
   * tasks wait for theirs, so throughput is at most writers / round trip: against the embedded API
   * server run as a separate process (round trips of 0.3-0.5 s on the loaded development machine) 4
   * writers gave 6.6 tasks/s, 16 gave 37.6 and 32 gave 22.7 (raw life cycles in the same rounds:
   * 18.9, 36.2 and 30.5). Idle writer threads cost nothing but their stacks.
   */
  @Option(
      names = "--status-writers",
      defaultValue = "16",
      description =
          "Threads writing task status, each waiting for the API server's answer (default:"
              + " ${DEFAULT-VALUE}).")
  int statusWriters;

  @Option(
      names = "--insecure-disable-auth",
      description =
          "In a cluster, serve REST without authentication or authorization (logged as a warning)."
              + " Embedded mode never authenticates.")
  boolean insecureDisableAuth;

  @Option(
      names = "--leader-election",
      negatable = true,
      description =
          "Elect a leader with a Lease so several replicas can run (default: on in a cluster, off"
              + " in embedded mode).")
  Boolean leaderElection;

  @Option(
      names = "--leader-election-lease-name",
      defaultValue = ClusterSettings.LeaderElection.DEFAULT_LEASE_NAME,
      description = "Name of the leader election Lease (default: ${DEFAULT-VALUE}).")
  String leaseName;

  @Option(
      names = "--leader-election-namespace",
      description = "Namespace of the leader election Lease (default: --namespace).")
  String leaseNamespace;

  @Option(
      names = "--leader-pod",
      paramLabel = "NAMESPACE/NAME",
      converter = PodRefConverter.class,
      description =
          "This replica's pod: labelled vera.io/leader=<Lease name> while it leads, so a Service"
              + " selecting that label reaches the leader alone, and standbys report Ready (the"
              + " chart passes $(POD_NAMESPACE)/$(HOSTNAME) from the downward API). Needs patch and list on pods.")
  ClusterSettings.PodRef leaderPod;

  /** Rejects a malformed {@code --leader-pod} as a usage error. */
  static final class PodRefConverter implements ITypeConverter<ClusterSettings.PodRef> {
    @Override
    public ClusterSettings.PodRef convert(String value) {
      try {
        return ClusterSettings.PodRef.parse(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }

  @Option(
      names = "--worker-service-account",
      description =
          "ServiceAccount of worker pods whose pool names none; it needs the 'lease' verb on"
              + " workerpools (default: the namespace's default ServiceAccount).")
  String workerServiceAccount;

  @Option(
      names = "--pricing-configmap",
      description =
          "ConfigMap of model prices over the built-in table, <namespace>/<name> or a name in"
              + " --namespace; watched, key models.yaml (default: "
              + PricingConfigMap.DEFAULT_NAME
              + ").")
  String pricingConfigMap;

  @Option(
      names = "--instance-id",
      converter = InstanceIdConverter.class,
      description =
          "Id written on every container, VM and pod this installation makes; only machines with"
              + " it are adopted or removed as orphans. Lower-case letters, digits and dashes, at"
              + " most 63. Default: the UID of the --namespace Namespace object.")
  InstanceId instanceId;

  /** Rejects a malformed {@code --instance-id} as a usage error, with the rule it breaks. */
  static final class InstanceIdConverter implements ITypeConverter<InstanceId> {
    @Override
    public InstanceId convert(String value) {
      try {
        return new InstanceId(value);
      } catch (IllegalArgumentException e) {
        throw new TypeConversionException(e.getMessage());
      }
    }
  }

  @Override
  public Integer call() throws Exception {
    if (!(defaultCpuThreshold >= 0 && defaultCpuThreshold <= 100)) {
      System.err.println("vera: --default-cpu-threshold must be between 0 and 100");
      return 2;
    }
    if (leaderPod != null) {
      try {
        LeaderPodLabel.requireLabelValue(leaseName);
      } catch (IllegalArgumentException e) {
        System.err.println("vera: " + e.getMessage());
        return 2;
      }
    }
    boolean useEmbedded = embedded || !ClusterDetection.clusterConfigured();
    EmbeddedApiServer apiServer = null;
    KubernetesClient client;
    if (useEmbedded) {
      if (ephemeral) {
        apiServer = EmbeddedApiServer.start(apiPort);
      } else {
        Path state =
            stateDir != null
                ? stateDir
                : Path.of(System.getProperty("user.home"), ".vera", "state");
        try {
          apiServer = EmbeddedApiServer.startDurable(apiPort, state, stateSync == StateSync.full);
        } catch (IllegalStateException e) {
          System.err.println("vera: " + e.getMessage());
          return 2;
        }
        LOG.info("embedded state in {}", apiServer.stateDirectory().orElseThrow());
      }
      apiServer.installCrds();
      client = apiServer.client();
    } else {
      client =
          new KubernetesClientBuilder()
              .withHttpClientFactory(new JdkHttpClientFactory())
              .withKubernetesSerialization(TolerantReads.serialization())
              .withConfig(ClusterClientConfig.load())
              .build();
      LOG.warn(
          "cluster mode: attached to {}; REST API on {}:{}; reconciling {}. To try Vera out"
              + " locally instead, run with --embedded",
          ClusterDetection.describe(client.getConfiguration()),
          host != null ? host : "0.0.0.0",
          port,
          watchNamespaces.isEmpty() ? "every namespace" : "namespaces " + watchNamespaces);
    }
    String ns =
        namespace != null
            ? namespace
            : client.getNamespace() != null ? client.getNamespace() : "default";
    OperatorSettings settings =
        new OperatorSettings(
            host != null ? host : useEmbedded ? "127.0.0.1" : "0.0.0.0",
            port,
            ns,
            new LinkedHashSet<>(watchNamespaces),
            restTaskTtl,
            maxResultBytes,
            legacyPoolRuntime != null
                ? legacyPoolRuntime
                : useEmbedded ? WorkerPoolSpec.Runtime.Embedded : WorkerPoolSpec.Runtime.Pods,
            workerImage,
            operatorUrl != null ? operatorUrl : "http://vera-operator." + ns + ".svc:" + port,
            statusWriters,
            pricingConfigMap,
            instanceId != null || !useEmbedded
                ? instanceId
                : new InstanceId(apiServer.installationId()));
    VeraOperator operator =
        new VeraOperator(client, settings, clusterSettings(useEmbedded, ns)).start(settings);
    CountDownLatch stopped = new CountDownLatch(1);
    EmbeddedApiServer embeddedServer = apiServer;
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  LOG.info("stopping");
                  operator.close();
                  client.close();
                  if (embeddedServer != null) {
                    embeddedServer.close();
                  }
                  stopped.countDown();
                },
                "shutdown"));
    if (useEmbedded) {
      LegacyPools pools = new LegacyPools(client, ns, WorkerPoolSpec.Runtime.Embedded);
      if (pools.list().isEmpty()) {
        pools.initialize(LegacyPools.DEFAULT_SIZES, defaultCpuThreshold);
      }
      registerLocalDocker(client, ns, operator.instanceId());
      Path kubeconfig =
          kubeconfigOut != null
              ? kubeconfigOut
              : Path.of(System.getProperty("user.home"), ".vera", "kubeconfig");
      Files.createDirectories(kubeconfig.toAbsolutePath().getParent());
      KubeconfigWriter.write(kubeconfig, apiServer.url(), ns);
      printEmbeddedUsage(settings, operator.port(), kubeconfig, apiServer);
    }
    stopped.await();
    return 0;
  }

  /**
   * Registers the local Docker engine as the legacy infrastructure's Docker Provider when it
   * answers, so provisioning works with no initialize call; an engine that is not there is fine.
   */
  private static void registerLocalDocker(
      KubernetesClient client, String namespace, InstanceId instance) {
    LegacyInfrastructure infrastructure = new LegacyInfrastructure(client, namespace);
    if (infrastructure.provider(ComputeResourceSpec.Type.Docker).isPresent()) {
      return;
    }
    try (DockerHost local =
        DockerHost.connect(
            LegacyInfrastructure.DEFAULT_DOCKER_HOST, null, Duration.ofSeconds(3), instance)) {
      HostProbe probe = local.probe();
      infrastructure.configureDocker(LegacyInfrastructure.DEFAULT_DOCKER_HOST, 10, null);
      LOG.info(
          "registered the local Docker engine {} as Provider {}",
          probe.version(),
          LegacyInfrastructure.DOCKER);
    } catch (ComputeException e) {
      LOG.info(
          "no local Docker engine answers ({}); Docker resources need POST /orchestrator/infrastructure/initialize",
          e.getMessage());
    }
  }

  private ClusterSettings clusterSettings(boolean useEmbedded, String ns) {
    RestGuard.Settings auth;
    if (useEmbedded) {
      auth = RestGuard.Settings.off();
    } else if (insecureDisableAuth) {
      LOG.warn("******************************************************************************");
      LOG.warn("* --insecure-disable-auth: the REST API authenticates NO ONE. Anyone who can  *");
      LOG.warn("* reach its port may submit tasks, call providers and exec in resources.     *");
      LOG.warn("******************************************************************************");
      auth = RestGuard.Settings.off();
    } else {
      auth = RestGuard.Settings.on();
    }
    boolean elect = leaderElection != null ? leaderElection : !useEmbedded;
    ClusterSettings.LeaderElection election =
        elect
            ? ClusterSettings.LeaderElection.enabled(
                    leaseName, leaseNamespace != null ? leaseNamespace : ns)
                .withPod(leaderPod)
            : ClusterSettings.LeaderElection.disabled();
    return new ClusterSettings(auth, election, workerServiceAccount);
  }

  private static void printEmbeddedUsage(
      OperatorSettings settings, int port, Path kubeconfig, EmbeddedApiServer apiServer) {
    String api = "http://" + settings.host() + ":" + port;
    System.out.println();
    System.out.println("Vera is running in embedded mode (no cluster needed).");
    System.out.println();
    System.out.println(
        "  REST API:   "
            + api
            + "/orchestrator   (docs: "
            + api
            + "/docs, metrics: "
            + api
            + "/metrics)");
    System.out.println(
        "  Submit:     curl -s -X POST "
            + api
            + "/orchestrator/tasks/submit -H 'Content-Type: application/json' \\");
    System.out.println(
        "                -d '{\"name\": \"compute.sum\", \"payload\": {\"a\": 10, \"b\": 20}}'");
    System.out.println(
        "  Watch:      websocat ws://" + settings.host() + ":" + port + "/orchestrator/ws/updates");
    System.out.println("  kubectl:    export KUBECONFIG=" + kubeconfig.toAbsolutePath());
    System.out.println("              kubectl get vera");
    System.out.println("              kubectl apply -f examples/");
    System.out.println(
        "  State:      "
            + apiServer
                .stateDirectory()
                .map(
                    dir ->
                        dir + "   (kept across restarts; stop Vera and delete it to start afresh)")
                .orElse("in memory only (--ephemeral): lost when Vera stops"));
    System.out.println();
  }
}
