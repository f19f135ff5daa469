package io.vera.operator.compute.proxmox;

import java.util.Objects;
import java.util.Set;

/** One guest (VM or container) as {@code /cluster/resources} lists it. */
record Guest(
    String node, int vmid, boolean lxc, String name, Set<String> tags, String status, String lock) {
  Guest {
    Objects.requireNonNull(node);
  }

  String path() {
    return "nodes/" + node + "/" + (lxc ? "lxc" : "qemu") + "/" + vmid;
  }

  String id() {
    return (lxc ? "CT " : "VM ") + vmid + " on " + node;
  }
}
