package io.vera.operator.compute.proxmox;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.compute.Capacity;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.compute.ComputeHost;
import io.vera.operator.compute.ComputeLabels;
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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
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
 */
public final class ProxmoxHost implements ComputeHost {
  private static final Logger LOG = LoggerFactory.getLogger(ProxmoxHost.class);

  /** How many VMIDs one provision tries when Proxmox keeps answering "already exists". */
  private static final int VMID_ATTEMPTS = 25;

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

  private final VmidAllocator allocator;
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
    this.allocator = new VmidAllocator(range, maxResources);
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
      throw map("probe", e);
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
        guest = findGuest(plan.owner().uid()).orElse(null);
        if (guest == null && awaitCreationsInFlight()) {
          guest = findGuest(plan.owner().uid()).orElse(null);
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
          guest = create(plan);
        } else {
          LOG.info("provision {}: finishing existing guest {}", plan.owner().uid(), guest.id());
        }
      } catch (ProxmoxException e) {
        throw map("provision " + plan.owner().name(), e);
      }
      try {
        return plan.lxc() ? finishLxc(guest, plan) : finishVm(guest, plan);
      } catch (ProxmoxException | ComputeException e) {
        ComputeException failure =
            e instanceof ComputeException ce
                ? ce
                : map("provision " + guest.id(), (ProxmoxException) e);
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
          destroyGuest(guest);
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
   * Waits while a guest in the owned range is still being cloned or created by someone other than
   * this host (an operator instance before a restart): Proxmox writes such a guest's name and
   * description only when the task ends, so until then nobody can tell whose it is, and creating
   * another one now could duplicate it. Answers whether it waited.
   */
  private boolean awaitCreationsInFlight() throws ProxmoxException, ComputeException {
    Instant deadline = Instant.now().plus(timings.taskTimeout());
    boolean waited = false;
    for (int polls = 0; ; polls++) {
      Optional<Guest> inFlight =
          listGuests().stream()
              .filter(g -> allocator.contains(g.vmid()) && !allocator.heldHere(g.vmid()))
              .filter(g -> "clone".equals(g.lock()) || "create".equals(g.lock()))
              .filter(g -> !GuestMarks.marked(g.tags(), g.name()))
              .findFirst();
      if (inFlight.isEmpty()) {
        return waited;
      }
      if (Instant.now().isAfter(deadline)) {
        throw new ComputeException(
            Reason.UNAVAILABLE,
            inFlight.get().id() + " is still being created (lock " + inFlight.get().lock() + ")");
      }
      if (!waited) {
        LOG.info(
            "{} is being created by an earlier operator run; waiting before creating",
            inFlight.get().id());
      }
      waited = true;
      sleep(backoff(polls));
    }
  }

  /** Allocates a VMID and creates the guest, moving to the next VMID on "already exists". */
  private Guest create(ProxmoxPlan plan) throws ProxmoxException, ComputeException {
    Set<Integer> tried = new LinkedHashSet<>();
    Integer template = plan.lxc() || plan.template() == null ? null : templateVmid(plan);
    for (int attempt = 0; attempt < VMID_ATTEMPTS; attempt++) {
      int vmid = allocator.allocate(this::listGuests);
      tried.add(vmid);
      Guest guest = new Guest(plan.node(), vmid, plan.lxc(), null, Set.of(), "stopped", null);
      String path;
      Params params;
      if (plan.lxc()) {
        path = "nodes/" + plan.node() + "/lxc";
        params = lxcCreateParams(plan, vmid);
      } else if (template != null) {
        path = "nodes/" + plan.node() + "/qemu/" + template + "/clone";
        params =
            Params.of()
                .put("newid", vmid)
                .put("name", GuestMarks.guestName(plan.owner().uid()))
                .put("description", GuestMarks.description(plan.owner()))
                .put("full", plan.fullClone())
                .put("pool", plan.pool());
        if (plan.fullClone()) {
          params.put("storage", plan.storage());
        }
      } else {
        path = "nodes/" + plan.node() + "/qemu";
        params = vmCreateParams(plan, vmid);
      }
      try {
        client.runTask("POST", path, params, timings.taskTimeout());
        LOG.info("created guest {} for {}", guest.id(), plan.owner().uid());
        return guest;
      } catch (ProxmoxException e) {
        if (e.alreadyExists()) {
          Optional<Guest> taken = guestByVmid(vmid);
          if (taken.isPresent()
              && GuestMarks.ownerUid(taken.get().tags(), taken.get().name())
                  .filter(plan.owner().uid()::equals)
                  .isPresent()) {
            return taken.get(); // our own earlier call went through after all
          }
          LOG.info("VMID {} is taken outside this operator; trying the next one", vmid);
          continue;
        }
        if (e.kind() == ProxmoxException.Kind.TASK) {
          // Proxmox removes a failed clone itself, but not always all of it.
          guestByVmid(vmid)
              .filter(g -> GuestMarks.ownerUid(g.tags(), g.name()).isPresent())
              .ifPresent(this::destroyQuietly);
          allocator.release(vmid);
        } else if (e.kind() == ProxmoxException.Kind.HTTP) {
          allocator.release(vmid); // refused: nothing was created
        }
        if (template != null && e.notFound() && e.kind() == ProxmoxException.Kind.HTTP) {
          throw new ComputeException(
              Reason.INVALID,
              "template VMID "
                  + template
                  + " does not exist on node "
                  + plan.node()
                  + ": "
                  + e.getMessage(),
              e);
        }
        throw e;
      }
    }
    throw new ComputeException(
        Reason.UNAVAILABLE,
        "every VMID tried was taken by someone else ("
            + tried
            + "); is another system using range "
            + range.min
            + ".."
            + range.max
            + "?");
  }

  private Params lxcCreateParams(ProxmoxPlan plan, int vmid) {
    return Params.of()
        .put("vmid", vmid)
        .put("ostemplate", plan.ostemplate())
        .put("hostname", GuestMarks.guestName(plan.owner().uid()))
        .put("description", GuestMarks.description(plan.owner()))
        .put("tags", GuestMarks.tagList(GuestMarks.tags(plan.owner(), plan.tags())))
        .put("pool", plan.pool())
        .put("cores", plan.cores())
        .put("memory", plan.memoryMb())
        .put("rootfs", plan.storage() + ":" + plan.diskGb())
        .put("net0", "name=eth0,bridge=" + plan.bridge() + ",ip=dhcp")
        .put("unprivileged", true);
  }

  private Params vmCreateParams(ProxmoxPlan plan, int vmid) {
    Params p =
        Params.of()
            .put("vmid", vmid)
            .put("name", GuestMarks.guestName(plan.owner().uid()))
            .put("description", GuestMarks.description(plan.owner()))
            .put("tags", GuestMarks.tagList(GuestMarks.tags(plan.owner(), plan.tags())))
            .put("pool", plan.pool())
            .put("cores", plan.cores())
            .put("memory", Long.toString(plan.memoryMb()))
            .put("ostype", "l26")
            .put("scsihw", "virtio-scsi-single")
            .put("scsi0", plan.storage() + ":" + plan.diskGb())
            .put("net0", "virtio,bridge=" + plan.bridge())
            .put("agent", "1");
    for (int i = 0; i < plan.gpuCount(); i++) {
      p.put("hostpci" + i, "mapping=" + plan.gpuMapping());
    }
    return p;
  }

  private int templateVmid(ProxmoxPlan plan) throws ProxmoxException, ComputeException {
    String t = plan.template();
    if (t.chars().allMatch(Character::isDigit)) {
      return Integer.parseInt(t);
    }
    List<Integer> matches = new ArrayList<>();
    for (JsonNode vm : client.get("nodes/" + plan.node() + "/qemu", Params.of())) {
      if (t.equals(Json.text(vm, "name")) && Json.asBool(vm, "template")) {
        matches.add((int) Json.asLong(vm, "vmid", -1));
      }
    }
    if (matches.isEmpty()) {
      throw new ComputeException(
          Reason.INVALID, "no VM template named '" + t + "' on node " + plan.node());
    }
    matches.sort(Comparator.naturalOrder());
    if (matches.size() > 1) {
      LOG.warn(
          "several templates named {} on {}: {}; using {}",
          t,
          plan.node(),
          matches,
          matches.get(0));
    }
    return matches.get(0);
  }

  private Machine finishVm(Guest guest, ProxmoxPlan plan)
      throws ProxmoxException, ComputeException {
    String path = guest.path();
    JsonNode config = awaitUnlocked(guest);
    Params change = Params.of();
    Set<String> wantTags = new LinkedHashSet<>(GuestMarks.tags(plan.owner(), plan.tags()));
    if (!GuestMarks.parseTags(Json.text(config, "tags")).equals(wantTags)) {
      change.put("tags", GuestMarks.tagList(new ArrayList<>(wantTags)));
    }
    if (Json.asLong(config, "cores", 1) != plan.cores()) {
      change.put("cores", plan.cores());
    }
    if (GuestConfig.memoryMb(config) != plan.memoryMb()) {
      change.put("memory", Long.toString(plan.memoryMb()));
    }
    if (!GuestConfig.agentEnabled(Json.text(config, "agent"))) {
      change.put("agent", "1");
    }
    for (int i = 0; i < plan.gpuCount(); i++) {
      String want = "mapping=" + plan.gpuMapping();
      if (!want.equals(Json.text(config, "hostpci" + i))) {
        change.put("hostpci" + i, want);
      }
    }
    String description = Json.text(config, "description");
    if (GuestMarks.descriptionValue(description, ComputeLabels.RESOURCE_UID)
            .filter(plan.owner().uid()::equals)
            .isEmpty()
        || GuestMarks.descriptionValue(description, ComputeLabels.INSTANCE)
            .filter(instance::made)
            .isEmpty()) {
      change.put("description", GuestMarks.description(plan.owner()));
    }
    if (!change.isEmpty()) {
      client.put(path + "/config", change);
    }
    String disk = GuestConfig.bootDisk(config);
    if (disk == null) {
      throw new ComputeException(
          Reason.INVALID,
          "VM " + guest.vmid() + " has no disk to boot from (template without a disk?)");
    }
    long size = GuestConfig.sizeBytes(Json.text(config, disk));
    if ((long) plan.diskGb() * GuestConfig.GIB > size) {
      client.runTask(
          "PUT",
          path + "/resize",
          Params.of().put("disk", disk).put("size", plan.diskGb() + "G"),
          timings.taskTimeout());
    }
    startIfStopped(guest);
    String address = awaitVmAddress(guest);
    return machine(
        guest,
        plan.owner(),
        address == null ? Machine.State.STARTING : Machine.State.RUNNING,
        address,
        plan.capacity());
  }

  private Machine finishLxc(Guest guest, ProxmoxPlan plan)
      throws ProxmoxException, ComputeException {
    String path = guest.path();
    JsonNode config = awaitUnlocked(guest);
    Params change = Params.of();
    Set<String> wantTags = new LinkedHashSet<>(GuestMarks.tags(plan.owner(), plan.tags()));
    if (!GuestMarks.parseTags(Json.text(config, "tags")).equals(wantTags)) {
      change.put("tags", GuestMarks.tagList(new ArrayList<>(wantTags)));
    }
    if (Json.asLong(config, "cores", -1) != plan.cores()) {
      change.put("cores", plan.cores());
    }
    if (Json.asLong(config, "memory", 512) != plan.memoryMb()) {
      change.put("memory", plan.memoryMb());
    }
    if (!change.isEmpty()) {
      client.put(path + "/config", change);
    }
    long size = GuestConfig.sizeBytes(Json.text(config, "rootfs"));
    if ((long) plan.diskGb() * GuestConfig.GIB > size) {
      client.runTask(
          "PUT",
          path + "/resize",
          Params.of().put("disk", "rootfs").put("size", plan.diskGb() + "G"),
          timings.taskTimeout());
    }
    startIfStopped(guest);
    String address = awaitLxcAddress(guest);
    return machine(
        guest,
        plan.owner(),
        address == null ? Machine.State.STARTING : Machine.State.RUNNING,
        address,
        plan.capacity());
  }

  /** The guest's config once no lock (clone, create, backup...) is on it. */
  private JsonNode awaitUnlocked(Guest guest) throws ProxmoxException, ComputeException {
    Instant deadline = Instant.now().plus(timings.lockWait()).plus(timings.taskTimeout());
    int polls = 0;
    while (true) {
      JsonNode config = client.get(guest.path() + "/config", Params.of());
      String lock = Json.text(config, "lock");
      if (lock == null || lock.isBlank()) {
        return config;
      }
      if (Instant.now().isAfter(deadline)) {
        throw new ComputeException(
            Reason.UNAVAILABLE, "guest " + guest.id() + " is still locked (" + lock + ")");
      }
      LOG.debug("guest {} is locked ({}); waiting", guest.id(), lock);
      sleep(backoff(polls++));
    }
  }

  private void startIfStopped(Guest guest) throws ProxmoxException {
    JsonNode status = client.get(guest.path() + "/status/current", Params.of());
    if (!"running".equals(Json.text(status, "status"))) {
      client.runTask("POST", guest.path() + "/status/start", Params.of(), timings.taskTimeout());
    }
  }

  /**
   * Waits until the guest agent answers and reports an address; null when {@link
   * Timings#agentTimeout()} passes first.
   */
  private String awaitVmAddress(Guest guest) throws ProxmoxException {
    Instant deadline = Instant.now().plus(timings.agentTimeout());
    int polls = 0;
    while (true) {
      try {
        client.post(guest.path() + "/agent/ping", Params.of());
        String address = vmAddress(guest);
        if (address != null) {
          return address;
        }
      } catch (ProxmoxException e) {
        if (!agentAbsent(e)) {
          throw e;
        }
      }
      if (Instant.now().isAfter(deadline)) {
        LOG.info("guest agent of {} did not answer within {}", guest.id(), timings.agentTimeout());
        return null;
      }
      sleep(backoff(polls++));
    }
  }

  private static boolean agentAbsent(ProxmoxException e) {
    String t = ProxmoxClient.lower(e.getMessage());
    return e.kind() == ProxmoxException.Kind.HTTP
        && (t.contains("guest agent") || t.contains("qga") || t.contains("not running"));
  }

  /** First non-loopback IPv4 the guest agent reports, or null. */
  private String vmAddress(Guest guest) throws ProxmoxException {
    JsonNode answer = client.get(guest.path() + "/agent/network-get-interfaces", Params.of());
    for (JsonNode iface : answer.path("result")) {
      if ("lo".equals(Json.text(iface, "name"))) {
        continue;
      }
      for (JsonNode ip : iface.path("ip-addresses")) {
        String a = Json.text(ip, "ip-address");
        if ("ipv4".equals(Json.text(ip, "ip-address-type")) && usable(a)) {
          return a;
        }
      }
    }
    return null;
  }

  private String awaitLxcAddress(Guest guest) throws ProxmoxException {
    Instant deadline = Instant.now().plus(timings.agentTimeout());
    int polls = 0;
    while (true) {
      String address = lxcAddress(guest);
      if (address != null) {
        return address;
      }
      if (Instant.now().isAfter(deadline)) {
        LOG.info(
            "container {} reported no IPv4 address within {}", guest.id(), timings.agentTimeout());
        return null;
      }
      sleep(backoff(polls++));
    }
  }

  private String lxcAddress(Guest guest) throws ProxmoxException {
    JsonNode ifaces = client.get(guest.path() + "/interfaces", Params.of());
    if (ifaces == null || !ifaces.isArray()) {
      return null; // a stopped container has no interfaces to report
    }
    for (JsonNode iface : ifaces) {
      if ("lo".equals(Json.text(iface, "name"))) {
        continue;
      }
      String inet = Json.text(iface, "inet");
      if (inet != null) {
        String a = inet.contains("/") ? inet.substring(0, inet.indexOf('/')) : inet;
        if (usable(a)) {
          return a;
        }
      }
      for (JsonNode ip : iface.path("ip-addresses")) {
        String a = Json.text(ip, "ip-address");
        if ("inet".equals(Json.text(ip, "ip-address-type"))
            || "ipv4".equals(Json.text(ip, "ip-address-type"))) {
          if (usable(a)) {
            return a;
          }
        }
      }
    }
    return null;
  }

  private static boolean usable(String ipv4) {
    return ipv4 != null
        && !ipv4.isBlank()
        && !ipv4.startsWith("127.")
        && !ipv4.startsWith("169.254.")
        && ipv4.contains(".");
  }

  // ---------------------------------------------------------------- find, list

  @Override
  public Optional<Machine> find(String resourceUid) throws ComputeException {
    try {
      Optional<Guest> guest = findGuest(resourceUid);
      if (guest.isEmpty()) {
        return Optional.empty();
      }
      Machine m = describe(guest.get());
      return m.owner() == null || instance.mayAdopt(m.owner().instance())
          ? Optional.of(m)
          : Optional.empty();
    } catch (ProxmoxException e) {
      throw map("find " + resourceUid, e);
    }
  }

  @Override
  public List<Machine> listOwned() throws ComputeException {
    try {
      List<Machine> out = new ArrayList<>();
      for (Guest g : listGuests()) {
        if (owned(g) && tagAdoptable(g)) {
          try {
            Machine m = describe(g);
            if (m.owner() == null || instance.mayAdopt(m.owner().instance())) {
              out.add(m);
            }
          } catch (ProxmoxException e) {
            if (!e.notFound()) {
              throw e;
            } // removed while we listed
          }
        }
      }
      return out;
    } catch (ProxmoxException e) {
      throw map("list guests", e);
    }
  }

  private boolean owned(Guest g) {
    return (range == null || allocator.contains(g.vmid())) && GuestMarks.marked(g.tags(), g.name());
  }

  /**
   * Whether the guest's tags allow this installation to take it: an instance tag of ours, or none
   * (then the description may still name another installation; see {@link #listOwned}).
   */
  private boolean tagAdoptable(Guest g) {
    return instance.mayAdopt(GuestMarks.instanceTag(g.tags()).orElse(null));
  }

  private Optional<Guest> findGuest(String uid) throws ProxmoxException {
    return listGuests().stream()
        .filter(this::owned)
        .filter(this::tagAdoptable)
        .filter(g -> GuestMarks.ownerUid(g.tags(), g.name()).filter(uid::equals).isPresent())
        .min(Comparator.comparingInt(Guest::vmid));
  }

  private Optional<Guest> guestByVmid(int vmid) throws ProxmoxException {
    return listGuests().stream().filter(g -> g.vmid() == vmid).findFirst();
  }

  /**
   * Every VM and container of the cluster (templates left out), from {@code /cluster/resources}.
   */
  private List<Guest> listGuests() throws ProxmoxException {
    List<Guest> out = new ArrayList<>();
    for (JsonNode r : client.get("cluster/resources", Params.of().put("type", "vm"))) {
      String type = Json.text(r, "type");
      if (!"qemu".equals(type) && !"lxc".equals(type)) {
        continue;
      }
      if (Json.asBool(r, "template")) {
        continue;
      }
      int vmid = (int) Json.asLong(r, "vmid", -1);
      if (vmid < 0) {
        continue;
      }
      out.add(
          new Guest(
              Json.text(r, "node"),
              vmid,
              "lxc".equals(type),
              Json.text(r, "name"),
              GuestMarks.parseTags(Json.text(r, "tags")),
              Json.text(r, "status"),
              Json.text(r, "lock")));
    }
    return out;
  }

  /** A machine from the guest's live state, config and (when running) address. */
  private Machine describe(Guest g) throws ProxmoxException {
    JsonNode config = client.get(g.path() + "/config", Params.of());
    Machine.Owner owner =
        GuestMarks.owner(g.tags(), g.name(), Json.text(config, "description")).orElse(null);
    int gpus = 0;
    for (int i = 0; i < 16; i++) {
      if (config.has("hostpci" + i)) {
        gpus++;
      }
    }
    long memory = g.lxc() ? Json.asLong(config, "memory", 512) : GuestConfig.memoryMb(config);
    String diskKey = g.lxc() ? "rootfs" : GuestConfig.bootDisk(config);
    long disk =
        diskKey == null ? 0 : GuestConfig.sizeBytes(Json.text(config, diskKey)) / GuestConfig.GIB;
    Capacity capacity = new Capacity(Json.asLong(config, "cores", 1), memory, disk, gpus);
    String address = null;
    Machine.State state;
    if (g.lock() != null && !g.lock().isBlank()) {
      state = Machine.State.STARTING;
    } else if ("running".equals(g.status())) {
      try {
        address = g.lxc() ? lxcAddress(g) : vmAddress(g);
      } catch (ProxmoxException e) {
        if (!agentAbsent(e)) {
          throw e;
        }
      }
      state = address == null && !g.lxc() ? Machine.State.STARTING : Machine.State.RUNNING;
    } else if ("stopped".equals(g.status())) {
      state = Machine.State.STOPPED;
    } else {
      state = Machine.State.FAILED;
    }
    return machine(g, owner, state, address, capacity);
  }

  private static Machine machine(
      Guest g, Machine.Owner owner, Machine.State state, String address, Capacity capacity) {
    return new Machine(
        "proxmox-" + g.node() + "-" + g.vmid(),
        g.node() + "/" + g.vmid(),
        owner,
        state,
        address,
        capacity);
  }

  // ---------------------------------------------------------------- destroy

  @Override
  public void destroy(Machine machine) throws ComputeException {
    try {
      Optional<Guest> guest = current(machine);
      if (guest.isEmpty()) {
        return;
      }
      destroyGuest(guest.get());
    } catch (ProxmoxException e) {
      if (e.notFound()) {
        return;
      }
      throw map("destroy " + machine.resourceId(), e);
    }
  }

  /**
   * The guest behind {@code machine} as Proxmox shows it now (it may have moved node), if it is
   * still the same machine: a VMID reused by someone else is not ours to delete.
   */
  private Optional<Guest> current(Machine machine) throws ProxmoxException, ComputeException {
    int vmid = vmidOf(machine);
    Optional<Guest> guest = guestByVmid(vmid);
    if (guest.isEmpty()) {
      allocator.release(vmid);
      return Optional.empty();
    }
    Optional<String> uid = GuestMarks.ownerUid(guest.get().tags(), guest.get().name());
    String wanted = machine.owner() == null ? null : machine.owner().uid();
    if (uid.isEmpty() || (wanted != null && !wanted.equals(uid.get()))) {
      LOG.warn(
          "VMID {} now holds a guest that is not {}'s; leaving it alone",
          vmid,
          machine.resourceId());
      return Optional.empty();
    }
    return guest;
  }

  private static int vmidOf(Machine machine) throws ComputeException {
    String id = machine.nativeId();
    int slash = id == null ? -1 : id.lastIndexOf('/');
    try {
      return Integer.parseInt(id.substring(slash + 1));
    } catch (RuntimeException e) {
      throw new ComputeException(
          Reason.INVALID, "not a Proxmox machine id (node/vmid): " + machine.nativeId());
    }
  }

  /** Stops the guest (waiting for the task), then deletes it with its disks. Gone is success. */
  private void destroyGuest(Guest guest) throws ProxmoxException {
    try {
      JsonNode status = client.get(guest.path() + "/status/current", Params.of());
      if (!"stopped".equals(Json.text(status, "status"))) {
        client.runTask("POST", guest.path() + "/status/stop", Params.of(), timings.taskTimeout());
      }
      client.runTask(
          "DELETE",
          guest.path(),
          Params.of().put("purge", true).put("destroy-unreferenced-disks", true),
          timings.taskTimeout());
      LOG.info("destroyed guest {}", guest.id());
    } catch (ProxmoxException e) {
      if (!e.notFound()) {
        throw e;
      }
    }
    allocator.release(guest.vmid());
  }

  private void destroyQuietly(Guest guest) {
    try {
      destroyGuest(guest);
    } catch (ProxmoxException e) {
      LOG.warn("could not remove half-made guest {}: {}", guest.id(), e.getMessage());
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
      if (agentAbsent(e)) {
        throw new ComputeException(
            Reason.UNAVAILABLE,
            "the QEMU guest agent of "
                + machine.resourceId()
                + " does not answer: "
                + e.getMessage(),
            e);
      }
      throw map("exec in " + machine.resourceId(), e);
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
      throw map("stats of " + machine.resourceId(), e);
    }
  }

  private Guest require(Machine machine) throws ProxmoxException, ComputeException {
    return current(machine)
        .orElseThrow(
            () ->
                new ComputeException(
                    Reason.NOT_FOUND, machine.resourceId() + " no longer exists in Proxmox"));
  }

  @Override
  public void close() {
    client.close();
  }

  // ---------------------------------------------------------------- helpers

  private Duration backoff(int attempt) {
    return client.policy().backoff(attempt);
  }

  private static void sleep(Duration d) throws ProxmoxException {
    try {
      Thread.sleep(Math.max(1, d.toMillis()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ProxmoxException(ProxmoxException.Kind.TIMEOUT, "interrupted while waiting", e);
    }
  }

  static ComputeException map(String what, ProxmoxException e) {
    Reason reason;
    if (e.kind() == ProxmoxException.Kind.TASK) {
      reason = e.locked() || e.transientFailure() ? Reason.UNAVAILABLE : Reason.FAILED;
    } else if (e.kind() == ProxmoxException.Kind.NETWORK
        || e.kind() == ProxmoxException.Kind.TIMEOUT
        || e.kind() == ProxmoxException.Kind.TLS) {
      reason = Reason.UNAVAILABLE;
    } else if (e.notFound()) {
      reason = Reason.NOT_FOUND;
    } else if (e.status() == 400 || e.status() == 403) {
      reason = Reason.INVALID;
    } else if (e.status() == 401 || e.locked() || e.transientFailure()) {
      reason = Reason.UNAVAILABLE;
    } else {
      reason = Reason.FAILED;
    }
    return new ComputeException(reason, what + ": " + e.getMessage(), e);
  }
}
