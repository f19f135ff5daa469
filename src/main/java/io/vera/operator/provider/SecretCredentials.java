package io.vera.operator.provider;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.vera.operator.api.ProviderSpec;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

/**
 * Reads a Provider's credentials from the Secret its spec names. Logical keys (apiKey, accessKeyId,
 * ...) map to Secret data keys through {@code credentialsSecretRef.keys}; a key not mapped is
 * looked up under its own name.
 */
public final class SecretCredentials {
  private final KubernetesClient client;

  public SecretCredentials(KubernetesClient client) {
    this.client = client;
  }

  /** The credentials and the Secret's resourceVersion, so a change can be noticed. */
  public record Loaded(Credentials credentials, String version) {}

  public Loaded load(String namespace, ProviderSpec.SecretRef ref) throws ProviderException {
    if (ref == null) {
      return new Loaded(new Credentials(Map.of()), "");
    }
    Secret secret = client.secrets().inNamespace(namespace).withName(ref.name).get();
    if (secret == null) {
      throw new ProviderException(
          400,
          "Secret "
              + ref.name
              + " named by credentialsSecretRef does not exist in namespace "
              + namespace,
          false);
    }
    Map<String, String> data = new HashMap<>();
    if (secret.getData() != null) {
      secret
          .getData()
          .forEach(
              (k, v) ->
                  data.put(k, new String(Base64.getDecoder().decode(v), StandardCharsets.UTF_8)));
    }
    if (secret.getStringData() != null) {
      data.putAll(secret.getStringData());
    }
    Map<String, String> values = new HashMap<>(data);
    if (ref.keys != null) {
      ref.keys.forEach(
          (logical, secretKey) -> {
            if (data.containsKey(secretKey)) {
              values.put(logical, data.get(secretKey));
            }
          });
    }
    return new Loaded(new Credentials(values), secret.getMetadata().getResourceVersion());
  }
}
