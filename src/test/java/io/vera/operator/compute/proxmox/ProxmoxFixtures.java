package io.vera.operator.compute.proxmox;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.provider.Credentials;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Providers and resources for tests against a {@link ProxmoxSimulator}. */
final class ProxmoxFixtures {
  static final int RANGE_MIN = 1000;
  static final int RANGE_MAX = 1099;

  /** Short waits so tests run in seconds; polls start at 20 ms. */
  static final ProxmoxHost.Timings FAST =
      new ProxmoxHost.Timings(
          Duration.ofSeconds(20),
          Duration.ofSeconds(5),
          Duration.ofSeconds(10),
          Duration.ofMillis(20),
          Duration.ofMillis(200));

  /** The installation the hosts of these tests belong to. */
  static final InstanceId INSTANCE = new InstanceId("test-installation");

  private ProxmoxFixtures() {}

  static ProviderSpec provider(ProxmoxSimulator sim) {
    ProviderSpec spec = new ProviderSpec();
    spec.type = ProviderSpec.Type.Proxmox;
    spec.endpoint = sim.baseUrl();
    spec.timeoutSeconds = 10;
    spec.retries = 3;
    spec.proxmox = new ProviderSpec.ProxmoxCluster();
    spec.proxmox.vmidRange = new ProviderSpec.VmidRange();
    spec.proxmox.vmidRange.min = RANGE_MIN;
    spec.proxmox.vmidRange.max = RANGE_MAX;
    spec.proxmox.pool = ProxmoxSimulator.POOL;
    spec.proxmox.tags = List.of("AI Workers");
    spec.proxmox.maxResources = 40;
    return spec;
  }

  static ProxmoxHost connect(ProxmoxSimulator sim, ProviderSpec spec, Map<String, String> secret)
      throws Exception {
    return ProxmoxHost.connect(
        spec, new Credentials(secret), new Credentials(sim.caSecret()), FAST, INSTANCE);
  }

  static ComputeResource vm(String name) {
    ComputeResource r = resource(name, ComputeResourceSpec.Type.ProxmoxVM);
    r.getSpec().proxmox.template = ProxmoxSimulator.TEMPLATE_NAME;
    r.getSpec().proxmox.storage = "local-lvm";
    return r;
  }

  static ComputeResource lxc(String name) {
    ComputeResource r = resource(name, ComputeResourceSpec.Type.ProxmoxLXC);
    r.getSpec().proxmox.ostemplate = ProxmoxSimulator.OSTEMPLATE;
    r.getSpec().proxmox.storage = "local-lvm";
    return r;
  }

  private static ComputeResource resource(String name, ComputeResourceSpec.Type type) {
    ComputeResource r = new ComputeResource();
    r.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace("team-a")
            .withUid(UUID.randomUUID().toString())
            .build());
    ComputeResourceSpec spec = new ComputeResourceSpec();
    spec.type = type;
    spec.providerRef = "pve";
    spec.resources = new ComputeResourceSpec.ResourceSpec();
    spec.resources.cpuCores = 3.5;
    spec.resources.memoryMb = 4096;
    spec.resources.diskGb = 20;
    spec.resources.gpuCount = 0;
    spec.proxmox = new ComputeResourceSpec.ProxmoxSpec();
    spec.proxmox.node = "pve1";
    spec.proxmox.networkBridge = "vmbr0";
    spec.proxmox.fullClone = true;
    spec.proxmox.tags = List.of("gpu-free");
    r.setSpec(spec);
    return r;
  }
}
