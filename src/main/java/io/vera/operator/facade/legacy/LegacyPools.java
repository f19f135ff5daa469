package io.vera.operator.facade.legacy;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The legacy API's fixed set of pools, one per task type, as WorkerPool resources named {@code
 * vera-<type>} in the operator's namespace. REST calls that size or stop pools write their specs,
 * acting for the user as {@code kubectl scale} would.
 */
public final class LegacyPools {
  /** The legacy API's default worker counts per task type. */
  public static final Map<TaskType, Integer> DEFAULT_SIZES = defaultSizes();

  private final KubernetesClient client;
  private final String namespace;
  private final WorkerPoolSpec.Runtime runtime;

  /**
   * @param runtime how pools created through the legacy API run their workers
   */
  public LegacyPools(KubernetesClient client, String namespace, WorkerPoolSpec.Runtime runtime) {
    this.client = client;
    this.namespace = namespace;
    this.runtime = runtime;
  }

  private static Map<TaskType, Integer> defaultSizes() {
    Map<TaskType, Integer> sizes = new EnumMap<>(TaskType.class);
    sizes.put(TaskType.LLM, 3);
    sizes.put(TaskType.TOOL, 4);
    sizes.put(TaskType.WHISPER, 1);
    sizes.put(TaskType.ML_MODEL, 1);
    sizes.put(TaskType.BACKGROUND, 2);
    sizes.put(TaskType.GENERAL, 2);
    return Map.copyOf(sizes);
  }

  public static String poolName(TaskType type) {
    return "vera-" + type.dnsName();
  }

  public String namespace() {
    return namespace;
  }

  /** Every pool in the operator's namespace, by name. */
  public List<WorkerPool> list() {
    return client.resources(WorkerPool.class).inNamespace(namespace).list().getItems().stream()
        .sorted(Comparator.comparing(p -> p.getMetadata().getName()))
        .toList();
  }

  /** The pool that serves a task type: the legacy one if present, else the first of that type. */
  public Optional<WorkerPool> forType(TaskType type) {
    List<WorkerPool> pools = list();
    return pools.stream()
        .filter(p -> p.getMetadata().getName().equals(poolName(type)))
        .findFirst()
        .or(
            () ->
                pools.stream()
                    .filter(p -> p.getSpec() != null && p.getSpec().taskType == type)
                    .findFirst());
  }

  /** Creates the pools that are missing and sizes every legacy pool as asked. */
  public void initialize(Map<TaskType, Integer> sizes, Double cpuThresholdPercent) {
    for (Map.Entry<TaskType, Integer> size : sizes.entrySet()) {
      String name = poolName(size.getKey());
      var resource = client.resources(WorkerPool.class).inNamespace(namespace).withName(name);
      if (resource.get() == null) {
        WorkerPool pool = new WorkerPool();
        pool.setMetadata(
            new ObjectMetaBuilder()
                .withName(name)
                .withNamespace(namespace)
                .withLabels(Map.of("vera.io/source", "legacy-initialize"))
                .build());
        WorkerPoolSpec spec = new WorkerPoolSpec();
        spec.taskType = size.getKey();
        spec.replicas = size.getValue();
        spec.runtime = runtime;
        spec.cpuThresholdPercent = cpuThresholdPercent;
        pool.setSpec(spec);
        client.resources(WorkerPool.class).inNamespace(namespace).resource(pool).create();
      } else {
        String threshold = cpuThresholdPercent == null ? "null" : cpuThresholdPercent.toString();
        resource.patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"spec\":{\"replicas\":"
                + size.getValue()
                + ",\"cpuThresholdPercent\":"
                + threshold
                + "}}");
      }
    }
  }

  /** Sets a pool's replicas; empty when no pool serves the type. */
  public Optional<WorkerPool> scale(TaskType type, int replicas) {
    return forType(type)
        .map(
            pool ->
                client
                    .resources(WorkerPool.class)
                    .inNamespace(namespace)
                    .withName(pool.getMetadata().getName())
                    .patch(
                        PatchContext.of(PatchType.JSON_MERGE),
                        "{\"spec\":{\"replicas\":" + replicas + "}}"));
  }

  /** Suspends or resumes every pool in the namespace (the legacy stop and start). */
  public void setSuspended(boolean suspended) {
    for (WorkerPool pool : list()) {
      if (pool.getSpec() != null && pool.getSpec().isSuspended() != suspended) {
        client
            .resources(WorkerPool.class)
            .inNamespace(namespace)
            .withName(pool.getMetadata().getName())
            .patch(
                PatchContext.of(PatchType.JSON_MERGE),
                "{\"spec\":{\"suspend\":" + suspended + "}}");
      }
    }
  }
}
