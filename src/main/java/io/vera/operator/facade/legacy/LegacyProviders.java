package io.vera.operator.facade.legacy;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.provider.ProviderGateway;
import io.vera.operator.provider.ProviderKey;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The legacy external API's providers (openai, anthropic, google, aws_lambda, runpod,
 * http_endpoint) as Provider resources in the operator's namespace, with their keys in Secrets.
 */
public final class LegacyProviders {
  /** A legacy provider name with the Provider type and resource name it maps to. */
  public enum Legacy {
    OPENAI("openai", ProviderSpec.Type.OpenAI, "openai", "llm"),
    ANTHROPIC("anthropic", ProviderSpec.Type.Anthropic, "anthropic", "llm"),
    GOOGLE("google", ProviderSpec.Type.Gemini, "google", "llm"),
    AWS_LAMBDA("aws_lambda", ProviderSpec.Type.Lambda, "aws-lambda", "compute"),
    RUNPOD("runpod", ProviderSpec.Type.RunPod, "runpod", "compute"),
    HTTP_ENDPOINT("http_endpoint", ProviderSpec.Type.HTTP, "http-endpoint", "http");

    public final String legacyName;
    public final ProviderSpec.Type type;
    public final String resourceName;
    public final String kind;

    Legacy(String legacyName, ProviderSpec.Type type, String resourceName, String kind) {
      this.legacyName = legacyName;
      this.type = type;
      this.resourceName = resourceName;
      this.kind = kind;
    }

    public static Optional<Legacy> byName(String name) {
      return Arrays.stream(values())
          .filter(l -> l.legacyName.equals(name) || l.resourceName.equals(name))
          .findFirst();
    }

    public static Optional<Legacy> byType(ProviderSpec.Type type) {
      return Arrays.stream(values()).filter(l -> l.type == type).findFirst();
    }
  }

  /** A Kubernetes object name (DNS-1123 subdomain); anything else cannot name a Provider. */
  private static final Pattern RESOURCE_NAME =
      Pattern.compile(
          "^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");

  private static final String SOURCE_LABEL = "vera.io/source";
  private static final String SOURCE = "legacy-external-initialize";

  private final KubernetesClient client;
  private final String namespace;

  public LegacyProviders(KubernetesClient client, String namespace) {
    this.client = client;
    this.namespace = namespace;
  }

  public String namespace() {
    return namespace;
  }

  /** The legacy kind of a provider type: llm, compute or http. */
  public static String kind(ProviderSpec.Type type) {
    return Legacy.byType(type).map(l -> l.kind).orElse("infrastructure");
  }

  /** The Provider a legacy or resource name refers to, in the operator's namespace. */
  public Optional<Provider> find(String name) {
    return key(name)
        .map(
            key ->
                client.resources(Provider.class).inNamespace(namespace).withName(key.name()).get());
  }

  /** The key a legacy or resource name stands for, without asking the API server. */
  public Optional<ProviderKey> key(String name) {
    String resourceName = Legacy.byName(name).map(l -> l.resourceName).orElse(name);
    return RESOURCE_NAME.matcher(resourceName).matches()
        ? Optional.of(new ProviderKey(namespace, resourceName))
        : Optional.empty();
  }

  public List<Provider> list() {
    return client.resources(Provider.class).inNamespace(namespace).list().getItems().stream()
        .sorted(Comparator.comparing(p -> p.getMetadata().getName()))
        .toList();
  }

  /**
   * Stores the keys in a new Secret and creates or updates the Provider to point at it, then
   * removes the Secret it pointed at before. A new Secret name each time makes every initialization
   * a spec change, so the Provider's client is rebuilt at once even when only the key changed, and
   * {@link ProviderGateway#spec} tells when the client built from this call is the one serving
   * calls.
   *
   * @param secretValues logical key to value; never logged
   * @return the Provider as stored, with the API server's defaults and its new generation
   */
  public Provider configure(Legacy legacy, Map<String, String> secretValues, ProviderSpec spec) {
    String secretName =
        "vera-"
            + legacy.resourceName
            + "-credentials-"
            + UUID.randomUUID().toString().substring(0, 8);
    Secret secret =
        new SecretBuilder()
            .withMetadata(
                new ObjectMetaBuilder()
                    .withName(secretName)
                    .withNamespace(namespace)
                    .withLabels(Map.of(SOURCE_LABEL, SOURCE))
                    .build())
            .withType("Opaque")
            .withStringData(secretValues)
            .build();
    client.secrets().inNamespace(namespace).resource(secret).create();
    spec.type = legacy.type;
    spec.credentialsSecretRef = new ProviderSpec.SecretRef();
    spec.credentialsSecretRef.name = secretName;
    Provider provider = new Provider();
    provider.setMetadata(
        new ObjectMetaBuilder()
            .withName(legacy.resourceName)
            .withNamespace(namespace)
            .withLabels(Map.of(SOURCE_LABEL, SOURCE))
            .build());
    provider.setSpec(spec);
    Provider existing =
        client.resources(Provider.class).inNamespace(namespace).withName(legacy.resourceName).get();
    if (existing == null) {
      return client.resources(Provider.class).inNamespace(namespace).resource(provider).create();
    }
    Provider updated =
        client
            .resources(Provider.class)
            .inNamespace(namespace)
            .withName(legacy.resourceName)
            .edit(
                p -> {
                  p.setSpec(spec);
                  return p;
                });
    ProviderSpec.SecretRef before = existing.getSpec().credentialsSecretRef;
    if (before != null && !before.name.equals(secretName)) {
      Secret old = client.secrets().inNamespace(namespace).withName(before.name).get();
      if (old != null
          && old.getMetadata().getLabels() != null
          && SOURCE.equals(old.getMetadata().getLabels().get(SOURCE_LABEL))) {
        client.resource(old).delete();
      }
    }
    return updated;
  }
}
