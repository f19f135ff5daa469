package io.vera.operator.compute;

import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which installation of the operator a machine belongs to. Every host writes it on the machines it
 * creates ({@link ComputeLabels#INSTANCE}), and adoption and the orphan sweep look only at machines
 * that carry it, so two installations sharing one Docker engine or Proxmox cluster (two clusters
 * that both have namespace {@code default}, two test runs, an embedded operator next to a real one)
 * never delete each other's machines.
 *
 * <p>By default it is the UID of the operator's own Namespace object ({@code --namespace}): read
 * once at start-up, it is the same for every replica (leader failover) and across restarts (so the
 * operator adopts its machines), it differs between clusters, and two installations in one cluster
 * differ as long as they live in different namespaces. The embedded API server starts with no
 * Namespace objects, so when the namespace does not exist it is created, and its UID lasts as long
 * as that API server. An explicit id ({@code --instance-id}) replaces all this, for two
 * installations in one namespace or for a stable id that survives re-creating the namespace.
 *
 * <p>The form, lower-case letters, digits and inner dashes, at most 63 characters, fits a Docker or
 * Kubernetes label value and a Proxmox tag as it is; a UID has that form.
 *
 * <p>Embedded mode passes its own id as the override: one created once per state directory and kept
 * in it ({@code EmbeddedApiServer#installationId}), since the embedded API server's UIDs are the
 * same in every state directory and would make every embedded run one installation.
 */
public record InstanceId(String value) {
  private static final Logger LOG = LoggerFactory.getLogger(InstanceId.class);
  private static final Pattern FORM = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

  /**
   * @throws IllegalArgumentException when {@code value} is not of the form described above
   */
  public InstanceId {
    if (value == null || !FORM.matcher(value).matches()) {
      throw new IllegalArgumentException(
          "an instance id must be 1 to 63 lower-case letters, digits and inner dashes, not '"
              + value
              + "'");
    }
  }

  /**
   * {@code override} when given, else the UID of Namespace {@code namespace}, created first when it
   * does not exist (the embedded API server has none).
   *
   * @throws IllegalStateException when the Namespace can be neither read nor created; the message
   *     says which permission is missing and that {@code --instance-id} avoids the need
   */
  public static InstanceId resolve(KubernetesClient client, String namespace, InstanceId override) {
    if (override != null) {
      LOG.info(
          "instance id {} (set by --instance-id, or kept in embedded mode's state directory)",
          override.value());
      return override;
    }
    try {
      Namespace found = client.namespaces().withName(namespace).get();
      if (found == null) {
        found = create(client, namespace);
      }
      InstanceId id = new InstanceId(found.getMetadata().getUid());
      LOG.info("instance id {} (the UID of Namespace {})", id.value(), namespace);
      return id;
    } catch (KubernetesClientException | IllegalArgumentException e) {
      throw new IllegalStateException(
          "cannot read the UID of Namespace "
              + namespace
              + ", which identifies this installation's machines ("
              + e.getMessage()
              + "); grant 'get' on that Namespace or set --instance-id",
          e);
    }
  }

  private static Namespace create(KubernetesClient client, String namespace) {
    try {
      Namespace created =
          client
              .namespaces()
              .resource(
                  new NamespaceBuilder()
                      .withNewMetadata()
                      .withName(namespace)
                      .endMetadata()
                      .build())
              .create();
      LOG.info("Namespace {} did not exist; created it to identify this installation", namespace);
      return created;
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
      // Another replica created it at the same moment: both read the same object.
      return client.namespaces().withName(namespace).require();
    }
  }

  /** Whether a machine marked with {@code mark} was made by this installation. */
  public boolean made(String mark) {
    return value.equals(mark);
  }

  /**
   * Whether a machine marked with {@code mark} may be adopted here: one this installation made, or
   * one with no mark at all (made before machines were marked), whose resource uid decides.
   */
  public boolean mayAdopt(String mark) {
    return mark == null || made(mark);
  }

  @Override
  public String toString() {
    return value;
  }
}
