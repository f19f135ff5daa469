package io.vera.operator.provider.pricing;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.vera.operator.kube.EventRecorder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster-wide pricing layer: model prices from one ConfigMap, layered between the built-in
 * table and each Provider's {@code spec.pricing}, so an operator can correct or add a price without
 * a new release or a restart.
 *
 * <p>The ConfigMap's key {@value #KEY} holds a list in {@link PricingTable#parse}'s format. It is
 * watched: every change applies to the next call; a deleted (or never created) ConfigMap means the
 * built-in table alone. An entry that cannot be read is refused with a warning log line and a
 * Warning Event on the ConfigMap while the valid entries still apply; nothing here ever stops the
 * operator.
 */
public final class PricingConfigMap implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PricingConfigMap.class);
  public static final String DEFAULT_NAME = "vera-pricing";
  public static final String KEY = "models.yaml";
  private static final Duration FIRST_SYNC = Duration.ofSeconds(10);

  /** Which ConfigMap: {@code <namespace>/<name>}. */
  public record Ref(String namespace, String name) {
    /**
     * Reads {@code --pricing-configmap}: {@code <namespace>/<name>}, or a name alone in {@code
     * defaultNamespace}; null or blank means {@value #DEFAULT_NAME} there.
     *
     * @throws IllegalArgumentException for anything else, e.g. {@code a/b/c} or {@code /name}
     */
    public static Ref parse(String value, String defaultNamespace) {
      if (value == null || value.isBlank()) {
        return new Ref(defaultNamespace, DEFAULT_NAME);
      }
      String[] parts = value.trim().split("/", -1);
      if (parts.length == 1) {
        return new Ref(defaultNamespace, parts[0]);
      }
      if (parts.length == 2 && !parts[0].isBlank() && !parts[1].isBlank()) {
        return new Ref(parts[0], parts[1]);
      }
      throw new IllegalArgumentException(
          "pricing ConfigMap must be <namespace>/<name> or <name>, not '" + value + "'");
    }

    @Override
    public String toString() {
      return namespace + "/" + name;
    }
  }

  private final KubernetesClient client;
  private final Ref ref;
  private final EventRecorder events;
  private final AtomicReference<PricingTable> current =
      new AtomicReference<>(PricingTable.builtIn());
  private final AtomicReference<String> appliedVersion = new AtomicReference<>();
  private SharedIndexInformer<ConfigMap> informer;

  public PricingConfigMap(KubernetesClient client, Ref ref, EventRecorder events) {
    this.client = client;
    this.ref = ref;
    this.events = events;
  }

  /**
   * The layered table calls are priced from: the built-in table with the ConfigMap's entries as
   * they are at each lookup; Provider overrides go on top with {@link PricingTable#withOverrides}.
   */
  public PricingTable table() {
    return PricingTable.over(current::get);
  }

  /**
   * Starts watching and waits briefly for the first read, so the first calls are priced from the
   * ConfigMap already. A watch that cannot start (e.g. RBAC not granted) is logged and retried;
   * until then the built-in table prices calls.
   */
  public void start() {
    informer =
        client.configMaps().inNamespace(ref.namespace()).withName(ref.name()).runnableInformer(0);
    informer.exceptionHandler(
        (started, error) -> {
          LOG.warn("cannot watch pricing ConfigMap {}: {}; retrying", ref, error.getMessage());
          return true;
        });
    informer.addEventHandler(
        new ResourceEventHandler<>() {
          @Override
          public void onAdd(ConfigMap configMap) {
            apply(configMap);
          }

          @Override
          public void onUpdate(ConfigMap before, ConfigMap after) {
            apply(after);
          }

          @Override
          public void onDelete(ConfigMap configMap, boolean finalStateUnknown) {
            removed();
          }
        });
    try {
      informer.start().toCompletableFuture().get(FIRST_SYNC.toMillis(), TimeUnit.MILLISECONDS);
      LOG.info("watching pricing ConfigMap {} (key {})", ref, KEY);
    } catch (TimeoutException | ExecutionException e) {
      LOG.warn(
          "pricing ConfigMap {} not read yet ({}); the built-in table prices calls until it is",
          ref,
          e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Applies the ConfigMap's valid entries over the built-in table and reports the others. */
  void apply(ConfigMap configMap) {
    String version = configMap.getMetadata().getResourceVersion();
    if (version != null && version.equals(appliedVersion.getAndSet(version))) {
      return;
    }
    Map<String, String> data = configMap.getData();
    String text = data == null ? null : data.get(KEY);
    if (text == null) {
      current.set(PricingTable.builtIn());
      String message =
          "pricing ConfigMap " + ref + " has no key " + KEY + "; using the built-in prices";
      LOG.warn(message);
      events.warning(configMap, "PricingInvalid", message);
      return;
    }
    PricingTable.Parsed parsed = PricingTable.parseEach(text);
    current.set(PricingTable.builtIn().withOverrides(parsed.prices()));
    List<String> errors = parsed.errors();
    if (errors.isEmpty()) {
      LOG.info("pricing ConfigMap {}: {} model prices applied", ref, parsed.prices().size());
      events.normal(
          configMap,
          "PricingApplied",
          parsed.prices().size() + " model prices applied over the built-in table");
    } else {
      String message =
          String.format(
              "%d of %d model prices refused, the other %d applied: %s",
              errors.size(),
              errors.size() + parsed.prices().size(),
              parsed.prices().size(),
              String.join("; ", errors));
      LOG.warn("pricing ConfigMap {}: {}", ref, message);
      events.warning(configMap, "PricingInvalid", message);
    }
  }

  /** Falls back to the built-in table when the ConfigMap is deleted. */
  void removed() {
    appliedVersion.set(null);
    current.set(PricingTable.builtIn());
    LOG.info("pricing ConfigMap {} deleted; using the built-in prices", ref);
  }

  @Override
  public void close() {
    if (informer != null) {
      informer.close();
    }
  }
}
