package io.vera.operator.compute;

import io.vera.operator.api.ProviderSpec;
import io.vera.operator.provider.Credentials;

/** Connects to the host a Docker or Proxmox Provider describes. */
public interface ComputeHostFactory {

  /**
   * A connection to the host of {@code spec}. Nothing is sent yet: {@link ComputeHost#probe()}
   * checks it.
   *
   * @param credentials values of the Secret named by {@code credentialsSecretRef} (Proxmox API
   *     token or user and password); empty when none is named
   * @param tls values of the Secret named by {@code docker.tlsSecretRef} or {@code
   *     proxmox.caSecretRef} ({@code ca.crt}, {@code tls.crt}, {@code tls.key}); empty when none
   * @throws ComputeException with {@link ComputeException.Reason#INVALID} when the spec cannot
   *     describe a host (bad URL, missing credentials)
   */
  ComputeHost connect(ProviderSpec spec, Credentials credentials, Credentials tls)
      throws ComputeException;
}
