package io.vera.operator.app;

import io.vera.operator.api.WorkerPoolSpec;
import io.vera.operator.compute.InstanceId;
import java.util.Set;

/**
 * Everything the operator is started with.
 *
 * @param namespace where REST-submitted tasks and the legacy pools live
 * @param watchNamespaces namespaces the reconcilers watch; empty for all
 * @param restTaskTtlSeconds ttlSecondsAfterFinished of REST-submitted tasks that set none
 * @param legacyPoolRuntime runtime of the pools the legacy initialize endpoint creates
 * @param workerImage image of worker pods when a pool names none
 * @param operatorUrl how worker pods reach this operator
 * @param pricingConfigMap the ConfigMap of cluster-wide model prices, {@code <namespace>/<name>} or
 *     a name in {@code namespace}; null for {@code vera-pricing} in {@code namespace}
 * @param instanceId the id on every machine this installation makes; null for the UID of Namespace
 *     {@code namespace} (see {@link InstanceId})
 */
public record OperatorSettings(
    String host,
    int port,
    String namespace,
    Set<String> watchNamespaces,
    int restTaskTtlSeconds,
    int maxResultBytes,
    WorkerPoolSpec.Runtime legacyPoolRuntime,
    String workerImage,
    String operatorUrl,
    int statusWriterThreads,
    String pricingConfigMap,
    InstanceId instanceId) {}
