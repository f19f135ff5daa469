package io.vera.operator.compute.proxmox;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.compute.Capacity;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.compute.ComputeHost;
import io.vera.operator.compute.ExecRequest;
import io.vera.operator.compute.ExecResult;
import io.vera.operator.compute.HostProbe;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.compute.Machine;
import io.vera.operator.compute.MachineStats;
import io.vera.operator.provider.Credentials;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Proxmox VE cluster as a {@link ComputeHost}: ProxmoxVM resources are VMs cloned from a template
 * (or created empty), ProxmoxLXC resources are containers created from an ostemplate.
 *
 * <p>What it relies on and guarantees:
 *
 * <ul>
 *   <li>Guests live in the Provider's {@code proxmox.vmidRange}; VMIDs are allocated under a lock
 *       in this host (Proxmox's {@code /cluster/nextid} reserves nothing) and the next one is taken
 *       when Proxmox answers "already exists", so concurrent provisions never collide.
 *   <li>Every guest carries the marks of {@link GuestMarks} from the call that creates it, so
 *       {@link #find} and {@link #listOwned} work from Proxmox alone after a restart. Guests marked
 *       with another installation's {@link InstanceId} are never found, listed or finished here.
 *   <li>A provision that fails after the guest exists destroys the guest before it reports the
 *       failure, unless the failure is passing (Proxmox unreachable): then the guest stays, marked,
 *       and the next provision of the same resource finishes it.
 *   <li>{@link #provision} returns a machine in state {@link Machine.State#STARTING} with no
 *       address when the guest runs but its QEMU guest agent (VM) or network (LXC) did not answer
 *       within {@link Timings#agentTimeout()}; calling it again waits again.
 * </ul>
 *
 * <p>It decides what to do and leaves the doing to its parts: {@link ProxmoxClient} speaks the API
 * (session ticket or token, retries, task polling), {@link GuestSpec} turns the plan into
 * parameters, {@link GuestTasks} creates, starts and removes guests, {@link GuestInventory} finds
 * and describes them, {@link GuestAddresses} waits for their address, {@link GuestExec} runs
 * commands through the guest agent, and {@link ProxmoxErrors} says what a failure means.
 */
public final class ProxmoxHost implements ComputeHost {
  private static final Logger LOG = LoggerFactory.getLogger(ProxmoxHost.class);

  /**
   * How long the host waits for Proxmox.
   *
   * @param taskTimeout one task (clone, create, start, stop, delete, resize)
   * @param agentTimeout the QEMU guest agent (VM) or the container's address (LXC) after start
   * @param lockWait a guest or lock-file lock
   * @param backoffInitial first wait between polls and retries, doubled up to {@code backoffMax}
   * @param backoffMax longest wait between polls and retries
   */
  public record Timings(
      Duration taskTimeout,
      Duration agentTimeout,
      Duration lockWait,
      Duration backoffInitial,
      Duration backoffMax) {
    public static final Timings DEFAULT =
        new Timings(
            Duration.ofMinutes(10),
            Duration.ofMinutes(5),
            Duration.ofMinutes(2),
            Duration.ofMillis(200),
            Duration.ofSeconds(2));
  }

  private final ProxmoxClient client;
  private final ProviderSpec.VmidRange range;
  private final String providerPool;
  private final List<String> providerTags;
  private final Timings timings;
  private final InstanceId instance;

  private final GuestAddresses addresses;
  private final GuestInventory guests;
  private final GuestTasks tasks;
  private final GuestExec exec;
  private final ConcurrentMap<String, Object> resourceLocks = new ConcurrentHashMap<>();

  ProxmoxHost(
      ProxmoxClient client,
      ProviderSpec.VmidRange range,
      String providerPool,
      List<String> providerTags,
      int maxResources,
      Timings timings,
      InstanceId instance) {
    this.client = client;
    this.instance = instance;
    this.range = range;
    this.providerPool = providerPool;
    this.providerTags = providerTags == null ? List.of() : List.copyOf(providerTags);
    this.timings = timings;
    VmidAllocator allocator = new VmidAllocator(range, maxResources);
    Polls polls = new Polls(client);
    this.addresses = new GuestAddresses(client, timings.agentTimeout(), polls);
    this.guests = new GuestInventory(client, range, allocator, instance, addresses);
    this.tasks =
        new GuestTasks(
            client, range, allocator, guests, polls, timings.taskTimeout(), timings.lockWait());
    this.exec = new GuestExec(client);
  }

  /** A host for {@code spec} with the default {@link Timings}. */
  public static ProxmoxHost connect(
      ProviderSpec spec, Credentials credentials, Credentials tls, InstanceId instance)
      throws ComputeException {
    return connect(spec, credentials, tls, Timings.DEFAULT, instance);
  }

  /**
   * A host for {@code spec}. Nothing is sent yet. Credentials: {@code tokenId} ({@code
   * USER@REALM!TOKENID}) and {@code tokenSecret}, or {@code username} and {@code password}; {@code
   * tls} may hold {@code ca.crt}.
   *
   * @param instance the installation whose guests this host makes and sees
   */
  public static ProxmoxHost connect(
      ProviderSpec spec,
      Credentials credentials,
      Credentials tls,
      Timings timings,
      InstanceId instance)
      throws ComputeException {
    ProviderSpec.ProxmoxCluster cluster =
        spec.proxmox == null ? new ProviderSpec.ProxmoxCluster() : spec.proxmox;
    ProviderSpec.VmidRange range = cluster.vmidRange;
    if (range != null) {
      if (range.min == null || range.max == null || range.min < 100 || range.max < range.min) {
        throw new ComputeException(
            Reason.INVALID,
            "proxmox.vmidRange must have 100 <= min <= max, got " + (range.min + ".." + range.max));
      }
    }
    Credentials creds = credentials == null ? new Credentials(java.util.Map.of()) : credentials;
    Credentials tlsValues = tls == null ? new Credentials(java.util.Map.of()) : tls;
    Duration callTimeout =
        Duration.ofSeconds(spec.timeoutSeconds == null ? 60 : spec.timeoutSeconds);
    ProxmoxClient.Policy policy =
        new ProxmoxClient.Policy(
            callTimeout,
            spec.retries == null ? 3 : spec.retries,
            timings.lockWait(),
            timings.backoffInitial(),
            timings.backoffMax(),
            ProxmoxClient.Policy.DEFAULT.ticketLifetime());
    try {
      ProxmoxClient client =
          ProxmoxClient.create(
              spec.endpoint,
              creds.get("tokenId").orElse(null),
              creds.get("tokenSecret").orElse(null),
              creds.get("username").orElse(null),
              creds.get("password").orElse(null),
              cluster.verifyTls == null || cluster.verifyTls,
              tlsValues.get("ca.crt").orElse(null),
              policy);
      return new ProxmoxHost(
          client,
          range,
          cluster.pool,
          cluster.tags,
          cluster.maxResources == null ? 10 : cluster.maxResources,
          timings,
          instance);
    } catch (ProxmoxException e) {
      throw new ComputeException(Reason.INVALID, e.getMessage(), e);
    }
  }

  ProxmoxClient client() {
    return client;
  }

  // ---------------------------------------------------------------- probe

  @Override
  public HostProbe probe() throws ComputeException {
    try {
      JsonNode version = client.get("version", Params.of());
      String v = Json.text(version, "version");
      List<HostProbe.Node> nodes = new ArrayList<>();
      Capacity total = Capacity.NONE;
      for (JsonNode n : client.get("nodes", Params.of())) {
        String name = Json.text(n, "node");
        boolean online = "online".equals(Json.text(n, "status"));
        double cpus = Json.asDouble(n, "maxcpu", 0);
        long mem = Json.asLong(n, "maxmem", 0);
        long disk = Json.asLong(n, "maxdisk", 0);
        Capacity free = Capacity.NONE;
        if (online) {
          JsonNode st = client.get("nodes/" + name + "/status", Params.of());
          cpus = Json.asDouble(st.path("cpuinfo"), "cpus", cpus);
          mem = Json.asLong(st.path("memory"), "total", mem);
          long memFree =
              st.path("memory").has("free")
                  ? Json.asLong(st.path("memory"), "free", 0)
                  : mem - Json.asLong(st.path("memory"), "used", 0);
          disk = Json.asLong(st.path("rootfs"), "total", disk);
          long diskFree =
              st.path("rootfs").has("avail")
                  ? Json.asLong(st.path("rootfs"), "avail", 0)
                  : Json.asLong(st.path("rootfs"), "free", 0);
          double load = Json.asDouble(st, "cpu", Json.asDouble(n, "cpu", 0));
          free =
              new Capacity(
                  Math.max(0, cpus * (1 - load)),
                  memFree / GuestConfig.MIB,
                  diskFree / GuestConfig.GIB,
                  0);
        }
        Capacity nodeTotal = new Capacity(cpus, mem / GuestConfig.MIB, disk / GuestConfig.GIB, 0);
        if (online) {
          total = total.plus(nodeTotal);
        }
        nodes.add(new HostProbe.Node(name, online, nodeTotal, free));
      }
      nodes.sort(Comparator.comparing(HostProbe.Node::name));
      return new HostProbe(v == null ? "unknown" : v, total, nodes);
    } catch (ProxmoxException e) {
      throw ProxmoxErrors.map("probe", e);
    }
  }

  // ---------------------------------------------------------------- provision

  @Override
  public Machine provision(ComputeResource resource) throws ComputeException {
    ProxmoxPlan plan = ProxmoxPlan.of(resource, providerPool, providerTags, instance);
    if (range == null) {
      throw new ComputeException(
          Reason.INVALID,
          "the Provider has no proxmox.vmidRange: the operator creates guests only inside a VMID range it owns");
    }
    Object lock = resourceLocks.computeIfAbsent(plan.owner().uid(), k -> new Object());
    synchronized (lock) {
      Guest guest;
      try {
        guest = guests.ownedBy(plan.owner().uid()).orElse(null);
        if (guest == null && tasks.awaitCreationsInFlight()) {
          guest = guests.ownedBy(plan.owner().uid()).orElse(null);
        }
        if (guest != null && guest.lxc() != plan.lxc()) {
          throw new ComputeException(
              Reason.INVALID,
              "guest "
                  + guest.vmid()
                  + " of this resource is a "
                  + (guest.lxc() ? "container" : "VM")
                  + "; delete the resource to change its type");
        }
        if (guest == null) {
          guest = tasks.create(plan);
        } else {
          LOG.info("provision {}: finishing existing guest {}", plan.owner().uid(), guest.id());
        }
      } catch (ProxmoxException e) {
        throw ProxmoxErrors.map("provision " + plan.owner().name(), e);
      }
      try {
        return finish(guest, plan);
      } catch (ProxmoxException | ComputeException e) {
        ComputeException failure =
            e instanceof ComputeException ce
                ? ce
                : ProxmoxErrors.map("provision " + guest.id(), (ProxmoxException) e);
        if (failure.retryable()) {
          throw new ComputeException(
              failure.reason(),
              failure.getMessage()
                  + "; guest "
                  + guest.id()
                  + " is kept and the next provision finishes it",
              failure);
        }
        try {
          tasks.destroy(guest);
        } catch (ProxmoxException d) {
          failure.addSuppressed(d);
          throw new ComputeException(
              failure.reason(),
              failure.getMessage()
                  + "; removing guest "
                  + guest.id()
                  + " failed too ("
                  + d.getMessage()
                  + "); it stays marked and is removed by the next provision or destroy",
              failure);
        }
        throw new ComputeException(
            failure.reason(),
            failure.getMessage() + "; guest " + guest.id() + " was removed",
            failure);
      }
    }
  }

  /**
   * Brings a created or found guest to the plan (config, disk size), starts it and waits for its
   * address; without one in the agent timeout the machine is still STARTING.
   */
  private Machine finish(Guest guest, ProxmoxPlan plan) throws ProxmoxException, ComputeException {
    JsonNode config = tasks.awaitUnlocked(guest);
    Params change =
        plan.lxc()
            ? GuestSpec.lxcChanges(plan, config)
            : GuestSpec.vmChanges(plan, config, instance);
    if (!change.isEmpty()) {
      client.put(guest.path() + "/config", change);
    }
    Optional<Params> resize = GuestSpec.resize(plan, guest, config);
    if (resize.isPresent()) {
      client.runTask("PUT", guest.path() + "/resize", resize.get(), timings.taskTimeout());
    }
    tasks.startIfStopped(guest);
    String address = addresses.await(guest);
    return GuestInventory.machine(
        guest,
        plan.owner(),
        address == null ? Machine.State.STARTING : Machine.State.RUNNING,
        address,
        plan.capacity());
  }

  // ---------------------------------------------------------------- find, list

  @Override
  public Optional<Machine> find(String resourceUid) throws ComputeException {
    try {
      Optional<Guest> guest = guests.ownedBy(resourceUid);
      if (guest.isEmpty()) {
        return Optional.empty();
      }
      Machine m = guests.describe(guest.get());
      return guests.adoptable(m) ? Optional.of(m) : Optional.empty();
    } catch (ProxmoxException e) {
      throw ProxmoxErrors.map("find " + resourceUid, e);
    }
  }

  @Override
  public List<Machine> listOwned() throws ComputeException {
    try {
      return guests.ownedMachines();
    } catch (ProxmoxException e) {
      throw ProxmoxErrors.map("list guests", e);
    }
  }

  // ---------------------------------------------------------------- destroy

  @Override
  public void destroy(Machine machine) throws ComputeException {
    try {
      Optional<Guest> guest = guests.current(machine);
      if (guest.isEmpty()) {
        return;
      }
      tasks.destroy(guest.get());
    } catch (ProxmoxException e) {
      if (e.notFound()) {
        return;
      }
      throw ProxmoxErrors.map("destroy " + machine.resourceId(), e);
    }
  }

  // ---------------------------------------------------------------- exec, stats

  /**
   * Runs the command through the QEMU guest agent; see {@link GuestExec} for working directory,
   * environment, output caps and what a timeout does to the process.
   *
   * @throws ComputeException {@link Reason#UNSUPPORTED} for an LXC container: the Proxmox API has
   *     no way to run a command in one
   */
  @Override
  public ExecResult exec(Machine machine, ExecRequest request) throws ComputeException {
    try {
      Guest guest = require(machine);
      if (guest.lxc()) {
        throw new ComputeException(
            Reason.UNSUPPORTED,
            machine.resourceId()
                + " is an LXC container: the Proxmox VE API has no call to run a command in a "
                + "container (only in VMs, through the QEMU guest agent); use a ProxmoxVM to run commands");
      }
      if (request.argv().isEmpty()) {
        throw new ComputeException(Reason.INVALID, "exec needs a command");
      }
      return exec.run(guest.path(), request);
    } catch (ProxmoxException e) {
      if (ProxmoxErrors.agentAbsent(e)) {
        throw new ComputeException(
            Reason.UNAVAILABLE,
            "the QEMU guest agent of "
                + machine.resourceId()
                + " does not answer: "
                + e.getMessage(),
            e);
      }
      throw ProxmoxErrors.map("exec in " + machine.resourceId(), e);
    }
  }

  @Override
  public MachineStats stats(Machine machine) throws ComputeException {
    try {
      Guest guest = require(machine);
      JsonNode st = client.get(guest.path() + "/status/current", Params.of());
      return new MachineStats(
          Json.asDouble(st, "cpu", -0.01) * 100,
          Json.asLong(st, "mem", -1),
          Json.asLong(st, "maxmem", -1),
          Json.asLong(st, "netin", -1),
          Json.asLong(st, "netout", -1),
          Instant.now());
    } catch (ProxmoxException e) {
      throw ProxmoxErrors.map("stats of " + machine.resourceId(), e);
    }
  }

  private Guest require(Machine machine) throws ProxmoxException, ComputeException {
    return guests
        .current(machine)
        .orElseThrow(
            () ->
                new ComputeException(
                    Reason.NOT_FOUND, machine.resourceId() + " no longer exists in Proxmox"));
  }

  @Override
  public void close() {
    client.close();
  }
}
