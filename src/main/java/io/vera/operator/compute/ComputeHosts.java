package io.vera.operator.compute;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderKey;
import io.vera.operator.provider.SecretCredentials;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The open connections to compute hosts: one per Docker or Proxmox Provider, rebuilt when the
 * Provider's spec or its Secrets change, and one per namespace for pods. Everything that needs a
 * machine's host (the reconciler, exec, stats, the orphan sweep) asks here.
 */
public final class ComputeHosts implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ComputeHosts.class);

  /** An open host and what it was built from, so an unchanged Provider keeps its connection. */
  private record Open(String fingerprint, ComputeHost host) {}

  private final KubernetesClient client;
  private final SecretCredentials secrets;
  private final ComputeHostFactory factory;
  private final Function<String, ComputeHost> podHosts;
  private final Map<ProviderKey, Open> open = new ConcurrentHashMap<>();
  private final Map<String, ComputeHost> podHostsByNamespace = new ConcurrentHashMap<>();

  /**
   * @param podHosts makes the host of pods in one namespace
   */
  public ComputeHosts(
      KubernetesClient client,
      SecretCredentials secrets,
      ComputeHostFactory factory,
      Function<String, ComputeHost> podHosts) {
    this.client = client;
    this.secrets = secrets;
    this.factory = factory;
    this.podHosts = podHosts;
  }

  /** The host of a resource: its Provider's, or the namespace's pod host for type Pod. */
  ComputeHost hostFor(ComputeResource resource) throws ComputeException {
    ComputeResourceSpec spec = resource.getSpec();
    String namespace = resource.getMetadata().getNamespace();
    if (spec.type == ComputeResourceSpec.Type.Pod) {
      return podHostsByNamespace.computeIfAbsent(namespace, podHosts);
    }
    if (spec.providerRef == null || spec.providerRef.isBlank()) {
      throw new ComputeException(
          ComputeException.Reason.INVALID,
          "spec.providerRef must name the " + expectedProviderType(spec.type) + " Provider");
    }
    Provider provider =
        client.resources(Provider.class).inNamespace(namespace).withName(spec.providerRef).get();
    if (provider == null) {
      throw new ComputeException(
          ComputeException.Reason.NOT_FOUND,
          "Provider " + spec.providerRef + " does not exist in namespace " + namespace);
    }
    ProviderSpec.Type wanted = expectedProviderType(spec.type);
    if (provider.getSpec() == null || provider.getSpec().type != wanted) {
      throw new ComputeException(
          ComputeException.Reason.INVALID,
          "Provider "
              + spec.providerRef
              + " is not of type "
              + wanted
              + ", which a "
              + spec.type
              + " resource needs");
    }
    return hostOf(provider);
  }

  /** The host a Docker or Proxmox Provider describes, connecting when needed. */
  ComputeHost hostOf(Provider provider) throws ComputeException {
    ProviderKey key =
        new ProviderKey(provider.getMetadata().getNamespace(), provider.getMetadata().getName());
    ProviderSpec spec = provider.getSpec();
    SecretCredentials.Loaded credentials = load(key, spec.credentialsSecretRef);
    SecretCredentials.Loaded tls = load(key, tlsRef(spec));
    String fingerprint =
        Serialization.asJson(spec) + "|" + credentials.version() + "|" + tls.version();
    Open current = open.get(key);
    if (current != null && current.fingerprint().equals(fingerprint)) {
      return current.host();
    }
    synchronized (this) {
      current = open.get(key);
      if (current != null && current.fingerprint().equals(fingerprint)) {
        return current.host();
      }
      ComputeHost host = factory.connect(spec, credentials.credentials(), tls.credentials());
      open.put(key, new Open(fingerprint, host));
      if (current != null) {
        LOG.info("Provider {} changed; reconnected to its host", key);
        current.host().close();
      }
      return host;
    }
  }

  /** Every host open now, for the orphan sweep. */
  List<ComputeHost> openHosts() {
    List<ComputeHost> hosts = new ArrayList<>();
    open.values().forEach(o -> hosts.add(o.host()));
    hosts.addAll(podHostsByNamespace.values());
    return hosts;
  }

  /** The Provider is gone: its connection closes. */
  public void forget(ProviderKey key) {
    Optional.ofNullable(open.remove(key)).ifPresent(o -> o.host().close());
  }

  private SecretCredentials.Loaded load(ProviderKey key, ProviderSpec.SecretRef ref)
      throws ComputeException {
    try {
      return secrets.load(key.namespace(), ref);
    } catch (ProviderException e) {
      throw new ComputeException(ComputeException.Reason.INVALID, e.getMessage());
    }
  }

  private static ProviderSpec.SecretRef tlsRef(ProviderSpec spec) {
    if (spec.type == ProviderSpec.Type.Docker && spec.docker != null) {
      return spec.docker.tlsSecretRef;
    }
    if (spec.type == ProviderSpec.Type.Proxmox && spec.proxmox != null) {
      return spec.proxmox.caSecretRef;
    }
    return null;
  }

  /**
   * How many machines a Docker or Proxmox Provider allows ({@code maxResources}, 10 by default).
   */
  public static int maxResources(Provider provider) {
    ProviderSpec spec = provider.getSpec();
    Integer max =
        spec.type == ProviderSpec.Type.Docker && spec.docker != null
            ? spec.docker.maxResources
            : spec.type == ProviderSpec.Type.Proxmox && spec.proxmox != null
                ? spec.proxmox.maxResources
                : null;
    return max == null ? 10 : max;
  }

  /** The Provider type that hosts a kind of resource. */
  static ProviderSpec.Type expectedProviderType(ComputeResourceSpec.Type type) {
    return type == ComputeResourceSpec.Type.Docker
        ? ProviderSpec.Type.Docker
        : ProviderSpec.Type.Proxmox;
  }

  @Override
  public void close() {
    open.values().forEach(o -> o.host().close());
    open.clear();
    podHostsByNamespace.values().forEach(ComputeHost::close);
    podHostsByNamespace.clear();
  }
}
