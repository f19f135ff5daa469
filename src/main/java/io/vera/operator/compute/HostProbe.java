package io.vera.operator.compute;

import java.util.List;

/**
 * What a live probe of a host found.
 *
 * @param version the host's software version (Docker engine, Proxmox VE)
 * @param capacity what the whole host offers
 * @param nodes per node, for hosts that have several (Proxmox); empty otherwise
 */
public record HostProbe(String version, Capacity capacity, List<Node> nodes) {

  /** One node of a cluster with its total and free capacity. */
  public record Node(String name, boolean online, Capacity total, Capacity free) {}
}
