package io.vera.operator.compute;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.ComputeResourceStatus;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the rest of the operator may do with compute resources: create one and wait until it runs,
 * find it by name or legacy id, run a command in it, read its live stats, remove idle ones, and
 * sweep machines whose resource is gone. The REST facade and the resource task runner use only
 * this; the reconciler keeps the machines themselves in step.
 *
 * <p>A resource runs one command at a time, as the legacy API's {@code current_task_id} implies;
 * further commands wait their turn, in arrival order, within their own timeout.
 */
public final class ComputeService {
  private static final Logger LOG = LoggerFactory.getLogger(ComputeService.class);
  private static final Duration POLL = Duration.ofMillis(100);

  private final KubernetesClient client;
  private final ComputeHosts hosts;
  private final ComputeUsage usage;
  private final MachineCache machines;
  private final Clock clock;
  private final Map<String, Semaphore> turns = new ConcurrentHashMap<>();
  private final HostReachability reachability;

  /** Unmarked orphans already reported, so each is logged once, not on every sweep. */
  private final Set<String> reportedUnmarked = ConcurrentHashMap.newKeySet();

  public ComputeService(
      KubernetesClient client,
      ComputeHosts hosts,
      ComputeUsage usage,
      MachineCache machines,
      Clock clock) {
    this.client = client;
    this.hosts = hosts;
    this.usage = usage;
    this.machines = machines;
    this.clock = clock;
    this.reachability = new HostReachability(hosts);
  }

  // ---- lookup --------------------------------------------------------------------------------

  public List<ComputeResource> list(String namespace) {
    return client.resources(ComputeResource.class).inNamespace(namespace).list().getItems();
  }

  /** A resource by its legacy id ({@code docker-…}) or by its name. */
  public Optional<ComputeResource> find(String namespace, String idOrName) {
    for (ComputeResource r : list(namespace)) {
      if (idOrName.equals(r.getMetadata().getName())
          || r.getStatus() != null && idOrName.equals(r.getStatus().resourceId)) {
        return Optional.of(r);
      }
    }
    return Optional.empty();
  }

  // ---- provisioning --------------------------------------------------------------------------

  /**
   * Creates a ComputeResource; the reconciler provisions its machine. Pair with {@link
   * #awaitSettled} to wait until it runs.
   *
   * @param namePrefix start of the name, e.g. {@code docker-}; eight random hex digits follow
   */
  public ComputeResource create(
      String namespace, String namePrefix, ComputeResourceSpec spec, Map<String, String> labels) {
    ComputeResource resource = new ComputeResource();
    resource.setMetadata(
        new ObjectMetaBuilder()
            .withName(namePrefix + UUID.randomUUID().toString().substring(0, 8))
            .withNamespace(namespace)
            .withLabels(labels)
            .build());
    resource.setSpec(spec);
    return client
        .resources(ComputeResource.class)
        .inNamespace(namespace)
        .resource(resource)
        .create();
  }

  /**
   * Whether the host of a Docker or Proxmox Provider answers within {@code deadline} (see {@link
   * HostReachability}): a short check before creating a machine, independent of the Provider's own
   * timeout.
   */
  public HostReachability.Answer reachable(Provider provider, Duration deadline)
      throws InterruptedException {
    return reachability.check(provider, deadline);
  }

  /**
   * Waits until a resource is Available (or InUse) or Failed, or its host is unavailable (Ready
   * reason {@value #HOST_UNAVAILABLE}), or the wait is over.
   */
  public ComputeResource awaitSettled(String namespace, String name, Duration wait)
      throws InterruptedException {
    Instant until = clock.instant().plus(wait);
    while (true) {
      ComputeResource current =
          client.resources(ComputeResource.class).inNamespace(namespace).withName(name).get();
      if (current == null || settled(current) || !clock.instant().isBefore(until)) {
        return current;
      }
      Thread.sleep(POLL.toMillis());
    }
  }

  private static boolean settled(ComputeResource resource) {
    ComputeResourceStatus status = resource.getStatus();
    if (hostUnavailable(resource)) {
      return true;
    }
    return status != null
            && status.resourceId != null
            && (status.phase == ComputeResourceStatus.Phase.Available
                || status.phase == ComputeResourceStatus.Phase.InUse)
        || status != null && status.phase == ComputeResourceStatus.Phase.Failed;
  }

  /** The Ready reason the reconciler sets while a resource's host does not answer. */
  static final String HOST_UNAVAILABLE = "HostUnavailable";

  /** Whether the reconciler last found the resource's host unavailable. */
  public static boolean hostUnavailable(ComputeResource resource) {
    return resource.getStatus() != null
        && resource.getStatus().conditions.stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && HOST_UNAVAILABLE.equals(c.getReason()));
  }

  /** Deletes a resource; its finalizer removes the machine. */
  public boolean delete(ComputeResource resource) {
    return !client.resource(resource).delete().isEmpty();
  }

  // ---- exec ----------------------------------------------------------------------------------

  /**
   * Runs a command in a resource, after the commands queued before it. The wait for its turn counts
   * against the request's timeout.
   *
   * @param taskId what status shows as the current task while it runs
   */
  public ExecResult exec(ComputeResource resource, ExecRequest request, String taskId)
      throws ComputeException, InterruptedException {
    String uid = resource.getMetadata().getUid();
    requireRunning(resource);
    Semaphore turn = turns.computeIfAbsent(uid, u -> new Semaphore(1, true));
    long waitStarted = System.nanoTime();
    if (!turn.tryAcquire(request.timeout().toNanos(), TimeUnit.NANOSECONDS)) {
      return new ExecResult(
          -1, "", "", false, false, true, Duration.ofNanos(System.nanoTime() - waitStarted));
    }
    try {
      Duration left = request.timeout().minusNanos(System.nanoTime() - waitStarted);
      ExecRequest timed = request.withTimeout(left.isNegative() ? Duration.ZERO : left);
      ComputeHost host = hosts.hostFor(resource);
      Machine machine = machine(resource, host);
      publishUsage(resource, usage.started(uid, taskId), ComputeResourceStatus.Phase.InUse);
      try {
        return host.exec(machine, timed);
      } finally {
        ComputeUsage.Snapshot after = usage.finished(uid);
        publishUsage(
            resource,
            after,
            after.running() > 0
                ? ComputeResourceStatus.Phase.InUse
                : ComputeResourceStatus.Phase.Available);
      }
    } finally {
      turn.release();
    }
  }

  /** Live CPU, memory and network of a resource's machine. */
  public MachineStats stats(ComputeResource resource) throws ComputeException {
    requireRunning(resource);
    ComputeHost host = hosts.hostFor(resource);
    return host.stats(machine(resource, host));
  }

  private static void requireRunning(ComputeResource resource) throws ComputeException {
    ComputeResourceStatus status = resource.getStatus();
    ComputeResourceStatus.Phase phase = status == null ? null : status.phase;
    if (resource.getMetadata().getDeletionTimestamp() != null) {
      throw new ComputeException(
          ComputeException.Reason.UNAVAILABLE,
          "resource " + resource.getMetadata().getName() + " is being removed");
    }
    if (phase != ComputeResourceStatus.Phase.Available
        && phase != ComputeResourceStatus.Phase.InUse) {
      throw new ComputeException(
          ComputeException.Reason.UNAVAILABLE,
          "resource "
              + resource.getMetadata().getName()
              + " is "
              + (phase == null ? "not provisioned yet" : phase)
              + ", not Available");
    }
  }

  private Machine machine(ComputeResource resource, ComputeHost host) throws ComputeException {
    String uid = resource.getMetadata().getUid();
    Optional<Machine> cached = machines.get(uid);
    if (cached.isPresent()) {
      return cached.get();
    }
    Machine found =
        host.find(uid)
            .orElseThrow(
                () ->
                    new ComputeException(
                        ComputeException.Reason.UNAVAILABLE,
                        "the machine of "
                            + resource.getMetadata().getName()
                            + " is gone; it is being recreated"));
    machines.put(uid, found);
    return found;
  }

  /**
   * Writes the usage figures to status with a merge patch of just those fields (explicit null
   * clears the current task), so it never overwrites what the reconciler writes.
   */
  private void publishUsage(
      ComputeResource resource, ComputeUsage.Snapshot snapshot, ComputeResourceStatus.Phase phase) {
    ObjectNode status = JsonNodeFactory.instance.objectNode();
    status.put("phase", phase.name());
    if (snapshot.currentTask() == null) {
      status.putNull("currentTask");
    } else {
      status.put("currentTask", snapshot.currentTask());
    }
    status.put("totalTasks", snapshot.totalTasks());
    if (snapshot.lastUsed() != null) {
      status.put("lastUsedTime", snapshot.lastUsed().toString());
    }
    ObjectNode patch = JsonNodeFactory.instance.objectNode();
    patch.set("status", status);
    try {
      client
          .resources(ComputeResource.class)
          .inNamespace(resource.getMetadata().getNamespace())
          .withName(resource.getMetadata().getName())
          .subresource("status")
          .patch(PatchContext.of(PatchType.JSON_MERGE), patch.toString());
    } catch (KubernetesClientException e) {
      // The reconciler writes the same figures on its next pass.
      LOG.debug(
          "could not write usage of {}: {}", resource.getMetadata().getName(), e.getMessage());
    }
  }

  // ---- cleanup -------------------------------------------------------------------------------

  /**
   * Deletes the resources idle for longer than {@code maxIdle}, measured from their last use (or
   * from when they became ready, if never used). Resources running a command are never touched.
   *
   * @return the names of the resources deleted
   */
  public List<ComputeResource> removeIdle(String namespace, Duration maxIdle) {
    Instant cutoff = clock.instant().minus(maxIdle);
    List<ComputeResource> removed = new ArrayList<>();
    for (ComputeResource r : list(namespace)) {
      if (idleSince(r).filter(since -> since.isBefore(cutoff)).isPresent() && delete(r)) {
        removed.add(r);
      }
    }
    return removed;
  }

  /**
   * Since when the resource has been idle: Available, running nothing, and last used (or ready)
   * then; empty when it is busy, not yet available or going away.
   */
  public Optional<Instant> idleSince(ComputeResource resource) {
    ComputeResourceStatus status = resource.getStatus();
    if (status == null
        || status.phase != ComputeResourceStatus.Phase.Available
        || resource.getMetadata().getDeletionTimestamp() != null
        || usage.get(resource.getMetadata().getUid()).map(s -> s.running() > 0).orElse(false)) {
      return Optional.empty();
    }
    Optional<Instant> used =
        usage.get(resource.getMetadata().getUid()).map(ComputeUsage.Snapshot::lastUsed);
    return used.isPresent() ? used : Optional.ofNullable(ComputeUsage.idleSince(status));
  }

  /**
   * Removes machines that carry this installation's {@link InstanceId} but whose ComputeResource no
   * longer exists (deleted while the operator was down, or created by a run that crashed before
   * recording it). The machines are listed before the resources, so a machine created for a new
   * resource is always matched by it.
   *
   * <p>Machines of other installations are not even listed (see {@link ComputeHost#listOwned}).
   * Machines with no installation id (made before machines were marked) are adopted by their
   * resource as before, but never removed here: nothing tells whether they are this installation's
   * or another's that shares the host, so each one whose resource is missing is logged once for a
   * person to remove.
   *
   * @param namespaces the namespaces this operator is responsible for; empty for all
   * @return how many machines were removed
   */
  int sweepOrphans(Set<String> namespaces) {
    int removed = 0;
    // Connect to every Docker and Proxmox Provider first: after a restart, a host whose
    // resources were all deleted would otherwise never be opened, and its orphans never seen.
    List<Provider> providers = new ArrayList<>();
    if (namespaces.isEmpty()) {
      providers.addAll(client.resources(Provider.class).inAnyNamespace().list().getItems());
    } else {
      namespaces.forEach(
          ns ->
              providers.addAll(client.resources(Provider.class).inNamespace(ns).list().getItems()));
    }
    Predicate<String> watched = ns -> namespaces.isEmpty() || namespaces.contains(ns);
    for (Provider provider : providers) {
      boolean hostsMachines =
          provider.getSpec() != null
              && (provider.getSpec().type == ProviderSpec.Type.Docker
                  || provider.getSpec().type == ProviderSpec.Type.Proxmox);
      if (hostsMachines && watched.test(provider.getMetadata().getNamespace())) {
        try {
          hosts.hostOf(provider);
        } catch (ComputeException e) {
          LOG.debug(
              "orphan sweep cannot reach Provider {}: {}",
              provider.getMetadata().getName(),
              e.getMessage());
        }
      }
    }
    for (ComputeHost host : hosts.openHosts()) {
      List<Machine> owned;
      try {
        owned = host.listOwned();
      } catch (ComputeException e) {
        LOG.debug("orphan sweep skipped a host: {}", e.getMessage());
        continue;
      }
      Set<String> uids = new HashSet<>();
      owned.stream()
          .map(Machine::owner)
          .filter(o -> o != null && watched.test(o.namespace()))
          .map(Machine.Owner::namespace)
          .distinct()
          .forEach(ns -> list(ns).forEach(r -> uids.add(r.getMetadata().getUid())));
      for (Machine machine : owned) {
        if (machine.owner() == null
            || uids.contains(machine.owner().uid())
            || !watched.test(machine.owner().namespace())) {
          continue;
        }
        if (machine.owner().instance() == null) {
          if (reportedUnmarked.add(machine.resourceId())) {
            LOG.warn(
                "machine {} has no {} label (made by an older version) and its ComputeResource"
                    + " {}/{} does not exist here; it may belong to another installation sharing"
                    + " the host, so it is left running: remove it by hand if it is this one's",
                machine.resourceId(),
                ComputeLabels.INSTANCE,
                machine.owner().namespace(),
                machine.owner().name());
          }
          continue;
        }
        try {
          host.destroy(machine);
          removed++;
          LOG.info(
              "removed orphaned machine {} of deleted ComputeResource {}/{}",
              machine.resourceId(),
              machine.owner().namespace(),
              machine.owner().name());
        } catch (ComputeException e) {
          LOG.warn(
              "could not remove orphaned machine {}: {}", machine.resourceId(), e.getMessage());
        }
      }
    }
    return removed;
  }
}
