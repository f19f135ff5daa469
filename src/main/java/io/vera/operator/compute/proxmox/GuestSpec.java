package io.vera.operator.compute.proxmox;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.compute.ComputeLabels;
import io.vera.operator.compute.InstanceId;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;

/**
 * A {@link ProxmoxPlan} in Proxmox's terms, with no I/O: the call that creates the guest (clone, VM
 * create, container create), the config changes that bring an existing guest to the plan, and the
 * disk resize it still needs. Every guest it makes carries the marks of {@link GuestMarks}.
 */
final class GuestSpec {
  private GuestSpec() {}

  /** One create call: the path it is POSTed to and its parameters. */
  record Create(String path, Params params) {}

  /**
   * The call that creates the plan's guest as {@code vmid}: a clone of {@code template} when it is
   * a VM with a template, else an empty VM or a container from its ostemplate.
   */
  static Create create(ProxmoxPlan plan, int vmid, Integer template) {
    if (plan.lxc()) {
      return new Create("nodes/" + plan.node() + "/lxc", lxcCreateParams(plan, vmid));
    }
    if (template != null) {
      Params params =
          Params.of()
              .put("newid", vmid)
              .put("name", GuestMarks.guestName(plan.owner().uid()))
              .put("description", GuestMarks.description(plan.owner()))
              .put("full", plan.fullClone())
              .put("pool", plan.pool());
      if (plan.fullClone()) {
        params.put("storage", plan.storage());
      }
      return new Create("nodes/" + plan.node() + "/qemu/" + template + "/clone", params);
    }
    return new Create("nodes/" + plan.node() + "/qemu", vmCreateParams(plan, vmid));
  }

  private static Params lxcCreateParams(ProxmoxPlan plan, int vmid) {
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

  private static Params vmCreateParams(ProxmoxPlan plan, int vmid) {
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

  /**
   * The config changes that bring an existing VM to the plan: tags, cores, memory, the guest agent,
   * GPU mappings, and the description when it does not name this resource and installation (a clone
   * copies its template's). Empty when it already matches.
   */
  static Params vmChanges(ProxmoxPlan plan, JsonNode config, InstanceId instance) {
    Params change = tagChanges(plan, config);
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
    return change;
  }

  /** The config changes that bring an existing container to the plan: tags, cores, memory. */
  static Params lxcChanges(ProxmoxPlan plan, JsonNode config) {
    Params change = tagChanges(plan, config);
    if (Json.asLong(config, "cores", -1) != plan.cores()) {
      change.put("cores", plan.cores());
    }
    if (Json.asLong(config, "memory", 512) != plan.memoryMb()) {
      change.put("memory", plan.memoryMb());
    }
    return change;
  }

  private static Params tagChanges(ProxmoxPlan plan, JsonNode config) {
    Params change = Params.of();
    Set<String> wantTags = new LinkedHashSet<>(GuestMarks.tags(plan.owner(), plan.tags()));
    if (!GuestMarks.parseTags(Json.text(config, "tags")).equals(wantTags)) {
      change.put("tags", GuestMarks.tagList(new ArrayList<>(wantTags)));
    }
    return change;
  }

  /**
   * The resize call's parameters when the guest's disk (a VM's boot disk, a container's rootfs) is
   * smaller than the plan asks; disks are never shrunk.
   *
   * @throws ComputeException for a VM with no disk to boot from
   */
  static Optional<Params> resize(ProxmoxPlan plan, Guest guest, JsonNode config)
      throws ComputeException {
    String disk = guest.lxc() ? "rootfs" : GuestConfig.bootDisk(config);
    if (disk == null) {
      throw new ComputeException(
          Reason.INVALID,
          "VM " + guest.vmid() + " has no disk to boot from (template without a disk?)");
    }
    long size = GuestConfig.sizeBytes(Json.text(config, disk));
    if ((long) plan.diskGb() * GuestConfig.GIB > size) {
      return Optional.of(Params.of().put("disk", disk).put("size", plan.diskGb() + "G"));
    }
    return Optional.empty();
  }
}
