package io.vera.operator.compute.proxmox;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Proxmox tasks that make, start and remove this host's guests, each waited for: creating a
 * guest in a VMID of the owned range (the next one when Proxmox answers "already exists"), waiting
 * out creations of an earlier operator run and guest locks, starting, and stopping and deleting
 * with its disks.
 */
final class GuestTasks {
  private static final Logger LOG = LoggerFactory.getLogger(GuestTasks.class);

  /** How many VMIDs one provision tries when Proxmox keeps answering "already exists". */
  private static final int VMID_ATTEMPTS = 25;

  private final ProxmoxClient client;
  private final ProviderSpec.VmidRange range;
  private final VmidAllocator allocator;
  private final GuestInventory guests;
  private final Polls polls;
  private final Duration taskTimeout;
  private final Duration lockWait;

  /**
   * @param taskTimeout the wait for one task (clone, create, start, stop, delete, resize)
   * @param lockWait the wait for a guest's lock on top of a task's
   */
  GuestTasks(
      ProxmoxClient client,
      ProviderSpec.VmidRange range,
      VmidAllocator allocator,
      GuestInventory guests,
      Polls polls,
      Duration taskTimeout,
      Duration lockWait) {
    this.client = client;
    this.range = range;
    this.allocator = allocator;
    this.guests = guests;
    this.polls = polls;
    this.taskTimeout = taskTimeout;
    this.lockWait = lockWait;
  }

  /**
   * Waits while a guest in the owned range is still being cloned or created by someone other than
   * this host (an operator instance before a restart): Proxmox writes such a guest's name and
   * description only when the task ends, so until then nobody can tell whose it is, and creating
   * another one now could duplicate it. Answers whether it waited.
   */
  boolean awaitCreationsInFlight() throws ProxmoxException, ComputeException {
    Instant deadline = Instant.now().plus(taskTimeout);
    boolean waited = false;
    for (int polled = 0; ; polled++) {
      Optional<Guest> inFlight =
          guests.all().stream()
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
      polls.pause(polled);
    }
  }

  /** Allocates a VMID and creates the guest, moving to the next VMID on "already exists". */
  Guest create(ProxmoxPlan plan) throws ProxmoxException, ComputeException {
    Set<Integer> tried = new LinkedHashSet<>();
    Integer template = plan.lxc() || plan.template() == null ? null : templateVmid(plan);
    for (int attempt = 0; attempt < VMID_ATTEMPTS; attempt++) {
      int vmid = allocator.allocate(guests::all);
      tried.add(vmid);
      Guest guest = new Guest(plan.node(), vmid, plan.lxc(), null, Set.of(), "stopped", null);
      GuestSpec.Create call = GuestSpec.create(plan, vmid, template);
      try {
        client.runTask("POST", call.path(), call.params(), taskTimeout);
        LOG.info("created guest {} for {}", guest.id(), plan.owner().uid());
        return guest;
      } catch (ProxmoxException e) {
        if (e.alreadyExists()) {
          Optional<Guest> taken = guests.byVmid(vmid);
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
          guests
              .byVmid(vmid)
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

  /** The guest's config once no lock (clone, create, backup...) is on it. */
  JsonNode awaitUnlocked(Guest guest) throws ProxmoxException, ComputeException {
    Instant deadline = Instant.now().plus(lockWait).plus(taskTimeout);
    int polled = 0;
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
      polls.pause(polled++);
    }
  }

  void startIfStopped(Guest guest) throws ProxmoxException {
    JsonNode status = client.get(guest.path() + "/status/current", Params.of());
    if (!"running".equals(Json.text(status, "status"))) {
      client.runTask("POST", guest.path() + "/status/start", Params.of(), taskTimeout);
    }
  }

  /** Stops the guest (waiting for the task), then deletes it with its disks. Gone is success. */
  void destroy(Guest guest) throws ProxmoxException {
    try {
      JsonNode status = client.get(guest.path() + "/status/current", Params.of());
      if (!"stopped".equals(Json.text(status, "status"))) {
        client.runTask("POST", guest.path() + "/status/stop", Params.of(), taskTimeout);
      }
      client.runTask(
          "DELETE",
          guest.path(),
          Params.of().put("purge", true).put("destroy-unreferenced-disks", true),
          taskTimeout);
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
      destroy(guest);
    } catch (ProxmoxException e) {
      LOG.warn("could not remove half-made guest {}: {}", guest.id(), e.getMessage());
    }
  }
}
