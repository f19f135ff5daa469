package io.vera.operator.compute;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.ComputeResourceStatus;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.task.TaskDispatcher;
import io.vera.operator.task.TaskSnapshot;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Provisions containers for resource tasks that let the operator pick a resource ({@code
 * resourceRef} without a name) when no resource of their type could ever take them: none exists, or
 * none is big enough for their {@code minimum}. It uses a Docker Provider of the task's namespace
 * that has {@code docker.autoProvision}, stays within its {@code maxResources}, and makes one
 * container per waiting task type at a time; the container's idle timeout removes it when the work
 * is done.
 */
public final class ResourceAutoscaler implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ResourceAutoscaler.class);
  static final String SOURCE = "auto-provision";
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private final TaskDispatcher dispatcher;
  private final ComputeService compute;
  private final KubernetesClient client;
  private final BooleanSupplier leading;
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "compute-autoscaler");
            t.setDaemon(true);
            return t;
          });

  /**
   * @param leading whether this replica leads; a standby never provisions
   */
  public ResourceAutoscaler(
      TaskDispatcher dispatcher,
      ComputeService compute,
      KubernetesClient client,
      BooleanSupplier leading) {
    this.dispatcher = dispatcher;
    this.compute = compute;
    this.client = client;
    this.leading = leading;
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
    } catch (RuntimeException e) {
      LOG.warn("resource autoscaling round failed: {}", e.getMessage());
    }
  }

  /** One look at the waiting tasks; returns how many resources it created. */
  public int round() {
    List<TaskSnapshot> waiting =
        dispatcher.list(
            t ->
                TaskDispatcher.RESOURCE_EXEC_HANDLER.equals(t.handler())
                    && (t.phase() == TaskPhase.Pending || t.phase() == TaskPhase.Queued)
                    && t.payload() != null
                    && t.payload().path("name").asText("").isEmpty());
    int created = 0;
    Map<String, List<TaskSnapshot>> byNamespace =
        waiting.stream().collect(java.util.stream.Collectors.groupingBy(t -> t.key().namespace()));
    for (var entry : byNamespace.entrySet()) {
      String namespace = entry.getKey();
      List<ComputeResource> resources = compute.list(namespace);
      for (TaskSnapshot task :
          entry.getValue().stream()
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
      int max = ComputeHosts.maxResources(provider);
      long held =
          resources.stream().filter(r -> Objects.equals(r.getSpec().providerRef, name)).count();
      if (held >= max) {
        continue;
      }
      ComputeResource created =
          compute.create(
              namespace,
              "auto-" + type.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-') + "-",
              specFrom(spec.docker.autoProvision, name, type, minimum),
              Map.of("vera.io/source", SOURCE));
      LOG.info(
          "provisioning {} on {} for waiting {} resource tasks",
          created.getMetadata().getName(),
          name,
          type);
      return Optional.of(created);
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
