package io.vera.operator.compute.proxmox;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.compute.Capacity;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.compute.Machine;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster's guests as this installation sees them, read from Proxmox alone so it holds after a
 * restart: which are ours (in the owned VMID range, with the marks of {@link GuestMarks}, and no
 * other installation's), which one a resource owns, and each as a {@link Machine} from its live
 * state, config and address.
 */
final class GuestInventory {
  private static final Logger LOG = LoggerFactory.getLogger(GuestInventory.class);

  private final ProxmoxClient client;
  private final ProviderSpec.VmidRange range;
  private final VmidAllocator allocator;
  private final InstanceId instance;
  private final GuestAddresses addresses;

  GuestInventory(
      ProxmoxClient client,
      ProviderSpec.VmidRange range,
      VmidAllocator allocator,
      InstanceId instance,
      GuestAddresses addresses) {
    this.client = client;
    this.range = range;
    this.allocator = allocator;
    this.instance = instance;
    this.addresses = addresses;
  }

  /**
   * Every VM and container of the cluster (templates left out), from {@code /cluster/resources}.
   */
  List<Guest> all() throws ProxmoxException {
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

  /** The guest a resource owns (the lowest VMID, should there be two), if any. */
  Optional<Guest> ownedBy(String uid) throws ProxmoxException {
    return all().stream()
        .filter(this::owned)
        .filter(this::tagAdoptable)
        .filter(g -> GuestMarks.ownerUid(g.tags(), g.name()).filter(uid::equals).isPresent())
        .min(Comparator.comparingInt(Guest::vmid));
  }

  Optional<Guest> byVmid(int vmid) throws ProxmoxException {
    return all().stream().filter(g -> g.vmid() == vmid).findFirst();
  }

  /** Our guests as machines; those removed while listing are left out. */
  List<Machine> ownedMachines() throws ProxmoxException {
    List<Machine> out = new ArrayList<>();
    for (Guest g : all()) {
      if (owned(g) && tagAdoptable(g)) {
        try {
          Machine m = describe(g);
          if (adoptable(m)) {
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
  }

  /** Whether this installation may take the machine (its description names no other). */
  boolean adoptable(Machine m) {
    return m.owner() == null || instance.mayAdopt(m.owner().instance());
  }

  private boolean owned(Guest g) {
    return (range == null || allocator.contains(g.vmid())) && GuestMarks.marked(g.tags(), g.name());
  }

  /**
   * Whether the guest's tags allow this installation to take it: an instance tag of ours, or none
   * (then the description may still name another installation; see {@link #adoptable}).
   */
  private boolean tagAdoptable(Guest g) {
    return instance.mayAdopt(GuestMarks.instanceTag(g.tags()).orElse(null));
  }

  /**
   * The guest behind {@code machine} as Proxmox shows it now (it may have moved node), if it is
   * still the same machine: a VMID reused by someone else is not ours to delete.
   */
  Optional<Guest> current(Machine machine) throws ProxmoxException, ComputeException {
    int vmid = vmidOf(machine);
    Optional<Guest> guest = byVmid(vmid);
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

  /** A machine from the guest's live state, config and (when running) address. */
  Machine describe(Guest g) throws ProxmoxException {
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
      address = addresses.now(g);
      state = address == null && !g.lxc() ? Machine.State.STARTING : Machine.State.RUNNING;
    } else if ("stopped".equals(g.status())) {
      state = Machine.State.STOPPED;
    } else {
      state = Machine.State.FAILED;
    }
    return machine(g, owner, state, address, capacity);
  }

  static Machine machine(
      Guest g, Machine.Owner owner, Machine.State state, String address, Capacity capacity) {
    return new Machine(
        "proxmox-" + g.node() + "-" + g.vmid(),
        g.node() + "/" + g.vmid(),
        owner,
        state,
        address,
        capacity);
  }
}
