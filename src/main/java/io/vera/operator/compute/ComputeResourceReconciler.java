package io.vera.operator.compute;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.ComputeResourceStatus;
import io.vera.operator.api.Provider;
import io.vera.operator.kube.Conditions;
import io.vera.operator.kube.EventRecorder;
import io.vera.operator.kube.StatusWrites;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps each ComputeResource's machine in step with it: provisions it, notices when it disappeared
 * or died behind the operator's back (recreating it, or marking the resource Failed when {@code
 * docker.recreate} is false), replaces it when the spec changed while it was idle, removes it after
 * {@code idleTimeoutSeconds} without use, and destroys it when the resource is deleted (a
 * finalizer). Never writes the spec.
 */
@ControllerConfiguration(name = ComputeResourceReconciler.NAME)
public class ComputeResourceReconciler
    implements Reconciler<ComputeResource>, Cleaner<ComputeResource> {
  public static final String NAME = "computeresource";
  static final Duration RESYNC = Duration.ofSeconds(10);
  static final Duration RETRY = Duration.ofSeconds(15);

  /**
   * Safety net for an Available Pod resource: its pod is watched (an informer mapped back through
   * the owner reference), so a deleted or failed pod is seen at once, not at the next resync.
   * Docker and Proxmox machines have no watch and keep {@link #RESYNC}.
   */
  static final Duration WATCHED_RESYNC = Duration.ofSeconds(60);

  private static final Logger LOG = LoggerFactory.getLogger(ComputeResourceReconciler.class);
  private static final String READY = "Ready";
  private static final String DISK_LIMITED = "DiskLimited";

  /**
   * Set to {@code "true"} on a ComputeResource being deleted to let it go although its recorded
   * machine cannot be removed (its host is down for good); the machine may be left running.
   */
  static final String ABANDON_ANNOTATION = "vera.io/abandon-machine";

  static final Duration REMOVAL_RETRY_MAX = Duration.ofMinutes(5);

  /**
   * Resources that failed for good (see {@link #failedForGood}), by uid, with the generation they
   * failed at. Their status says so too, but the reconcile that an event of the failure itself
   * starts (the deleted pod) may still be handed the resource as cached before that status write.
   */
  private final Map<String, Long> failedAtGeneration = new ConcurrentHashMap<>();

  /** Failed removals per resource uid, for the backoff; cleared once the resource goes. */
  private final Map<String, Integer> removalAttempts = new ConcurrentHashMap<>();

  private final ComputeHosts hosts;
  private final ComputeUsage usage;
  private final MachineCache machines;
  private final ResourceTaskWorkers workers;
  private final KubernetesClient client;
  private final EventRecorder events;
  private final Clock clock;

  public ComputeResourceReconciler(
      ComputeHosts hosts,
      ComputeUsage usage,
      MachineCache machines,
      ResourceTaskWorkers workers,
      KubernetesClient client,
      EventRecorder events,
      Clock clock) {
    this.hosts = hosts;
    this.usage = usage;
    this.machines = machines;
    this.workers = workers;
    this.client = client;
    this.events = events;
    this.clock = clock;
  }

  @Override
  public List<EventSource<?, ComputeResource>> prepareEventSources(
      EventSourceContext<ComputeResource> context) {
    InformerEventSourceConfiguration<Pod> pods =
        InformerEventSourceConfiguration.from(Pod.class, ComputeResource.class)
            .withName("resource-pods")
            .withLabelSelector(
                ComputeLabels.MANAGED_BY
                    + "="
                    + ComputeLabels.MANAGED_BY_VALUE
                    + ","
                    + ComputeLabels.RESOURCE_UID)
            .withNamespacesInheritedFromController()
            .build();
    return List.of(new InformerEventSource<>(pods, context));
  }

  @Override
  public UpdateControl<ComputeResource> reconcile(
      ComputeResource resource, Context<ComputeResource> context) {
    String uid = resource.getMetadata().getUid();
    ComputeResourceStatus previous =
        resource.getStatus() == null ? new ComputeResourceStatus() : resource.getStatus();
    usage.seed(uid, previous);
    if (Objects.equals(failedAtGeneration.get(uid), resource.getMetadata().getGeneration())
        || failedForGood(resource, previous)) {
      workers.unavailable(uid);
      return UpdateControl.noUpdate();
    }
    ComputeResourceStatus status = copy(previous);
    Duration next = RESYNC;
    try {
      ComputeHost host = hosts.hostFor(resource);
      Machine machine = converge(resource, previous, status, host, context);
      if (machine == null) {
        next = RETRY;
      } else {
        machines.put(uid, machine);
        describe(status, machine);
        ready(resource, status, "True", "Running", "the machine runs");
        diskLimited(resource, status, machine);
        if (resource.getSpec().type == ComputeResourceSpec.Type.Pod
            && status.phase == ComputeResourceStatus.Phase.Available) {
          next = WATCHED_RESYNC;
        }
        Optional<Duration> idleLeft = idleTimeLeft(resource, status);
        if (idleLeft.isPresent() && idleLeft.get().isZero()) {
          events.normal(
              resource,
              "IdleTimeout",
              "idle for longer than " + resource.getSpec().idleTimeoutSeconds + "s; removing it");
          workers.unavailable(uid);
          client.resource(resource).delete();
          return UpdateControl.noUpdate();
        }
        if (idleLeft.isPresent() && idleLeft.get().compareTo(next) < 0) {
          next = idleLeft.get().plusMillis(50);
        }
      }
    } catch (ComputeException e) {
      next = failed(resource, status, e);
    }
    status.observedGeneration = resource.getMetadata().getGeneration();
    boolean unchanged = json(status).equals(json(previous));
    resource.setStatus(status);
    if (status.phase == ComputeResourceStatus.Phase.Available
        || status.phase == ComputeResourceStatus.Phase.InUse) {
      workers.available(resource);
    } else {
      workers.unavailable(uid);
    }
    if (!unchanged) {
      StatusWrites.replaceStatus(resource, status, context);
    }
    return UpdateControl.<ComputeResource>noUpdate().rescheduleAfter(next);
  }

  /**
   * Brings the machine to the spec and returns it, or null when it must wait (quota). Events tell
   * the user about every change of the machine.
   */
  private Machine converge(
      ComputeResource resource,
      ComputeResourceStatus previous,
      ComputeResourceStatus status,
      ComputeHost host,
      Context<ComputeResource> context)
      throws ComputeException {
    String uid = resource.getMetadata().getUid();
    Optional<Machine> found = host.find(uid);
    boolean recreate = recreates(resource);
    if (found.isPresent()) {
      Machine machine = found.get();
      boolean specChanged =
          previous.observedGeneration != null
              && !previous.observedGeneration.equals(resource.getMetadata().getGeneration());
      boolean busy = usage.get(uid).map(s -> s.running() > 0).orElse(false);
      if (specChanged && !busy) {
        events.normal(resource, "Replacing", "the spec changed; replacing " + machine.resourceId());
        host.destroy(machine);
        machines.remove(uid);
        return provision(resource, status, host);
      }
      if (machine.state() == Machine.State.RUNNING || machine.state() == Machine.State.STARTING) {
        return machine;
      }
      // A stopped machine (its host restarted, someone stopped it) still has its disk: starting
      // it again is not a recreation. Only a broken one needs replacing, which recreate governs.
      if (!recreate && machine.state() == Machine.State.FAILED) {
        throw new ComputeException(
            ComputeException.Reason.FAILED,
            "machine " + machine.resourceId() + " is failed and recreate is off");
      }
      events.warning(
          resource,
          "MachineStopped",
          machine.resourceId() + " was " + machine.state().name().toLowerCase() + "; starting it");
      if (machine.state() == Machine.State.FAILED) {
        host.destroy(machine);
      }
      return provision(resource, status, host);
    }
    if (previous.resourceId != null) {
      machines.remove(uid);
      if (!recreate) {
        throw new ComputeException(
            ComputeException.Reason.FAILED,
            "machine " + previous.resourceId + " disappeared; recreate is off");
      }
      events.warning(
          resource, "MachineLost", previous.resourceId + " disappeared; creating a new machine");
      status.recreations = (previous.recreations == null ? 0 : previous.recreations) + 1;
    }
    Optional<String> full = quotaExceeded(resource, context);
    if (full.isPresent()) {
      status.phase = ComputeResourceStatus.Phase.Provisioning;
      ready(resource, status, "False", "QuotaExceeded", full.get());
      return null;
    }
    return provision(resource, status, host);
  }

  private Machine provision(
      ComputeResource resource, ComputeResourceStatus status, ComputeHost host)
      throws ComputeException {
    if (status.phase != ComputeResourceStatus.Phase.Provisioning) {
      status.phase = ComputeResourceStatus.Phase.Provisioning;
      ready(resource, status, "False", "Provisioning", "creating the machine");
      patchStatus(resource, status);
    }
    long started = System.nanoTime();
    Machine machine =
        host.provision(
            resource,
            (reason, message) -> {
              ready(resource, status, "False", reason, message);
              patchStatus(resource, status);
              events.warning(resource, reason, message);
            });
    if (status.readyTime == null || status.resourceId == null) {
      status.readyTime = clock.instant().toString();
    }
    events.normal(
        resource,
        "Provisioned",
        machine.resourceId()
            + " runs after "
            + Duration.ofNanos(System.nanoTime() - started).toMillis()
            + " ms");
    return machine;
  }

  /** A resource's Provider allows {@code maxResources} machines; the rest wait. */
  private Optional<String> quotaExceeded(
      ComputeResource resource, Context<ComputeResource> context) {
    ComputeResourceSpec spec = resource.getSpec();
    if (spec.type == ComputeResourceSpec.Type.Pod || spec.providerRef == null) {
      return Optional.empty();
    }
    Provider provider =
        client
            .resources(Provider.class)
            .inNamespace(resource.getMetadata().getNamespace())
            .withName(spec.providerRef)
            .get();
    if (provider == null) {
      return Optional.empty();
    }
    int max = ComputeHosts.maxResources(provider);
    long held =
        context
            .getPrimaryCache()
            .list(
                r ->
                    !r.getMetadata().getUid().equals(resource.getMetadata().getUid())
                        && Objects.equals(
                            r.getMetadata().getNamespace(), resource.getMetadata().getNamespace())
                        && Objects.equals(r.getSpec().providerRef, spec.providerRef)
                        && r.getStatus() != null
                        && r.getStatus().resourceId != null)
            .count();
    if (held < max) {
      return Optional.empty();
    }
    return Optional.of(
        "Provider "
            + spec.providerRef
            + " allows "
            + max
            + " machines and "
            + held
            + " exist; waiting for one to go");
  }

  private static boolean recreates(ComputeResource resource) {
    ComputeResourceSpec.DockerSpec docker = resource.getSpec().docker;
    return docker == null || !Boolean.FALSE.equals(docker.recreate);
  }

  private void describe(ComputeResourceStatus status, Machine machine) {
    status.resourceId = machine.resourceId();
    status.machineId = machine.nativeId();
    status.address = machine.address();
    status.capacity = machine.capacity().toStatus();
    Optional<ComputeUsage.Snapshot> used = usage.get(machine.owner().uid());
    boolean busy = used.map(s -> s.running() > 0).orElse(false);
    status.phase = busy ? ComputeResourceStatus.Phase.InUse : ComputeResourceStatus.Phase.Available;
    status.currentTask = used.map(ComputeUsage.Snapshot::currentTask).orElse(null);
    status.totalTasks = used.map(ComputeUsage.Snapshot::totalTasks).orElse(0L);
    status.lastUsedTime =
        used.map(ComputeUsage.Snapshot::lastUsed).map(Instant::toString).orElse(null);
    if (status.readyTime == null) {
      status.readyTime = clock.instant().toString();
    }
  }

  /**
   * How long until the resource has been idle for its {@code idleTimeoutSeconds}, measured from its
   * last use (or from when it became ready, if never used); zero when that has passed, empty when
   * it has no idle timeout or is in use.
   */
  private Optional<Duration> idleTimeLeft(ComputeResource resource, ComputeResourceStatus status) {
    Integer timeout = resource.getSpec().idleTimeoutSeconds;
    if (timeout == null || timeout <= 0 || status.phase != ComputeResourceStatus.Phase.Available) {
      return Optional.empty();
    }
    Instant since = ComputeUsage.idleSince(status);
    if (since == null) {
      return Optional.empty();
    }
    Duration left = Duration.between(clock.instant(), since.plusSeconds(timeout));
    return Optional.of(left.isNegative() ? Duration.ZERO : left);
  }

  /**
   * Whether the resource failed, for its current spec, because its host cannot run its kind at all
   * ({@code Unsupported}: a Pod resource where no Node exists). It stays {@code Failed} until its
   * spec changes: a retry would only make a machine again and fail it again, and would show {@code
   * Provisioning} meanwhile, hiding the failure (such a resource made a pod every 20 s). Other
   * failures are retried: a Provider or Secret may be fixed later, and a machine that failed with
   * recreate off may start on a later try (an engine that refused an option it was then found not
   * to support).
   */
  private static boolean failedForGood(ComputeResource resource, ComputeResourceStatus status) {
    if (status.phase != ComputeResourceStatus.Phase.Failed
        || !Objects.equals(status.observedGeneration, resource.getMetadata().getGeneration())
        || status.conditions == null) {
      return false;
    }
    return status.conditions.stream()
        .anyMatch(c -> READY.equals(c.getType()) && "Unsupported".equals(c.getReason()));
  }

  private Duration failed(
      ComputeResource resource, ComputeResourceStatus status, ComputeException e) {
    String reason =
        switch (e.reason()) {
          case NOT_FOUND -> "ProviderNotFound";
          case INVALID -> "InvalidSpec";
          case UNSUPPORTED -> "Unsupported";
          case UNAVAILABLE -> ComputeService.HOST_UNAVAILABLE;
          case FAILED -> "MachineFailed";
        };
    boolean terminal =
        e.reason() == ComputeException.Reason.FAILED && !recreates(resource)
            || e.reason() == ComputeException.Reason.UNSUPPORTED;
    if (e.reason() == ComputeException.Reason.UNSUPPORTED) {
      failedAtGeneration.put(
          resource.getMetadata().getUid(), resource.getMetadata().getGeneration());
    }
    if (terminal || e.reason() == ComputeException.Reason.INVALID) {
      status.phase = ComputeResourceStatus.Phase.Failed;
    } else if (status.phase == null) {
      status.phase = ComputeResourceStatus.Phase.Provisioning;
    }
    Condition before = status.conditions.isEmpty() ? null : status.conditions.get(0);
    if (before == null || !reason.equals(before.getReason())) {
      events.warning(resource, reason, e.getMessage());
      LOG.warn(
          "ComputeResource {}/{}: {}",
          resource.getMetadata().getNamespace(),
          resource.getMetadata().getName(),
          e.getMessage());
    }
    ready(resource, status, "False", reason, e.getMessage());
    return RETRY;
  }

  /**
   * Removes the machine, then lets the resource go. When the host cannot be reached: with no
   * machine recorded in status the resource goes at once (the orphan sweep removes a machine made
   * for it meanwhile, once the host answers); with one recorded, removal is retried with backoff (2
   * s doubling to {@link #REMOVAL_RETRY_MAX}), said in the Ready condition (reason {@code
   * RemovalPending}) and a {@code RemovalFailed} Event, until the host answers or an admin sets
   * {@value #ABANDON_ANNOTATION}{@code : "true"}.
   */
  @Override
  public DeleteControl cleanup(ComputeResource resource, Context<ComputeResource> context) {
    String uid = resource.getMetadata().getUid();
    workers.unavailable(uid);
    String recorded = Optional.ofNullable(resource.getStatus()).map(s -> s.resourceId).orElse(null);
    try {
      ComputeHost host = hosts.hostFor(resource);
      Optional<Machine> machine = host.find(uid);
      if (machine.isPresent()) {
        host.destroy(machine.get());
        events.normal(resource, "Removed", machine.get().resourceId() + " removed");
      }
    } catch (ComputeException e) {
      if (e.reason() == ComputeException.Reason.NOT_FOUND
          || e.reason() == ComputeException.Reason.INVALID) {
        // The Provider is gone or unusable: nothing can reach the machine any more, and keeping
        // the finalizer would block the namespace forever. Say what may be left behind.
        events.warning(
            resource,
            "MachineAbandoned",
            "cannot reach the host to remove "
                + (recorded == null ? "its machine" : recorded)
                + ": "
                + e.getMessage());
      } else if (recorded == null) {
        events.normal(
            resource,
            "NothingRecorded",
            "no machine was recorded and the host cannot be reached ("
                + e.getMessage()
                + "); the orphan sweep removes any machine made for it once the host answers");
      } else if ("true".equals(annotation(resource, ABANDON_ANNOTATION))) {
        events.warning(
            resource,
            "MachineAbandoned",
            ABANDON_ANNOTATION
                + " is set: letting the resource go; "
                + recorded
                + " may still run on its host ("
                + e.getMessage()
                + ")");
      } else {
        int attempt = removalAttempts.merge(uid, 1, Integer::sum);
        Duration next = removalBackoff(attempt);
        String message =
            "cannot remove "
                + recorded
                + " yet (attempt "
                + attempt
                + ", next in "
                + next.toSeconds()
                + " s): "
                + e.getMessage()
                + "; to let the resource go without it set the annotation "
                + ABANDON_ANNOTATION
                + "=true";
        events.warning(resource, "RemovalFailed", message);
        LOG.warn(
            "ComputeResource {}/{}: {}",
            resource.getMetadata().getNamespace(),
            resource.getMetadata().getName(),
            message);
        ComputeResourceStatus status =
            copy(resource.getStatus() == null ? new ComputeResourceStatus() : resource.getStatus());
        status.phase = ComputeResourceStatus.Phase.Stopping;
        ready(resource, status, "False", "RemovalPending", message);
        patchStatus(resource, status);
        return DeleteControl.noFinalizerRemoval().rescheduleAfter(next.toMillis());
      }
    }
    removalAttempts.remove(uid);
    failedAtGeneration.remove(uid);
    machines.remove(uid);
    usage.forget(uid);
    return DeleteControl.defaultDelete();
  }

  /** 2 s, doubling, at most {@link #REMOVAL_RETRY_MAX}. */
  static Duration removalBackoff(int attempt) {
    long seconds = 1L << Math.min(attempt, 16);
    return Duration.ofSeconds(Math.min(seconds, REMOVAL_RETRY_MAX.toSeconds()));
  }

  private static String annotation(ComputeResource resource, String key) {
    Map<String, String> annotations = resource.getMetadata().getAnnotations();
    return annotations == null ? null : annotations.get(key);
  }

  private void ready(
      ComputeResource resource,
      ComputeResourceStatus status,
      String state,
      String reason,
      String message) {
    setCondition(resource, status, READY, state, reason, message);
    status.conditions =
        Conditions.withProgress(
            status.conditions,
            status.conditions,
            status.phase == ComputeResourceStatus.Phase.Failed
                ? Conditions.STALLED
                : Conditions.RECONCILING,
            clock.instant());
  }

  /**
   * For a Docker container that asked for a disk size: whether the engine caps it. Docker can only
   * on some storage drivers, and a user who sized a disk should see when the size is not enforced.
   */
  private void diskLimited(
      ComputeResource resource, ComputeResourceStatus status, Machine machine) {
    ComputeResourceSpec spec = resource.getSpec();
    long asked =
        spec.resources == null || spec.resources.diskGb == null ? 0 : spec.resources.diskGb;
    if (spec.type != ComputeResourceSpec.Type.Docker || asked <= 0) {
      if (status.conditions != null) {
        status.conditions =
            status.conditions.stream().filter(c -> !DISK_LIMITED.equals(c.getType())).toList();
      }
      return;
    }
    if (machine.capacity().diskGb() >= asked) {
      setCondition(
          resource,
          status,
          DISK_LIMITED,
          "True",
          "Capped",
          "the disk is capped at " + asked + " GiB");
    } else {
      setCondition(
          resource,
          status,
          DISK_LIMITED,
          "False",
          "NotEnforced",
          "the Docker engine's storage driver cannot cap container disk size; diskGb "
              + asked
              + " is not enforced (set the Provider's docker.diskLimit to Required to refuse such"
              + " containers)");
    }
  }

  /** Sets one condition and keeps the others. */
  private void setCondition(
      ComputeResource resource,
      ComputeResourceStatus status,
      String type,
      String state,
      String reason,
      String message) {
    status.conditions =
        Conditions.with(
            status.conditions,
            Conditions.of(
                status.conditions,
                type,
                state,
                reason,
                message,
                resource.getMetadata().getGeneration(),
                clock.instant()));
  }

  /** Publishes a phase before a long step (provisioning), so REST and kubectl see it. */
  private void patchStatus(ComputeResource resource, ComputeResourceStatus status) {
    try {
      ComputeResource copy = Serialization.clone(resource);
      copy.setStatus(copy(status));
      client.resource(copy).patchStatus();
    } catch (RuntimeException e) {
      LOG.debug("could not publish the Provisioning phase: {}", e.getMessage());
    }
  }

  private static ComputeResourceStatus copy(ComputeResourceStatus status) {
    return Serialization.jsonMapper().convertValue(status, ComputeResourceStatus.class);
  }

  private static Object json(ComputeResourceStatus status) {
    return Serialization.jsonMapper().valueToTree(status);
  }
}
