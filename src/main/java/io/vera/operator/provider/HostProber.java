package io.vera.operator.provider;

import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderStatus;

/**
 * Checks the host behind a Docker or Proxmox Provider. Those Providers are not called through the
 * gateway; they host ComputeResources, so their Ready condition comes from a probe of the host.
 */
public interface HostProber {

  /** A live probe: the host's version and capacity. */
  ProviderStatus.HostStatus probe(Provider provider) throws ProviderException;

  /** The Provider is gone; its connection can close. */
  void forget(ProviderKey key);
}
