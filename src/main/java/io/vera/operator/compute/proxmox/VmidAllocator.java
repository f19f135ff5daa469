package io.vera.operator.compute.proxmox;

import io.vera.operator.api.ProviderSpec;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Hands out VMIDs in the Provider's range. Proxmox's {@code /cluster/nextid} reserves nothing, so
 * two provisions asking it at once get the same answer; this picks, under one lock per host, the
 * lowest VMID that no guest uses and no provision of this host is creating right now, and counts
 * the Provider's guests against {@code maxResources}. Another system can still take a VMID between
 * the pick and the create; the caller then asks again (Proxmox answers "already exists").
 */
final class VmidAllocator {
  /** Lists the cluster's guests; called under the allocation lock. */
  interface GuestLister {
    List<Guest> list() throws ProxmoxException;
  }

  private final ProviderSpec.VmidRange range;
  private final int maxResources;
  private final Set<Integer> reserved = new HashSet<>();

  VmidAllocator(ProviderSpec.VmidRange range, int maxResources) {
    this.range = range;
    this.maxResources = maxResources;
  }

  boolean contains(int vmid) {
    return range != null && vmid >= range.min && vmid <= range.max;
  }

  /** The lowest VMID in the range that no guest uses and no provision of this host holds. */
  synchronized int allocate(GuestLister lister) throws ProxmoxException, ComputeException {
    List<Guest> guests = lister.list();
    Set<Integer> used = new HashSet<>(reserved);
    Set<Integer> owned = new HashSet<>();
    for (Guest g : guests) {
      used.add(g.vmid());
      if (contains(g.vmid()) && GuestMarks.marked(g.tags(), g.name())) {
        owned.add(g.vmid());
      }
    }
    Set<Integer> visible = new HashSet<>();
    guests.forEach(g -> visible.add(g.vmid()));
    for (int r : reserved) {
      if (!visible.contains(r)) {
        owned.add(r); // being created right now
      }
    }
    if (owned.size() >= maxResources) {
      throw new ComputeException(
          Reason.UNAVAILABLE,
          "the Provider already has "
              + owned.size()
              + " guests, its proxmox.maxResources is "
              + maxResources);
    }
    for (long v = range.min; v <= range.max; v++) {
      if (!used.contains((int) v)) {
        reserved.add((int) v);
        return (int) v;
      }
    }
    throw new ComputeException(
        Reason.UNAVAILABLE, "no free VMID in proxmox.vmidRange " + range.min + ".." + range.max);
  }

  /** Whether a provision of this host picked this VMID (and has not deleted its guest). */
  synchronized boolean heldHere(int vmid) {
    return reserved.contains(vmid);
  }

  /** Frees a VMID this host held (its guest was deleted, or its create was refused). */
  synchronized void release(int vmid) {
    reserved.remove(vmid);
  }
}
