package io.vera.operator.kube;

import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.event.ResourceID;

/**
 * Writes a reconciled resource's whole status from a reconciler, in place of JOSDK's status patch.
 *
 * <p>With server-side apply off (as Vera runs JOSDK), {@code UpdateControl.patchStatus} sends a
 * JSON Patch diffed against the cached copy; when that copy is older than the stored object, the
 * diff names paths the object no longer has and the API server refuses it with 422 (seen 12 times
 * in 15 minutes on WorkerPools under the cluster benchmark, each a retried reconcile and a stack
 * trace). One {@code add /status} op replaces the status of whatever version is stored, and the
 * answer goes to JOSDK's cache as its own patch would, so the next reconcile reads it.
 */
public final class StatusWrites {
  private StatusWrites() {}

  /**
   * Sets {@code status} on {@code resource}, stores it, and hands the stored resource to JOSDK's
   * cache of the reconciled kind.
   */
  public static <S, R extends CustomResource<?, S>> void replaceStatus(
      R resource, S status, Context<R> context) {
    R updated = replaceStatus(context.getClient(), resource, status);
    context
        .eventSourceRetriever()
        .getControllerEventSource()
        .handleRecentResourceUpdate(ResourceID.fromResource(resource), updated, resource);
  }

  /** Sets {@code status} on {@code resource}, stores it, and returns the stored resource. */
  static <S, R extends CustomResource<?, S>> R replaceStatus(
      KubernetesClient client, R resource, S status) {
    R updated =
        client
            .resource(resource)
            .subresource("status")
            .patch(
                PatchContext.of(PatchType.JSON),
                replacing(client.getKubernetesSerialization().asJson(status)));
    resource.setStatus(status);
    return updated;
  }

  /**
   * A JSON Patch of the status subresource that replaces the whole status with {@code statusJson}:
   * the real API server and the embedded one agree on it, where a merge patch would need explicit
   * nulls for the fields left out and merges lists differently.
   */
  public static String replacing(String statusJson) {
    return "[{\"op\":\"add\",\"path\":\"/status\",\"value\":" + statusJson + "}]";
  }
}
