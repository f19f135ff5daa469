package io.vera.operator.facade.legacy;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.compute.ComputeLabels;
import java.util.Map;
import java.util.Optional;

/**
 * The legacy infrastructure layer's two backends as Provider resources in the operator's namespace:
 * {@value #DOCKER} for the Docker engine and {@value #PROXMOX} for the Proxmox cluster, with the
 * Proxmox credentials in a Secret. {@code initialize} creates or updates them; everything else
 * reads them.
 */
public final class LegacyInfrastructure {
  public static final String DOCKER = "vera-docker";
  public static final String PROXMOX = "vera-proxmox";

  /** The local Docker engine's socket, used when {@code initialize} names no {@code docker_url}. */
  public static final String DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

  /**
   * The VMIDs a Proxmox Provider made by {@code initialize} owns, since the legacy call cannot say;
   * edit the Provider to change them.
   */
  static final int DEFAULT_VMID_MIN = 10000;

  static final int DEFAULT_VMID_MAX = 10999;
  static final String SOURCE = "legacy-infrastructure-initialize";

  private final KubernetesClient client;
  private final String namespace;

  public LegacyInfrastructure(KubernetesClient client, String namespace) {
    this.client = client;
    this.namespace = namespace;
  }

  public String namespace() {
    return namespace;
  }

  /** The Provider that hosts a kind of resource, when it has been set up. */
  public Optional<Provider> provider(ComputeResourceSpec.Type type) {
    if (type == ComputeResourceSpec.Type.Pod) {
      return Optional.empty();
    }
    String name = type == ComputeResourceSpec.Type.Docker ? DOCKER : PROXMOX;
    return Optional.ofNullable(
        client.resources(Provider.class).inNamespace(namespace).withName(name).get());
  }

  /** Whether a Docker or Proxmox backend has been set up. */
  public boolean initialized() {
    return provider(ComputeResourceSpec.Type.Docker).isPresent()
        || provider(ComputeResourceSpec.Type.ProxmoxVM).isPresent();
  }

  /**
   * Creates or updates the Docker Provider.
   *
   * @param autoProvision the legacy {@code auto_scale} switch: containers made from this template
   *     for resource tasks that find no resource; null turns it off
   */
  public Provider configureDocker(
      String host, int maxResources, ProviderSpec.AutoProvision autoProvision) {
    ProviderSpec spec = new ProviderSpec();
    spec.type = ProviderSpec.Type.Docker;
    spec.docker = new ProviderSpec.DockerHost();
    spec.docker.host = host;
    spec.docker.maxResources = maxResources;
    spec.docker.autoProvision = autoProvision;
    return apply(DOCKER, spec);
  }

  /**
   * Creates or updates the Proxmox Provider and its credentials Secret.
   *
   * @param credentials {@code tokenId} + {@code tokenSecret}, or {@code username} + {@code
   *     password}; never logged
   */
  public Provider configureProxmox(
      String endpoint, boolean verifyTls, Map<String, String> credentials, int maxResources) {
    String secretName = PROXMOX + "-credentials";
    Secret secret =
        new SecretBuilder()
            .withMetadata(
                new ObjectMetaBuilder()
                    .withName(secretName)
                    .withNamespace(namespace)
                    .withLabels(Map.of(ComputeLabels.SOURCE, SOURCE))
                    .build())
            .withType("Opaque")
            .withStringData(credentials)
            .build();
    client.secrets().inNamespace(namespace).resource(secret).createOr(s -> s.update());
    ProviderSpec spec = new ProviderSpec();
    spec.type = ProviderSpec.Type.Proxmox;
    spec.endpoint = endpoint;
    spec.credentialsSecretRef = new ProviderSpec.SecretRef();
    spec.credentialsSecretRef.name = secretName;
    spec.proxmox = new ProviderSpec.ProxmoxCluster();
    spec.proxmox.verifyTls = verifyTls;
    spec.proxmox.maxResources = maxResources;
    Provider existing =
        client.resources(Provider.class).inNamespace(namespace).withName(PROXMOX).get();
    if (existing != null && existing.getSpec().proxmox != null) {
      // Keep what only a manifest can set (the owned VMID range, pool, tags, CA).
      spec.proxmox.vmidRange = existing.getSpec().proxmox.vmidRange;
      spec.proxmox.pool = existing.getSpec().proxmox.pool;
      spec.proxmox.tags = existing.getSpec().proxmox.tags;
      spec.proxmox.caSecretRef = existing.getSpec().proxmox.caSecretRef;
    }
    if (spec.proxmox.vmidRange == null) {
      spec.proxmox.vmidRange = new ProviderSpec.VmidRange();
      spec.proxmox.vmidRange.min = DEFAULT_VMID_MIN;
      spec.proxmox.vmidRange.max = DEFAULT_VMID_MAX;
    }
    return apply(PROXMOX, spec);
  }

  private Provider apply(String name, ProviderSpec spec) {
    Provider provider = new Provider();
    provider.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace(namespace)
            .withLabels(Map.of(ComputeLabels.SOURCE, SOURCE))
            .build());
    provider.setSpec(spec);
    Provider existing =
        client.resources(Provider.class).inNamespace(namespace).withName(name).get();
    if (existing == null) {
      return client.resources(Provider.class).inNamespace(namespace).resource(provider).create();
    }
    return client
        .resources(Provider.class)
        .inNamespace(namespace)
        .withName(name)
        .edit(
            p -> {
              p.setSpec(spec);
              return p;
            });
  }
}
