package io.vera.operator.pool;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.api.WorkerPoolSpec;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Deployment of worker pods for a WorkerPool with runtime Pods, built from the YAML template
 * beside this class. Worker pods run {@code vera-operator.jar worker} and lease tasks from the
 * operator over HTTP.
 */
final class WorkerDeployment {
  static final String POOL_LABEL = "vera.io/pool";

  /**
   * Hash of the pod template this operator last wrote; the API server adds defaults to the live
   * one.
   */
  static final String TEMPLATE_HASH = "vera.io/template-hash";

  private static final String TEMPLATE = "worker-deployment.yaml";

  /**
   * Settings that are the operator's, not the pool's.
   *
   * @param serviceAccount used when the pool's template names none; null for the namespace default
   */
  record Defaults(String image, String operatorUrl, String serviceAccount) {
    Defaults(String image, String operatorUrl) {
      this(image, operatorUrl, null);
    }
  }

  private WorkerDeployment() {}

  static String name(WorkerPool pool) {
    return pool.getMetadata().getName() + "-workers";
  }

  static String selector(WorkerPool pool) {
    return POOL_LABEL + "=" + pool.getMetadata().getName();
  }

  static Deployment desired(WorkerPool pool, int replicas, Defaults defaults) {
    Deployment deployment = load();
    WorkerPoolSpec spec = pool.getSpec();
    WorkerPoolSpec.WorkerTemplate template =
        spec.template == null ? new WorkerPoolSpec.WorkerTemplate() : spec.template;
    String poolName = pool.getMetadata().getName();
    deployment.getMetadata().setName(name(pool));
    deployment.getMetadata().setNamespace(pool.getMetadata().getNamespace());
    deployment.getMetadata().getLabels().put(POOL_LABEL, poolName);
    deployment
        .getMetadata()
        .setOwnerReferences(
            List.of(
                new OwnerReferenceBuilder()
                    .withApiVersion(pool.getApiVersion())
                    .withKind(pool.getKind())
                    .withName(poolName)
                    .withUid(pool.getMetadata().getUid())
                    .withController(true)
                    .withBlockOwnerDeletion(true)
                    .build()));
    deployment.getSpec().setReplicas(replicas);
    deployment.getSpec().getSelector().setMatchLabels(Map.of(POOL_LABEL, poolName));
    var podSpec = deployment.getSpec().getTemplate().getSpec();
    deployment.getSpec().getTemplate().getMetadata().getLabels().put(POOL_LABEL, poolName);
    podSpec.setServiceAccountName(
        template.serviceAccountName != null
            ? template.serviceAccountName
            : defaults.serviceAccount());
    podSpec.setNodeSelector(template.nodeSelector);
    podSpec.setTolerations(template.tolerations);
    podSpec.setHostNetwork(template.hostNetwork);
    Container container = podSpec.getContainers().get(0);
    container.setImage(template.image != null ? template.image : defaults.image());
    container.setImagePullPolicy(template.imagePullPolicy);
    container.setResources(template.resources);
    List<EnvVar> env = new ArrayList<>(container.getEnv());
    Map<String, String> own = new LinkedHashMap<>();
    own.put("VERA_OPERATOR_URL", defaults.operatorUrl());
    own.put("VERA_NAMESPACE", pool.getMetadata().getNamespace());
    own.put("VERA_POOL", poolName);
    own.put("VERA_CONCURRENCY", Integer.toString(spec.concurrencyOrDefault()));
    own.forEach((name, value) -> env.add(new EnvVar(name, value, null)));
    if (template.env != null) {
      template.env.stream().filter(e -> !own.containsKey(e.getName())).forEach(env::add);
    }
    container.setEnv(env);
    deployment
        .getMetadata()
        .setAnnotations(
            Map.of(
                TEMPLATE_HASH, sha256(Serialization.asJson(deployment.getSpec().getTemplate()))));
    return deployment;
  }

  /** True when the live Deployment already has what this operator sets, so no write is needed. */
  static boolean matches(Deployment live, Deployment desired) {
    Map<String, String> annotations = live.getMetadata().getAnnotations();
    return live.getSpec() != null
        && desired.getSpec().getReplicas().equals(live.getSpec().getReplicas())
        && annotations != null
        && desired
            .getMetadata()
            .getAnnotations()
            .get(TEMPLATE_HASH)
            .equals(annotations.get(TEMPLATE_HASH));
  }

  private static String sha256(String text) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)))
          .substring(0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Deployment load() {
    try (InputStream in = WorkerDeployment.class.getResourceAsStream(TEMPLATE)) {
      if (in == null) {
        throw new IllegalStateException("missing classpath resource " + TEMPLATE);
      }
      return Serialization.unmarshal(in, Deployment.class);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
