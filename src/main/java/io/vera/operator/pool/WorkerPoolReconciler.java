package io.vera.operator.pool;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.inbound.SimpleInboundEventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.api.WorkerPoolStatus;
import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.kube.Conditions;
import io.vera.operator.kube.EventRecorder;
import io.vera.operator.kube.StatusWrites;
import io.vera.operator.task.PoolKey;
import io.vera.operator.task.PoolRegistry;
import io.vera.operator.task.PoolSettings;
import io.vera.operator.task.TaskQueueView;
import io.vera.operator.worker.EmbeddedWorkers;
import io.vera.operator.worker.RemoteWorkers;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Turns a WorkerPool into workers (threads for runtime Embedded, a Deployment of worker pods for
 * runtime Pods), registers its queue with the dispatcher, sizes it (by hand, /scale, or the
 * autoscaler) and reports its queue and workers in status. Never writes the pool's spec, so it does
 * not fight GitOps tools: the autoscaler's decision lives in status.replicas.
 *
 * <p>Its worker Deployment is watched (an informer event source mapped back through the owner
 * reference), so a deleted or changed Deployment is put right at once and reading it costs no API
 * call. The queue is in memory, not in Kubernetes: a pool with work is looked at every {@link
 * #RESYNC} for its status and autoscaling; an idle pool only every {@link #IDLE_RESYNC}, and its
 * first task wakes it.
 */
@ControllerConfiguration(name = WorkerPoolReconciler.NAME)
public class WorkerPoolReconciler implements Reconciler<WorkerPool> {
  public static final String NAME = "workerpool";
  static final Duration RESYNC = Duration.ofSeconds(5);

  /** Safety net for an idle pool; its own events (spec, Deployment, first task) come at once. */
  static final Duration IDLE_RESYNC = Duration.ofSeconds(60);

  private static final String DEPLOYMENTS = "worker-deployments";
  private static final String READY = "Ready";

  private final PoolRegistry pools;
  private final EmbeddedWorkers embeddedWorkers;
  private final RemoteWorkers remoteWorkers;
  private final HandlerRegistry handlers;
  private final KubernetesClient client;
  private final EventRecorder events;
  private final WorkerDeployment.Defaults deploymentDefaults;
  private final Clock clock;
  private final Autoscaler autoscaler = new Autoscaler();

  /** Pools last seen idle: the next event of a task in one of them reconciles it. */
  private final Set<PoolKey> idle = ConcurrentHashMap.newKeySet();

  private final SimpleInboundEventSource<WorkerPool> wakeUps =
      new SimpleInboundEventSource<>("idle-pool-wake-ups");

  public WorkerPoolReconciler(
      PoolRegistry pools,
      EmbeddedWorkers embeddedWorkers,
      RemoteWorkers remoteWorkers,
      HandlerRegistry handlers,
      KubernetesClient client,
      EventRecorder events,
      String workerImage,
      String operatorUrl,
      Clock clock) {
    this(
        pools,
        embeddedWorkers,
        remoteWorkers,
        handlers,
        client,
        events,
        workerImage,
        operatorUrl,
        null,
        clock);
  }

  /**
   * @param workerServiceAccount ServiceAccount of worker pods whose pool names none (it needs the
   *     {@code lease} verb on the pool when REST authentication is on); null for the namespace's
   *     default
   */
  public WorkerPoolReconciler(
      PoolRegistry pools,
      EmbeddedWorkers embeddedWorkers,
      RemoteWorkers remoteWorkers,
      HandlerRegistry handlers,
      KubernetesClient client,
      EventRecorder events,
      String workerImage,
      String operatorUrl,
      String workerServiceAccount,
      Clock clock) {
    this.pools = pools;
    this.embeddedWorkers = embeddedWorkers;
    this.remoteWorkers = remoteWorkers;
    this.handlers = handlers;
    this.client = client;
    this.events = events;
    this.deploymentDefaults =
        new WorkerDeployment.Defaults(workerImage, operatorUrl, workerServiceAccount);
    this.clock = clock;
    pools.addListener(
        event -> {
          PoolKey pool = event.task().pool();
          if (pool != null && idle.remove(pool)) {
            wakeUps.propagateEvent(new ResourceID(pool.target(), pool.namespace()));
          }
        });
  }

  @Override
  public List<EventSource<?, WorkerPool>> prepareEventSources(
      EventSourceContext<WorkerPool> context) {
    InformerEventSourceConfiguration<Deployment> deployments =
        InformerEventSourceConfiguration.from(Deployment.class, WorkerPool.class)
            .withName(DEPLOYMENTS)
            .withLabelSelector(WorkerDeployment.POOL_LABEL)
            .withNamespacesInheritedFromController()
            .build();
    return List.of(new InformerEventSource<>(deployments, context), wakeUps);
  }

  /** Called when a pool leaves the informer cache: its workers stop and its queue is released. */
  public void poolDeleted(WorkerPool pool) {
    PoolKey key = key(pool);
    embeddedWorkers.stop(key);
    pools.removePool(key);
    remoteWorkers.forget(key);
    autoscaler.forget(key);
    idle.remove(key);
  }

  @Override
  public UpdateControl<WorkerPool> reconcile(WorkerPool pool, Context<WorkerPool> context) {
    PoolKey key = key(pool);
    WorkerPoolSpec spec = pool.getSpec();
    WorkerPoolStatus previous =
        pool.getStatus() == null ? new WorkerPoolStatus() : pool.getStatus();
    pools.upsertPool(
        key,
        new PoolSettings(
            spec.taskType,
            spec.isSuspended(),
            spec.cpuThresholdPercent,
            spec.leaseSecondsOrDefault()),
        previous.succeeded == null ? 0 : previous.succeeded,
        previous.failed == null ? 0 : previous.failed);
    TaskQueueView.PoolStats stats = pools.poolStats(key).orElseThrow();
    Instant now = clock.instant();
    int current = previous.replicas == null ? spec.replicasOrDefault() : previous.replicas;
    int replicas =
        autoscaler.desiredReplicas(key, spec, current, stats.queued(), stats.running(), now);

    int ready;
    List<String> offered;
    Optional<Deployment> live = context.getSecondaryResource(Deployment.class);
    if (spec.runtimeOrDefault() == WorkerPoolSpec.Runtime.Embedded) {
      live.ifPresent(d -> deleteWorkerDeployment(pool, d));
      embeddedWorkers.resize(key, replicas * spec.concurrencyOrDefault());
      ready = embeddedWorkers.alive(key) / spec.concurrencyOrDefault();
      offered = new ArrayList<>(handlers.names());
    } else {
      embeddedWorkers.stop(key);
      ready = applyWorkerDeployment(pool, replicas, live.orElse(null), context);
      offered = new ArrayList<>(remoteWorkers.handlers(key));
    }

    WorkerPoolStatus status = new WorkerPoolStatus();
    status.replicas = replicas;
    status.readyReplicas = ready;
    status.selector = WorkerDeployment.selector(pool);
    status.queued = stats.queued();
    status.running = stats.running();
    status.succeeded = stats.succeeded();
    status.failed = stats.failed();
    status.oldestQueuedAgeSeconds = stats.oldestQueuedAgeSeconds();
    status.handlers = offered;
    status.lastScaleTime = previous.lastScaleTime;
    status.observedGeneration = pool.getMetadata().getGeneration();
    if (previous.replicas != null && previous.replicas != replicas) {
      status.lastScaleTime = now.truncatedTo(ChronoUnit.SECONDS).toString();
      events.normal(
          pool,
          "Scaled",
          "workers "
              + previous.replicas
              + " -> "
              + replicas
              + " (queued "
              + stats.queued()
              + ", running "
              + stats.running()
              + ")");
    }
    status.conditions =
        Conditions.withProgress(
            List.of(readyCondition(pool, previous, replicas, ready, now)),
            previous.conditions,
            pool.getSpec().isSuspended() ? null : Conditions.RECONCILING,
            now);

    Duration next = resyncAfter(key, spec, stats, replicas, ready);
    if (sameJson(status, pool.getStatus())) {
      return UpdateControl.<WorkerPool>noUpdate().rescheduleAfter(next);
    }
    StatusWrites.replaceStatus(pool, status, context);
    return UpdateControl.<WorkerPool>noUpdate().rescheduleAfter(next);
  }

  /**
   * {@link #IDLE_RESYNC} when nothing about the pool can change without an event (no tasks, no
   * pending scale-down, all embedded threads up; for Pods, no remote workers whose handlers expire,
   * since Deployment readiness comes as events), else {@link #RESYNC}. The pool is marked idle
   * before its queue is looked at again, so a task that arrives in between either shows in that
   * second look or wakes the pool.
   */
  private Duration resyncAfter(
      PoolKey key, WorkerPoolSpec spec, TaskQueueView.PoolStats stats, int replicas, int ready) {
    boolean quiet =
        stats.queued() == 0
            && stats.running() == 0
            && autoscaler.settled(key)
            && (spec.runtimeOrDefault() == WorkerPoolSpec.Runtime.Embedded
                ? ready >= replicas
                : remoteWorkers.handlers(key).isEmpty());
    if (!quiet) {
      idle.remove(key);
      return RESYNC;
    }
    idle.add(key);
    if (!stats.equals(pools.poolStats(key).orElse(null))) {
      idle.remove(key);
      return RESYNC;
    }
    return IDLE_RESYNC;
  }

  private Condition readyCondition(
      WorkerPool pool, WorkerPoolStatus previous, int replicas, int ready, Instant now) {
    String state;
    String reason;
    String message;
    if (pool.getSpec().isSuspended()) {
      state = "False";
      reason = "Suspended";
      message = "spec.suspend is true: workers take no new tasks";
    } else if (ready >= replicas) {
      state = "True";
      reason = "WorkersReady";
      message = ready + " of " + replicas + " workers ready";
    } else {
      state = "False";
      reason = "WorkersStarting";
      message = ready + " of " + replicas + " workers ready";
    }
    return Conditions.of(
        previous.conditions,
        READY,
        state,
        reason,
        message,
        pool.getMetadata().getGeneration(),
        now);
  }

  /**
   * Creates or updates the pool's Deployment from the informer's copy ({@code live}, null when
   * there is none) and returns its ready replicas. What it writes goes into the informer's
   * temporary cache, so the next reconcile sees it even before the watch event arrives.
   */
  private int applyWorkerDeployment(
      WorkerPool pool, int replicas, Deployment live, Context<WorkerPool> context) {
    Deployment desired = WorkerDeployment.desired(pool, replicas, deploymentDefaults);
    var resource =
        client
            .apps()
            .deployments()
            .inNamespace(pool.getMetadata().getNamespace())
            .withName(WorkerDeployment.name(pool));
    InformerEventSource<Deployment, WorkerPool> informer = deploymentInformer(context);
    ResourceID primary = ResourceID.fromResource(pool);
    if (live == null) {
      live = resource.get(); // not in the cache yet: made a moment ago, or never
    }
    if (live == null) {
      live = resource.create(desired);
      informer.handleRecentResourceCreate(primary, live);
    } else if (!WorkerDeployment.matches(live, desired)) {
      Deployment before = live;
      live =
          resource.edit(
              d -> {
                d.getMetadata().setAnnotations(desired.getMetadata().getAnnotations());
                d.getMetadata().setOwnerReferences(desired.getMetadata().getOwnerReferences());
                d.getSpec().setReplicas(desired.getSpec().getReplicas());
                d.getSpec().setTemplate(desired.getSpec().getTemplate());
                return d;
              });
      informer.handleRecentResourceUpdate(primary, live, before);
    }
    Integer ready = live.getStatus() == null ? null : live.getStatus().getReadyReplicas();
    return ready == null ? 0 : ready;
  }

  /** Deletes the pool's Deployment (from its Pods days) if this pool owns it. */
  private void deleteWorkerDeployment(WorkerPool pool, Deployment live) {
    if (live.getMetadata().getOwnerReferences().stream()
        .anyMatch(o -> o.getUid().equals(pool.getMetadata().getUid()))) {
      client
          .apps()
          .deployments()
          .inNamespace(pool.getMetadata().getNamespace())
          .withName(live.getMetadata().getName())
          .delete();
    }
  }

  @SuppressWarnings("unchecked")
  private static InformerEventSource<Deployment, WorkerPool> deploymentInformer(
      Context<WorkerPool> context) {
    return (InformerEventSource<Deployment, WorkerPool>)
        context.eventSourceRetriever().getEventSourceFor(Deployment.class, DEPLOYMENTS);
  }

  private static boolean sameJson(WorkerPoolStatus a, WorkerPoolStatus b) {
    JsonNode left = Serialization.jsonMapper().valueToTree(a);
    JsonNode right = b == null ? null : Serialization.jsonMapper().valueToTree(b);
    return left.equals(right);
  }

  static PoolKey key(WorkerPool pool) {
    return new PoolKey(pool.getMetadata().getNamespace(), pool.getMetadata().getName());
  }
}
