package io.vera.operator.provider;

import io.vera.operator.api.ProviderSpec;
import java.util.Optional;

/** Builds the client for a Provider's type, endpoint and credentials. */
public interface ProviderClientFactory {
  /**
   * A client for the spec, or empty for types that are not called through the gateway (Docker and
   * Proxmox hosts serve ComputeResources instead).
   *
   * @throws ProviderException when the spec or credentials cannot make a working client
   */
  Optional<ProviderClient> create(ProviderSpec spec, Credentials credentials)
      throws ProviderException;
}
