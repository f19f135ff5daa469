package io.vera.operator.app;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.RequestConfig;
import io.fabric8.kubernetes.client.RequestConfigBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.ControllerConfigurationOverrider;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import io.javaoperatorsdk.operator.monitoring.micrometer.MicrometerMetrics;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.Provider;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.compute.ComputeHostProber;
import io.vera.operator.compute.ComputeHosts;
import io.vera.operator.compute.ComputeResourceReconciler;
import io.vera.operator.compute.ComputeService;
import io.vera.operator.compute.ComputeUsage;
import io.vera.operator.compute.DefaultComputeHostFactory;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.compute.MachineCache;
import io.vera.operator.compute.OrphanSweep;
import io.vera.operator.compute.ResourceAutoscaler;
import io.vera.operator.compute.ResourceTaskWorkers;
import io.vera.operator.compute.pod.PodHost;
import io.vera.operator.facade.FacadeServer;
import io.vera.operator.facade.auth.RestGuard;
import io.vera.operator.facade.legacy.LegacyInfrastructure;
import io.vera.operator.facade.legacy.LegacyPools;
import io.vera.operator.facade.legacy.LegacyProviders;
import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.kube.DeletionAwareItemStore;
import io.vera.operator.kube.EventRecorder;
import io.vera.operator.kube.UnreadableObjects;
import io.vera.operator.pool.CpuSampler;
import io.vera.operator.pool.WorkerPoolReconciler;
import io.vera.operator.provider.DefaultProviderClientFactory;
import io.vera.operator.provider.ProviderGateway;
import io.vera.operator.provider.ProviderReadiness;
import io.vera.operator.provider.ProviderReconciler;
import io.vera.operator.provider.ProviderTaskWorkers;
import io.vera.operator.provider.SecretCredentials;
import io.vera.operator.provider.UsageLedger;
import io.vera.operator.provider.WhisperTranscribe;
import io.vera.operator.provider.pricing.PricingConfigMap;
import io.vera.operator.retry.Sleeper;
import io.vera.operator.task.FinishedTaskLabels;
import io.vera.operator.task.FinishedTasks;
import io.vera.operator.task.TaskDispatcher;
import io.vera.operator.task.TaskEventRecorder;
import io.vera.operator.task.TaskKey;
import io.vera.operator.task.TaskMetrics;
import io.vera.operator.task.TaskService;
import io.vera.operator.task.TaskStatusWriter;
import io.vera.operator.task.TaskTtlCleaner;
import io.vera.operator.task.VeraTaskReconciler;
import io.vera.operator.worker.EmbeddedWorkers;
import io.vera.operator.worker.RemoteWorkers;
import io.vera.operator.worker.TaskRunner;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole operator in one process: reconcilers, dispatcher, workers and the REST facade, wired
 * together against one Kubernetes client. Closing it stops everything in reverse order.
 */
public final class VeraOperator implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(VeraOperator.class);
  private static final Duration STATUS_FLUSH_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration STATUS_COALESCE_WINDOW = Duration.ofMillis(50);
  private static final int REST_REQUEST_RETRIES = 1;
  private static final Duration REST_REQUEST_TIMEOUT = Duration.ofSeconds(10);

  /** The heap the cache of finished tasks read back from the API server may take. */
  private static final long FINISHED_TASK_CACHE_BYTES = 16L << 20;

  /** Objects per page of an informer's initial list, so a restart never lists all at once. */
  private static final long INFORMER_LIST_LIMIT = 500;

  private final PrometheusMeterRegistry metrics =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final TaskStatusWriter statusWriter;
  private final TaskDispatcher dispatcher;
  private final CpuSampler cpu = new CpuSampler();
  private final EventRecorder events;
  private final UnreadableObjects unreadable;
  private final EmbeddedWorkers embeddedWorkers;
  private final TaskTtlCleaner ttlCleaner;
  private final Operator operator;
  private final FacadeServer facade;
  private final ComputeHosts computeHosts;
  private final OrphanSweep orphanSweep;
  private final ResourceTaskWorkers resourceWorkers;
  private final ProviderTaskWorkers providerWorkers;
  private final ResourceAutoscaler resourceAutoscaler;
  private final PricingConfigMap pricing;
  private final AtomicBoolean leading = new AtomicBoolean();
  private final LeaderPodLabel leaderPod;
  private final InstanceId instanceId;
  private final DeletionAwareItemStore<VeraTask> taskCache;

  public VeraOperator(KubernetesClient client, OperatorSettings settings) {
    this(client, settings, ClusterSettings.embedded());
  }

  /**
   * @param cluster REST authentication, leader election and the worker ServiceAccount; {@link
   *     ClusterSettings#embedded()} turns them off
   */
  public VeraOperator(KubernetesClient client, OperatorSettings settings, ClusterSettings cluster) {
    leading.set(!cluster.leaderElection().enabled());
    Clock clock = Clock.systemUTC();
    UsageLedger usage = new UsageLedger(clock);
    ProviderGateway gateway = new ProviderGateway(usage, metrics, clock);
    HandlerRegistry handlers = HandlerRegistry.loadDefault().with(new WhisperTranscribe(gateway));
    new JvmMemoryMetrics().bindTo(metrics);
    new JvmGcMetrics().bindTo(metrics);
    new JvmThreadMetrics().bindTo(metrics);
    new ProcessorMetrics().bindTo(metrics);
    Gauge.builder("vera.leader", leading, l -> l.get() ? 1 : 0)
        .description("1 while this replica holds the leader Lease (or runs without election)")
        .register(metrics);

    statusWriter =
        new TaskStatusWriter(client, settings.statusWriterThreads(), STATUS_COALESCE_WINDOW);
    dispatcher =
        new TaskDispatcher(
            handlers,
            statusWriter,
            new TaskDispatcher.Settings(settings.maxResultBytes(), 300, 3, Duration.ofSeconds(10)),
            clock);
    statusWriter.attach(dispatcher);
    events = new EventRecorder(client);
    unreadable = new UnreadableObjects(client, events);
    dispatcher.addListener(new TaskEventRecorder(events));
    dispatcher.addListener(new TaskMetrics(metrics, dispatcher));
    embeddedWorkers =
        new EmbeddedWorkers(
            dispatcher, new TaskRunner(handlers), cpu, statusWriter::unwrittenFinals);
    RemoteWorkers remoteWorkers = new RemoteWorkers(clock);

    ClusterSettings.LeaderElection elect = cluster.leaderElection();
    leaderPod =
        elect.enabled() && elect.pod() != null
            ? new LeaderPodLabel(
                client, elect.pod(), elect.leaseName(), leading::get, Sleeper.SYSTEM)
            : null;
    LeaderElectionConfiguration election = leaderElection(elect, settings.namespace());
    operator =
        new Operator(
            o ->
                o.withKubernetesClient(client)
                    .withCloseClientOnStop(false)
                    .withUseSSAToPatchPrimaryResource(false)
                    .withSSABasedCreateUpdateMatchForDependentResources(false)
                    .withMetrics(MicrometerMetrics.withoutPerResourceMetrics(metrics))
                    .withLeaderElectionConfiguration(election));
    KubernetesClient restClient = restClient(client);
    FinishedTasks finishedTasks =
        new FinishedTasks(restClient, dispatcher, FINISHED_TASK_CACHE_BYTES);
    ttlCleaner =
        new TaskTtlCleaner(
            client, settings.watchNamespaces(), clock, leading::get, finishedTasks::forget);
    statusWriter.onMarkedFinished(ttlCleaner::markedFinished);
    statusWriter.onMarkedFinished(finishedTasks::markedFinished);
    VeraTaskReconciler taskReconciler = new VeraTaskReconciler(dispatcher);
    taskCache =
        new DeletionAwareItemStore<>(
            t ->
                dispatcher.forget(
                    new TaskKey(t.getMetadata().getNamespace(), t.getMetadata().getName()),
                    t.getMetadata().getUid()));
    operator.register(
        taskReconciler,
        (ControllerConfigurationOverrider<VeraTask> o) -> {
          watch(o, settings);
          // Finished tasks leave the cache: memory grows with the tasks in flight, not history.
          o.withLabelSelector(FinishedTaskLabels.UNFINISHED_SELECTOR);
          o.withInformerListLimit(INFORMER_LIST_LIMIT);
          // A task submitted over REST is tracked before the informer sees it: skip that reconcile.
          o.withOnAddFilter(task -> !dispatcher.tracks(task));
          o.withItemStore(taskCache);
        });
    WorkerPoolReconciler poolReconciler =
        new WorkerPoolReconciler(
            dispatcher,
            embeddedWorkers,
            remoteWorkers,
            handlers,
            client,
            events,
            settings.workerImage(),
            settings.operatorUrl(),
            cluster.workerServiceAccount(),
            clock);
    operator.register(
        poolReconciler,
        (ControllerConfigurationOverrider<WorkerPool> o) -> {
          watch(o, settings);
          o.withItemStore(new DeletionAwareItemStore<WorkerPool>(poolReconciler::poolDeleted));
        });

    instanceId = InstanceId.resolve(client, settings.namespace(), settings.instanceId());
    computeHosts =
        new ComputeHosts(
            client,
            new SecretCredentials(client),
            new DefaultComputeHostFactory(instanceId),
            namespace -> new PodHost(client, namespace, clock, instanceId));
    ComputeUsage computeUsage = new ComputeUsage(clock);
    MachineCache machines = new MachineCache();
    ComputeService compute =
        new ComputeService(client, computeHosts, computeUsage, machines, clock);
    resourceWorkers =
        new ResourceTaskWorkers(dispatcher, compute, settings.maxResultBytes(), clock);
    ComputeResourceReconciler computeReconciler =
        new ComputeResourceReconciler(
            computeHosts, computeUsage, machines, resourceWorkers, client, events, clock);
    operator.register(
        computeReconciler,
        (ControllerConfigurationOverrider<ComputeResource> o) -> watch(o, settings));
    orphanSweep = new OrphanSweep(compute, settings.watchNamespaces(), leading::get);
    resourceAutoscaler =
        new ResourceAutoscaler(
            dispatcher, compute, client, leading::get, settings.watchNamespaces(), events);

    providerWorkers = new ProviderTaskWorkers(dispatcher, gateway, clock);
    pricing =
        new PricingConfigMap(
            client,
            PricingConfigMap.Ref.parse(settings.pricingConfigMap(), settings.namespace()),
            events);
    ProviderReconciler providerReconciler =
        new ProviderReconciler(
            new DefaultProviderClientFactory(pricing.table()),
            new ComputeHostProber(computeHosts, client),
            new SecretCredentials(client),
            gateway,
            usage,
            events,
            providerWorkers,
            clock,
            new ProviderReadiness(metrics));
    operator.register(
        providerReconciler,
        (ControllerConfigurationOverrider<Provider> o) -> {
          watch(o, settings);
          o.withItemStore(
              new DeletionAwareItemStore<Provider>(providerReconciler::providerDeleted));
        });

    TaskService tasks =
        new TaskService(
            restClient,
            dispatcher,
            settings.namespace(),
            settings.restTaskTtlSeconds(),
            finishedTasks);
    tasks.answerFromStore(statusWriter);
    LegacyPools pools =
        new LegacyPools(restClient, settings.namespace(), settings.legacyPoolRuntime());
    facade =
        new FacadeServer(
            new FacadeServer.Services(
                tasks,
                dispatcher,
                dispatcher,
                pools,
                handlers,
                remoteWorkers,
                cpu,
                metrics,
                new LegacyProviders(restClient, settings.namespace()),
                gateway,
                usage,
                compute,
                new LegacyInfrastructure(restClient, settings.namespace())),
            new RestGuard(
                client, settings.namespace(), dispatcher::leasePool, cluster.auth(), leading::get),
            leaderPod != null ? leaderPod::cleared : () -> false);
  }

  /**
   * JOSDK's leader election: every replica starts its informers, only the Lease holder processes
   * events, so only it reconciles, fills the dispatcher's queues, runs embedded workers, grants
   * worker leases, cleans up by TTL and writes task status. On becoming leader JOSDK reconciles
   * every cached resource, which rebuilds the queues exactly as after a restart.
   */
  private LeaderElectionConfiguration leaderElection(
      ClusterSettings.LeaderElection election, String namespace) {
    if (!election.enabled()) {
      return null;
    }
    String leaseNamespace =
        election.leaseNamespace() != null ? election.leaseNamespace() : namespace;
    LOG.info(
        "leader election on: Lease {}/{}, identity {}",
        leaseNamespace,
        election.leaseName(),
        election.identity());
    return LeaderElectionConfigurationBuilder.aLeaderElectionConfiguration(election.leaseName())
        .withLeaseNamespace(leaseNamespace)
        .withIdentity(election.identity())
        .withLeaseDuration(election.leaseDuration())
        .withRenewDeadline(election.renewDeadline())
        .withRetryPeriod(election.retryPeriod())
        .withExitOnStopLeading(election.exitOnStopLeading())
        .withLeaderCallbacks(
            new LeaderCallbacks(
                () -> {
                  LOG.info("{} is now the leader; reconciling and serving", election.identity());
                  leading.set(true);
                  if (leaderPod != null) {
                    leaderPod.startedLeading();
                  }
                },
                () -> {
                  LOG.warn("{} stopped leading; it no longer serves the API", election.identity());
                  leading.set(false);
                  if (leaderPod != null) {
                    leaderPod.stoppedLeading();
                  }
                },
                leader -> LOG.info("leader is {}", leader)))
        .build();
  }

  /** The id on every machine this installation makes; see {@link InstanceId}. */
  public InstanceId instanceId() {
    return instanceId;
  }

  /** Whether this replica leads (always, without leader election). */
  public boolean isLeader() {
    return leading.get();
  }

  /**
   * The client the REST facade calls the API server with: the operator's, sharing its connections,
   * but with one quick retry instead of ten with backoff, so that while the API server is
   * unreachable a REST call is refused with a 503 at once instead of after some 20 s; a request
   * still has the usual 10 s to be answered (a 5 s limit turned a busy API server's slow answers
   * into 503s under load).
   */
  static KubernetesClient restClient(KubernetesClient client) {
    RequestConfig requestConfig =
        new RequestConfigBuilder(client.getConfiguration().getRequestConfig())
            .withRequestRetryBackoffLimit(REST_REQUEST_RETRIES)
            .withRequestRetryBackoffInterval(200)
            .withRequestTimeout((int) REST_REQUEST_TIMEOUT.toMillis())
            .build();
    return client.newClient(requestConfig).adapt(KubernetesClient.class);
  }

  /**
   * The namespaces a controller watches; and it skips (and reports) objects it cannot read, see
   * {@link UnreadableObjects}, instead of stopping.
   */
  private <R extends io.fabric8.kubernetes.api.model.HasMetadata> void watch(
      ControllerConfigurationOverrider<R> o, OperatorSettings settings) {
    o.withGenericFilter(unreadable::readable);
    if (settings.watchNamespaces().isEmpty()) {
      o.watchingAllNamespaces();
    } else {
      o.settingNamespaces(settings.watchNamespaces());
    }
  }

  /** Starts the reconcilers (which rebuild the queues from the resources), then the facade. */
  public VeraOperator start(OperatorSettings settings) {
    pricing.start();
    if (leaderPod != null) {
      leaderPod.start(); // before leading: a label left on this pod goes first
    }
    operator.start();
    ttlCleaner.start();
    orphanSweep.start();
    resourceAutoscaler.start();
    facade.start(settings.host(), settings.port());
    LOG.info("Vera operator serving REST on {}:{}", settings.host(), facade.port());
    return this;
  }

  public int port() {
    return facade.port();
  }

  /** The routes the REST facade serves, as {@code "GET /path"} and {@code "WS /path"}. */
  public java.util.List<String> routes() {
    return facade.routes();
  }

  public TaskDispatcher dispatcher() {
    return dispatcher;
  }

  /** VeraTasks in the informer's cache: the unfinished ones only. */
  public int cachedTasks() {
    return taskCache.size();
  }

  @Override
  public void close() {
    closeQuietly(facade::close);
    closeQuietly(orphanSweep::close);
    closeQuietly(resourceAutoscaler::close);
    closeQuietly(operator::stop);
    if (leaderPod != null) {
      closeQuietly(leaderPod::close);
    }
    closeQuietly(pricing::close);
    closeQuietly(embeddedWorkers::close);
    closeQuietly(resourceWorkers::close);
    closeQuietly(providerWorkers::close);
    closeQuietly(dispatcher::close);
    closeQuietly(this::flushStatus);
    closeQuietly(statusWriter::close);
    closeQuietly(unreadable::close);
    closeQuietly(events::close);
    closeQuietly(ttlCleaner::close);
    closeQuietly(cpu::close);
    closeQuietly(computeHosts::close);
  }

  /** Writes what the workers finished before stopping, so a restart does not run it again. */
  private void flushStatus() {
    try {
      if (!statusWriter.flush(STATUS_FLUSH_TIMEOUT)) {
        LOG.warn(
            "{} task status changes were not written before stopping; those tasks may run again",
            statusWriter.backlog());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void closeQuietly(Runnable step) {
    try {
      step.run();
    } catch (RuntimeException e) {
      LOG.warn("error while stopping", e);
    }
  }
}
