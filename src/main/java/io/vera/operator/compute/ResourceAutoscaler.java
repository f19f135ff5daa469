package io.vera.operator.compute;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.ComputeResourceStatus;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.api.ProviderStatus;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.kube.Conditions;
import io.vera.operator.kube.EventRecorder;
import io.vera.operator.provider.ProviderKey;
import io.vera.operator.task.TaskAdmission;
import io.vera.operator.task.TaskQueueView;
import io.vera.operator.task.TaskSnapshot;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Provisions containers for resource tasks that let the operator pick a resource ({@code
 * resourceRef} without a name) when no resource of their type could ever take them: none exists, or
 * none is big enough for their {@code minimum}. It uses a Docker Provider of the task's namespace
 * that has {@code docker.autoProvision}, stays within its {@code maxResources} and within the CPUs
 * and memory its host's last probe found (never a container that could not start there), and makes
 * one container per waiting task type at a time; the container's idle timeout removes it when the
 * work is done.
 *
 * <p>It also keeps each such Provider's {@code autoProvision.warm} containers idle and ready, so a
 * task does not wait for a provision: when one gets busy another is made (within {@code
 * maxResources}), and when more than {@code warm} are idle the one idle longest is removed once it
 * has been idle for the template's idle timeout. Warm containers have no idle timeout of their own;
 * this class alone decides when they go.
 *
 * <p>A container it made that fails to start (phase {@code Failed}) holds back the next one on that
 * Provider ({@link AutoProvisionBackoff}: 30 s doubling to 10 min), said on the Provider as
 * condition {@value #CONDITION} {@code False} with reason {@code BackingOff} and a Warning Event
 * {@code AutoProvisionFailed}; a container that starts afterwards, or a changed template, sets the
 * condition back to {@code True}.
 */
public final class ResourceAutoscaler implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ResourceAutoscaler.class);
  static final String SOURCE = "auto-provision";
  static final String SOURCE_WARM = "warm";

  /** The Provider condition that says whether auto-provisioning is held back by failures. */
  static final String CONDITION = "AutoProvisioning";

  /** Warm pools are checked every this many rounds: they need no faster answer than that. */
  private static final int WARM_EVERY_ROUNDS = 5;

  private static final ObjectMapper MAPPER = new ObjectMapper();

  private final TaskQueueView dispatcher;
  private final ComputeService compute;
  private final KubernetesClient client;
  private final BooleanSupplier leading;
  private final EventRecorder events;
  private final AutoProvisionBackoff backoff = new AutoProvisionBackoff();

  /** Namespaces with containers of ours still starting or Providers backing off: looked at. */
  private final Set<String> watching = ConcurrentHashMap.newKeySet();

  /**
   * The namespaces this operator owns (empty for all): with namespaced RBAC it may list no other.
   */
  private final Set<String> namespaces;

  private int rounds;

  /** Sizes already reported as beyond a host, so each is logged once, not every round. */
  private final Set<String> reportedBeyondHost = ConcurrentHashMap.newKeySet();

  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "compute-autoscaler");
            t.setDaemon(true);
            return t;
          });

  /**
   * @param leading whether this replica leads; a standby never provisions
   * @param namespaces the namespaces whose Providers are kept warm; empty for all
   * @param events where a container that failed to start is told, on its Provider
   */
  public ResourceAutoscaler(
      TaskQueueView dispatcher,
      ComputeService compute,
      KubernetesClient client,
      BooleanSupplier leading,
      Set<String> namespaces,
      EventRecorder events) {
    this.dispatcher = dispatcher;
    this.compute = compute;
    this.client = client;
    this.leading = leading;
    this.events = events;
    this.namespaces = Set.copyOf(namespaces);
  }

  public void start() {
    timer.scheduleWithFixedDelay(this::safeRound, 2, 2, TimeUnit.SECONDS);
  }

  private void safeRound() {
    if (!leading.getAsBoolean()) {
      return;
    }
    try {
      round();
      if (rounds++ % WARM_EVERY_ROUNDS == 0) {
        keepWarm();
      }
    } catch (RuntimeException e) {
      LOG.warn("resource autoscaling round failed: {}", e.getMessage());
    }
  }

  /**
   * One step towards every Provider's warm minimum: at most one container made or removed per
   * Provider, so a burst of changes converges over a few rounds instead of overshooting.
   *
   * @return created minus removed
   */
  int keepWarm() {
    int change = 0;
    for (Provider provider : providers()) {
      ProviderSpec spec = provider.getSpec();
      if (spec == null
          || spec.type != ProviderSpec.Type.Docker
          || spec.docker == null
          || spec.docker.autoProvision == null
          || provider.getMetadata().getDeletionTimestamp() != null) {
        continue;
      }
      if (isReady(provider)) {
        change += keepWarm(provider, spec.docker.autoProvision);
      }
    }
    return change;
  }

  private List<Provider> providers() {
    if (namespaces.isEmpty()) {
      return client.resources(Provider.class).inAnyNamespace().list().getItems();
    }
    List<Provider> providers = new ArrayList<>();
    for (String namespace : namespaces) {
      providers.addAll(client.resources(Provider.class).inNamespace(namespace).list().getItems());
    }
    return providers;
  }

  private int keepWarm(Provider provider, ProviderSpec.AutoProvision template) {
    String namespace = provider.getMetadata().getNamespace();
    String name = provider.getMetadata().getName();
    int wanted = template.warm == null ? 0 : template.warm;
    List<ComputeResource> held =
        compute.list(namespace).stream()
            .filter(r -> Objects.equals(r.getSpec().providerRef, name))
            .toList();
    List<ComputeResource> warm =
        held.stream()
            .filter(r -> SOURCE_WARM.equals(labelOf(r)))
            .filter(r -> r.getMetadata().getDeletionTimestamp() == null)
            .toList();
    List<ComputeResource> ready =
        warm.stream().filter(r -> waitingForWork(r) || compute.idleSince(r).isPresent()).toList();
    // A warm container that failed (bad image, refused spec) would fail again: wait for the user.
    boolean failing =
        warm.stream()
            .anyMatch(
                r ->
                    r.getStatus() != null
                        && r.getStatus().phase == ComputeResourceStatus.Phase.Failed);
    if (ready.size() < wanted && !failing && held.size() < ComputeHosts.maxResources(provider)) {
      TaskType type = template.warmTaskType == null ? TaskType.GENERAL : template.warmTaskType;
      ComputeResourceSpec spec = specFrom(template, name, type, Capacity.NONE);
      spec.idleTimeoutSeconds = 0;
      ComputeResource created =
          compute.create(
              namespace,
              "warm-" + type.name().toLowerCase(Locale.ROOT).replace('_', '-') + "-",
              spec,
              Map.of(ComputeLabels.SOURCE, SOURCE_WARM));
      LOG.info(
          "provisioning warm {} on {} ({} of {} ready)",
          created.getMetadata().getName(),
          name,
          ready.size(),
          wanted);
      return 1;
    }
    if (ready.size() > wanted) {
      Instant cutoff =
          Instant.now()
              .minusSeconds(
                  template.idleTimeoutSeconds == null ? 300 : template.idleTimeoutSeconds);
      Optional<ComputeResource> longestIdle =
          warm.stream()
              .filter(r -> compute.idleSince(r).filter(t -> t.isBefore(cutoff)).isPresent())
              .min(Comparator.comparing(r -> compute.idleSince(r).orElseThrow()));
      if (longestIdle.isPresent() && compute.delete(longestIdle.get())) {
        LOG.info(
            "removing warm {} on {}: {} idle, {} wanted",
            longestIdle.get().getMetadata().getName(),
            name,
            ready.size(),
            wanted);
        return -1;
      }
    }
    return 0;
  }

  private static boolean isReady(Provider provider) {
    return provider.getStatus() != null
        && provider.getStatus().conditions.stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /** Not yet running, but on its way: counts as ready so a slow provision is not doubled. */
  private static boolean waitingForWork(ComputeResource r) {
    ComputeResourceStatus.Phase phase = r.getStatus() == null ? null : r.getStatus().phase;
    return phase == null || phase == ComputeResourceStatus.Phase.Provisioning;
  }

  private static String labelOf(ComputeResource r) {
    Map<String, String> labels = r.getMetadata().getLabels();
    return labels == null ? null : labels.get(ComputeLabels.SOURCE);
  }

  /** One look at the waiting tasks; returns how many resources it created. */
  public int round() {
    List<TaskSnapshot> waiting =
        dispatcher.unfinished(
            t ->
                TaskAdmission.RESOURCE_EXEC_HANDLER.equals(t.handler())
                    && (t.phase() == TaskPhase.Pending || t.phase() == TaskPhase.Queued)
                    && t.payload() != null
                    && t.payload().path("name").asText("").isEmpty());
    int created = 0;
    Map<String, List<TaskSnapshot>> byNamespace =
        waiting.stream().collect(Collectors.groupingBy(t -> t.key().namespace()));
    Set<String> looked = new TreeSet<>(byNamespace.keySet());
    looked.addAll(watching);
    for (String namespace : looked) {
      List<ComputeResource> resources = compute.list(namespace);
      followUp(namespace, resources);
      for (TaskSnapshot task :
          byNamespace.getOrDefault(namespace, List.of()).stream()
              .sorted(Comparator.comparing(TaskSnapshot::createdAt))
              .toList()) {
        Capacity minimum = minimum(task.payload());
        if (resources.stream().anyMatch(r -> couldRun(r, task.taskType(), minimum))) {
          continue;
        }
        Optional<ComputeResource> made =
            provisionFor(namespace, task.taskType(), minimum, resources);
        if (made.isPresent()) {
          resources = compute.list(namespace);
          created++;
        }
      }
    }
    return created;
  }

  /**
   * Notes which of the containers this class made started or failed, reports each change on its
   * Provider, and says a backoff again where the condition was lost (another status writer).
   */
  private void followUp(String namespace, List<ComputeResource> resources) {
    List<ComputeResource> ours = resources.stream().filter(r -> SOURCE.equals(labelOf(r))).toList();
    for (AutoProvisionBackoff.Change change : backoff.observe(namespace, ours, Instant.now())) {
      Provider provider = provider(change.provider());
      if (provider == null) {
        backoff.forget(change.provider());
        continue;
      }
      if (change.kind() == AutoProvisionBackoff.Kind.FAILED) {
        LOG.warn("Provider {}: {}", change.provider(), change.message());
        events.warning(provider, "AutoProvisionFailed", change.message());
        say(provider, "False", "BackingOff", change.message());
      } else {
        events.normal(provider, "AutoProvisionResumed", change.message());
        say(provider, "True", "ContainerStarted", change.message());
      }
    }
    boolean backingOff = false;
    for (ProviderKey key : backoff.failing()) {
      if (!key.namespace().equals(namespace)) {
        continue;
      }
      backingOff = true;
      Provider provider = provider(key);
      if (provider == null) {
        backoff.forget(key);
      } else {
        backoff.backingOff(key).ifPresent(m -> say(provider, "False", "BackingOff", m));
      }
    }
    if (!backingOff && ours.stream().noneMatch(ResourceAutoscaler::waitingForWork)) {
      watching.remove(namespace);
    }
  }

  private Provider provider(ProviderKey key) {
    return client.resources(Provider.class).inNamespace(key.namespace()).withName(key.name()).get();
  }

  /**
   * Sets the Provider's {@value #CONDITION} condition, keeping its others; writes nothing when it
   * already says this. A merge patch of the conditions: the Provider reconciler keeps conditions it
   * does not own, and a lost write is said again on the next round.
   */
  private void say(Provider provider, String status, String reason, String message) {
    List<Condition> current =
        provider.getStatus() == null || provider.getStatus().conditions == null
            ? List.of()
            : provider.getStatus().conditions;
    boolean said =
        current.stream()
            .anyMatch(
                c ->
                    CONDITION.equals(c.getType())
                        && status.equals(c.getStatus())
                        && reason.equals(c.getReason())
                        && message.equals(c.getMessage()));
    if (said) {
      return;
    }
    Condition condition =
        Conditions.of(
            current,
            CONDITION,
            status,
            reason,
            message,
            provider.getMetadata().getGeneration(),
            Instant.now());
    ObjectNode patch = MAPPER.createObjectNode();
    patch
        .putObject("status")
        .set(
            "conditions",
            Serialization.jsonMapper().valueToTree(Conditions.with(current, condition)));
    try {
      client
          .resources(Provider.class)
          .inNamespace(provider.getMetadata().getNamespace())
          .withName(provider.getMetadata().getName())
          .subresource("status")
          .patch(PatchContext.of(PatchType.JSON_MERGE), patch.toString());
    } catch (KubernetesClientException e) {
      LOG.debug(
          "could not set {} on Provider {}: {}",
          CONDITION,
          provider.getMetadata().getName(),
          e.getMessage());
    }
  }

  /** A resource of the type that is big enough and running or on its way. */
  private static boolean couldRun(ComputeResource r, TaskType type, Capacity minimum) {
    ComputeResourceStatus.Phase phase = r.getStatus() == null ? null : r.getStatus().phase;
    TaskType own = r.getSpec().taskType == null ? TaskType.GENERAL : r.getSpec().taskType;
    return own == type
        && r.getMetadata().getDeletionTimestamp() == null
        && phase != ComputeResourceStatus.Phase.Failed
        && phase != ComputeResourceStatus.Phase.Stopping
        && Capacity.of(r.getSpec().resources).covers(minimum);
  }

  private Optional<ComputeResource> provisionFor(
      String namespace, TaskType type, Capacity minimum, List<ComputeResource> resources) {
    for (Provider provider :
        client.resources(Provider.class).inNamespace(namespace).list().getItems()) {
      ProviderSpec spec = provider.getSpec();
      if (spec == null
          || spec.type != ProviderSpec.Type.Docker
          || spec.docker == null
          || spec.docker.autoProvision == null) {
        continue;
      }
      String name = provider.getMetadata().getName();
      ProviderKey key = new ProviderKey(namespace, name);
      String template = Serialization.asJson(spec.docker.autoProvision);
      if (backoff.templateChanged(key, template)) {
        String message = "the autoProvision template changed; provisioning again";
        events.normal(provider, "AutoProvisionResumed", message);
        say(provider, "True", "TemplateChanged", message);
      }
      if (backoff.blocked(key, Instant.now()).isPresent()) {
        continue;
      }
      int max = ComputeHosts.maxResources(provider);
      long held =
          resources.stream().filter(r -> Objects.equals(r.getSpec().providerRef, name)).count();
      if (held >= max) {
        continue;
      }
      ComputeResourceSpec wanted = specFrom(spec.docker.autoProvision, name, type, minimum);
      Optional<String> beyondHost = beyondHost(provider, Capacity.of(wanted.resources));
      if (beyondHost.isPresent()) {
        if (reportedBeyondHost.add(name + "|" + Capacity.of(wanted.resources))) {
          LOG.warn(
              "not provisioning a {} container on {} for waiting resource tasks: {}",
              type,
              name,
              beyondHost.get());
        }
        continue;
      }
      ComputeResource created =
          compute.create(
              namespace,
              "auto-" + type.name().toLowerCase(Locale.ROOT).replace('_', '-') + "-",
              wanted,
              Map.of(ComputeLabels.SOURCE, SOURCE));
      backoff.made(key, template);
      watching.add(namespace);
      LOG.info(
          "provisioning {} on {} for waiting {} resource tasks",
          created.getMetadata().getName(),
          name,
          type);
      return Optional.of(created);
    }
    return Optional.empty();
  }

  /**
   * Why a machine of this size cannot run on the Provider's host: more CPUs or memory than its last
   * probe found, or no probe yet (the size it can offer is unknown). Empty when it fits.
   */
  static Optional<String> beyondHost(Provider provider, Capacity wanted) {
    ProviderStatus.HostStatus host =
        provider.getStatus() == null ? null : provider.getStatus().host;
    if (host == null || host.capacity == null) {
      return Optional.of("the host has not been probed yet, so what it can offer is unknown");
    }
    Capacity offered = Capacity.fromStatus(host.capacity);
    if (offered.cpuCores() > 0 && wanted.cpuCores() > offered.cpuCores() + 1e-9
        || offered.memoryMb() > 0 && wanted.memoryMb() > offered.memoryMb()) {
      return Optional.of(
          "it would need "
              + wanted.cpuCores()
              + " CPUs and "
              + wanted.memoryMb()
              + " MiB, and the host offers "
              + offered.cpuCores()
              + " CPUs and "
              + offered.memoryMb()
              + " MiB in all");
    }
    return Optional.empty();
  }

  static ComputeResourceSpec specFrom(
      ProviderSpec.AutoProvision template, String provider, TaskType type, Capacity minimum) {
    Capacity base = Capacity.of(template.resources);
    ComputeResourceSpec spec = new ComputeResourceSpec();
    spec.type = ComputeResourceSpec.Type.Docker;
    spec.providerRef = provider;
    spec.taskType = type;
    spec.idleTimeoutSeconds =
        template.idleTimeoutSeconds == null ? 300 : template.idleTimeoutSeconds;
    spec.resources = new ComputeResourceSpec.ResourceSpec();
    spec.resources.cpuCores = Math.max(base.cpuCores(), minimum.cpuCores());
    spec.resources.memoryMb = (int) Math.max(base.memoryMb(), minimum.memoryMb());
    spec.resources.diskGb = (int) Math.max(base.diskGb(), minimum.diskGb());
    spec.resources.gpuCount = Math.max(base.gpuCount(), minimum.gpuCount());
    spec.docker = new ComputeResourceSpec.DockerSpec();
    spec.docker.image = template.image;
    spec.docker.networkMode = template.networkMode == null ? "none" : template.networkMode;
    return spec;
  }

  /** A task's {@code resourceRef.minimum}; zero where it says nothing. */
  static Capacity minimum(JsonNode target) {
    JsonNode minimum = target == null ? null : target.get("minimum");
    if (minimum == null || minimum.isNull()) {
      return Capacity.NONE;
    }
    ComputeResourceSpec.ResourceSpec asked =
        MAPPER.convertValue(minimum, ComputeResourceSpec.ResourceSpec.class);
    return new Capacity(
        asked.cpuCores == null ? 0 : asked.cpuCores,
        asked.memoryMb == null ? 0 : asked.memoryMb,
        asked.diskGb == null ? 0 : asked.diskGb,
        asked.gpuCount == null ? 0 : asked.gpuCount);
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
