package io.vera.operator.compute.proxmox;

import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.compute.Capacity;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.compute.Machine;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What one ComputeResource asks of Proxmox, checked before anything is sent: every value that ends
 * up inside a property string ({@code net0}, {@code rootfs}, {@code hostpci0}) is held to the
 * characters Proxmox allows, so a spec cannot smuggle extra options into it.
 */
record ProxmoxPlan(
    Machine.Owner owner,
    boolean lxc,
    String node,
    String template,
    String storage,
    String bridge,
    boolean fullClone,
    String ostemplate,
    String pool,
    List<String> tags,
    String gpuMapping,
    int cores,
    long memoryMb,
    int diskGb,
    int gpuCount) {

  private static final Pattern NODE = Pattern.compile("[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?");
  private static final Pattern STORAGE = Pattern.compile("[a-zA-Z][a-zA-Z0-9_.-]*[a-zA-Z0-9]");
  private static final Pattern BRIDGE = Pattern.compile("[-_.a-zA-Z0-9]+");
  private static final Pattern POOL = Pattern.compile("[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*");
  private static final Pattern MAPPING = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*");
  private static final Pattern TEMPLATE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9.-]*");
  private static final Pattern OSTEMPLATE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*:[^,=\\s]+");

  Capacity capacity() {
    return new Capacity(cores, memoryMb, diskGb, gpuCount);
  }

  static ProxmoxPlan of(
      ComputeResource resource, String providerPool, List<String> providerTags, InstanceId instance)
      throws ComputeException {
    ComputeResourceSpec spec = resource.getSpec();
    if (spec == null || spec.type == null) {
      throw invalid("the ComputeResource has no spec.type");
    }
    boolean lxc;
    switch (spec.type) {
      case ProxmoxVM -> lxc = false;
      case ProxmoxLXC -> lxc = true;
      default ->
          throw invalid(
              "a Proxmox provider runs ProxmoxVM and ProxmoxLXC resources, not " + spec.type);
    }
    var md = resource.getMetadata();
    if (md == null || md.getUid() == null || md.getUid().isBlank()) {
      throw invalid("the ComputeResource has no uid yet");
    }
    Machine.Owner owner =
        new Machine.Owner(md.getNamespace(), md.getName(), md.getUid(), instance.value());
    ComputeResourceSpec.ProxmoxSpec p = spec.proxmox;
    if (p == null) {
      throw invalid("spec.proxmox is required for " + spec.type + " (at least spec.proxmox.node)");
    }
    if (p.node == null || !NODE.matcher(p.node).matches()) {
      throw invalid("spec.proxmox.node must name a cluster node, got '" + p.node + "'");
    }
    String storage = blankToNull(p.storage);
    if (storage != null && !STORAGE.matcher(storage).matches()) {
      throw invalid("spec.proxmox.storage is not a storage ID: '" + storage + "'");
    }
    String bridge = p.networkBridge == null ? "vmbr0" : p.networkBridge;
    if (!BRIDGE.matcher(bridge).matches()) {
      throw invalid("spec.proxmox.networkBridge is not a bridge name: '" + bridge + "'");
    }
    String pool = blankToNull(p.pool) != null ? p.pool : blankToNull(providerPool);
    if (pool != null && !POOL.matcher(pool).matches()) {
      throw invalid("the pool is not a Proxmox pool ID: '" + pool + "'");
    }
    ComputeResourceSpec.ResourceSpec r =
        spec.resources == null ? new ComputeResourceSpec.ResourceSpec() : spec.resources;
    int cores = (int) Math.max(1, Math.ceil(r.cpuCores == null ? 1.0 : r.cpuCores));
    long memory = r.memoryMb == null ? 512 : r.memoryMb;
    int disk = r.diskGb == null ? 10 : r.diskGb;
    int gpus = r.gpuCount == null ? 0 : r.gpuCount;
    String mapping = blankToNull(p.gpuMapping);
    if (gpus > 0 && lxc) {
      throw invalid("GPUs pass through to ProxmoxVM resources only; set resources.gpuCount to 0");
    }
    if (gpus > 0 && mapping == null) {
      throw invalid(
          "resources.gpuCount is "
              + gpus
              + " but spec.proxmox.gpuMapping names no PCI resource mapping (Datacenter > Resource Mappings)");
    }
    if (mapping != null && !MAPPING.matcher(mapping).matches()) {
      throw invalid("spec.proxmox.gpuMapping is not a mapping ID: '" + mapping + "'");
    }
    String template = blankToNull(p.template);
    String ostemplate = blankToNull(p.ostemplate);
    if (lxc) {
      if (ostemplate == null || !OSTEMPLATE.matcher(ostemplate).matches()) {
        throw invalid(
            "a ProxmoxLXC needs spec.proxmox.ostemplate as storage:vztmpl/file, got '"
                + p.ostemplate
                + "'");
      }
      if (storage == null) {
        throw invalid("a ProxmoxLXC needs spec.proxmox.storage for its root filesystem");
      }
    } else if (template == null) {
      if (storage == null) {
        throw invalid(
            "a ProxmoxVM without spec.proxmox.template is created empty and needs spec.proxmox.storage for its disk");
      }
    } else if (!template.chars().allMatch(Character::isDigit)
        && !TEMPLATE_NAME.matcher(template).matches()) {
      throw invalid("spec.proxmox.template must be a VMID or a VM name, got '" + template + "'");
    }
    List<String> tags = new ArrayList<>();
    if (providerTags != null) {
      tags.addAll(providerTags);
    }
    if (p.tags != null) {
      tags.addAll(p.tags);
    }
    return new ProxmoxPlan(
        owner,
        lxc,
        p.node,
        template,
        storage,
        bridge,
        p.fullClone == null || p.fullClone,
        ostemplate,
        pool,
        tags,
        mapping,
        cores,
        memory,
        disk,
        gpus);
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.strip();
  }

  private static ComputeException invalid(String message) {
    return new ComputeException(ComputeException.Reason.INVALID, message);
  }
}
