package io.vera.operator.provider;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.api.ProviderStatus;
import io.vera.operator.kube.Conditions;
import io.vera.operator.kube.EventRecorder;
import io.vera.operator.kube.StatusWrites;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Turns a Provider into a checked connection: reads its credentials from the named Secret, builds
 * the client, probes it (Ready condition), registers it with the {@link ProviderGateway}, and
 * writes the usage totals of the {@link UsageLedger} to status every {@link #RESYNC}. A client is
 * rebuilt only when the spec or the Secret changed. A Provider that takes calls also gets a queue
 * for VeraTasks that name it ({@link ProviderTaskWorkers}).
 *
 * <p>A probe that confirms what status already says writes nothing: status changes only when the
 * Ready condition, the host's offer or the usage totals do, so an idle Provider managed by a GitOps
 * tool sees no writes between changes.
 */
@ControllerConfiguration(name = ProviderReconciler.NAME)
public class ProviderReconciler implements Reconciler<Provider> {
  public static final String NAME = "provider";
  static final Duration RESYNC = Duration.ofSeconds(15);
  static final Duration PROBE_EVERY = Duration.ofMinutes(1);
  private static final String READY = "Ready";

  /** What a registered client was built from, so an unchanged Provider keeps its client. */
  private record Built(
      String specJson,
      String secretVersion,
      Instant probedAt,
      Condition ready,
      ProviderStatus.HostStatus host) {}

  private final ProviderClientFactory factory;
  private final HostProber hosts;
  private final SecretCredentials secrets;
  private final ProviderGateway gateway;
  private final UsageLedger ledger;
  private final EventRecorder events;
  private final ProviderTaskWorkers taskWorkers;
  private final Clock clock;
  private final ProviderReadiness readiness;
  private final Map<ProviderKey, Built> built = new ConcurrentHashMap<>();

  public ProviderReconciler(
      ProviderClientFactory factory,
      HostProber hosts,
      SecretCredentials secrets,
      ProviderGateway gateway,
      UsageLedger ledger,
      EventRecorder events,
      ProviderTaskWorkers taskWorkers,
      Clock clock,
      ProviderReadiness readiness) {
    this.factory = factory;
    this.hosts = hosts;
    this.secrets = secrets;
    this.gateway = gateway;
    this.ledger = ledger;
    this.events = events;
    this.taskWorkers = taskWorkers;
    this.clock = clock;
    this.readiness = readiness;
  }

  public static ProviderKey key(Provider provider) {
    return new ProviderKey(provider.getMetadata().getNamespace(), provider.getMetadata().getName());
  }

  /** Called when a Provider leaves the informer cache. */
  public void providerDeleted(Provider provider) {
    ProviderKey key = key(provider);
    taskWorkers.stop(key);
    gateway.unregister(key);
    built.remove(key);
    ledger.forget(key);
    hosts.forget(key);
    readiness.forget(key);
  }

  @Override
  public UpdateControl<Provider> reconcile(Provider provider, Context<Provider> context) {
    ProviderKey key = key(provider);
    ProviderStatus previous =
        provider.getStatus() == null ? new ProviderStatus() : provider.getStatus();
    ledger.seed(key, previous.usage);
    Condition ready = connect(provider, key, previous);
    readiness.set(key, "True".equals(ready.getStatus()));
    if (takesCalls(provider.getSpec())) {
      taskWorkers.serve(
          key,
          provider.getSpec(),
          "True".equals(ready.getStatus()) ? null : ready.getReason() + ": " + ready.getMessage());
    } else {
      taskWorkers.stop(key);
    }
    ProviderStatus status = new ProviderStatus();
    // Every False here (credentials, spec, probe) waits for a person or the far end: Stalled.
    status.conditions =
        Conditions.withProgress(
            withOthers(ready, previous.conditions),
            previous.conditions,
            Conditions.STALLED,
            clock.instant());
    status.host = Optional.ofNullable(built.get(key)).map(Built::host).orElse(previous.host);
    status.usage = ledger.status(key).orElse(previous.usage);
    status.observedGeneration = provider.getMetadata().getGeneration();
    if (Serialization.jsonMapper()
        .valueToTree(status)
        .equals(Serialization.jsonMapper().valueToTree(previous))) {
      return UpdateControl.<Provider>noUpdate().rescheduleAfter(RESYNC);
    }
    StatusWrites.replaceStatus(provider, status, context);
    return UpdateControl.<Provider>noUpdate().rescheduleAfter(RESYNC);
  }

  /** Builds and probes the client when needed; returns the Ready condition. */
  private Condition connect(Provider provider, ProviderKey key, ProviderStatus previous) {
    Built current = built.get(key);
    String specJson = Serialization.asJson(provider.getSpec());
    SecretCredentials.Loaded credentials;
    try {
      credentials = secrets.load(key.namespace(), provider.getSpec().credentialsSecretRef);
    } catch (ProviderException e) {
      gateway.unregister(key);
      built.remove(key);
      return condition(provider, previous, "False", "CredentialsMissing", e.getMessage());
    }
    boolean unchanged =
        current != null
            && current.specJson().equals(specJson)
            && current.secretVersion().equals(credentials.version());
    if (unchanged && current.probedAt().plus(PROBE_EVERY).isAfter(clock.instant())) {
      return current.ready();
    }
    Condition ready;
    ProviderStatus.HostStatus host = null;
    try {
      Optional<ProviderClient> client =
          factory.create(provider.getSpec(), credentials.credentials());
      if (client.isEmpty()) {
        gateway.unregister(key);
        try {
          host = hosts.probe(provider);
          ready =
              condition(
                  provider,
                  previous,
                  "True",
                  "ProbeSucceeded",
                  provider.getSpec().type + " " + host.version + " answered");
        } catch (ProviderException e) {
          ready = condition(provider, previous, "False", "ProbeFailed", e.getMessage());
        }
      } else {
        // Registered before the probe, and even when it fails: from here on calls reach the client
        // of this spec (never the previous one), the next probe may pass, and calls report their
        // own errors.
        gateway.register(key, client.get(), provider.getSpec());
        try {
          client.get().probe();
          ready =
              condition(
                  provider,
                  previous,
                  "True",
                  "ProbeSucceeded",
                  "the endpoint answered and accepted the credentials");
        } catch (ProviderException e) {
          ready = condition(provider, previous, "False", "ProbeFailed", e.getMessage());
        }
      }
    } catch (ProviderException e) {
      gateway.unregister(key);
      ready = condition(provider, previous, "False", "InvalidSpec", e.getMessage());
    }
    Condition before = current == null ? null : current.ready();
    if (before == null || !Objects.equals(before.getStatus(), ready.getStatus())) {
      if ("True".equals(ready.getStatus())) {
        events.normal(provider, "Ready", ready.getMessage());
      } else {
        events.warning(provider, ready.getReason(), ready.getMessage());
      }
    }
    built.put(key, new Built(specJson, credentials.version(), clock.instant(), ready, host));
    return ready;
  }

  /**
   * {@code ready} with the conditions other writers own (the compute autoscaler's {@code
   * AutoProvisioning}), which this reconciler keeps as they are.
   */
  private static List<Condition> withOthers(Condition ready, List<Condition> previous) {
    List<Condition> conditions = new ArrayList<>();
    conditions.add(ready);
    if (previous != null) {
      for (Condition c : previous) {
        if (!READY.equals(c.getType())
            && !Conditions.RECONCILING.equals(c.getType())
            && !Conditions.STALLED.equals(c.getType())) {
          conditions.add(c);
        }
      }
    }
    return conditions;
  }

  /** Docker hosts and Proxmox clusters run ComputeResources; every other type takes calls. */
  private static boolean takesCalls(ProviderSpec spec) {
    return spec.type != ProviderSpec.Type.Docker && spec.type != ProviderSpec.Type.Proxmox;
  }

  private Condition condition(
      Provider provider, ProviderStatus previous, String state, String reason, String message) {
    return Conditions.of(
        previous.conditions,
        READY,
        state,
        reason,
        message,
        provider.getMetadata().getGeneration(),
        clock.instant());
  }
}
