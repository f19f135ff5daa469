package io.vera.operator.compute;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderStatus;
import io.vera.operator.provider.HostProber;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderKey;
import java.util.List;
import java.util.Objects;

/** Probes Docker and Proxmox Providers through their {@link ComputeHost}. */
public final class ComputeHostProber implements HostProber {
  private final ComputeHosts hosts;
  private final KubernetesClient client;

  public ComputeHostProber(ComputeHosts hosts, KubernetesClient client) {
    this.hosts = hosts;
    this.client = client;
  }

  @Override
  public ProviderStatus.HostStatus probe(Provider provider) throws ProviderException {
    HostProbe probe;
    try {
      probe = hosts.hostOf(provider).probe();
    } catch (ComputeException e) {
      throw new ProviderException(
          e.reason() == ComputeException.Reason.INVALID ? 400 : 503, e.getMessage(), e.retryable());
    }
    ProviderStatus.HostStatus status = new ProviderStatus.HostStatus();
    status.version = probe.version();
    status.capacity = probe.capacity().toStatus();
    status.resources = heldBy(provider);
    if (!probe.nodes().isEmpty()) {
      status.nodes =
          probe.nodes().stream()
              .map(
                  n -> {
                    ProviderStatus.Node node = new ProviderStatus.Node();
                    node.name = n.name();
                    node.online = n.online();
                    node.total = n.total().toStatus();
                    node.free = n.free().toStatus();
                    return node;
                  })
              .toList();
    }
    return status;
  }

  private int heldBy(Provider provider) {
    List<ComputeResource> resources =
        client
            .resources(ComputeResource.class)
            .inNamespace(provider.getMetadata().getNamespace())
            .list()
            .getItems();
    return (int)
        resources.stream()
            .filter(r -> r.getSpec() != null)
            .filter(r -> Objects.equals(r.getSpec().providerRef, provider.getMetadata().getName()))
            .filter(r -> r.getStatus() != null && r.getStatus().resourceId != null)
            .count();
  }

  @Override
  public void forget(ProviderKey key) {
    hosts.forget(key);
  }
}
