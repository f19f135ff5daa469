package io.vera.operator.compute;

import io.vera.operator.api.ProviderSpec;
import io.vera.operator.compute.docker.DockerHost;
import io.vera.operator.compute.proxmox.ProxmoxHost;
import io.vera.operator.provider.Credentials;

/**
 * Connects Docker Providers to a Docker engine and Proxmox Providers to a Proxmox cluster, as hosts
 * of one installation's machines.
 */
public final class DefaultComputeHostFactory implements ComputeHostFactory {
  private final InstanceId instance;

  public DefaultComputeHostFactory(InstanceId instance) {
    this.instance = instance;
  }

  @Override
  public ComputeHost connect(ProviderSpec spec, Credentials credentials, Credentials tls)
      throws ComputeException {
    return switch (spec.type) {
      case Docker -> DockerHost.connect(spec, tls, instance);
      case Proxmox -> ProxmoxHost.connect(spec, credentials, tls, instance);
      default ->
          throw new ComputeException(
              ComputeException.Reason.INVALID,
              "Provider type " + spec.type + " does not host ComputeResources");
    };
  }
}
