package io.vera.operator.compute;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.api.ComputeResourceStatus;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.compute.pod.PodHost;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * ComputeResources of type Pod against the mock API server. Nothing runs pods there, so a stand-in
 * kubelet marks each pod Running and ready the way a real one reports it; what is checked is the
 * pod the operator asks for and how it follows the pod's life.
 */
class PodResourceTest {
  private OperatorHarness harness;
  private ScheduledExecutorService kubelet;

  @BeforeEach
  void start() {
    harness = new OperatorHarness();
    kubelet = Executors.newSingleThreadScheduledExecutor();
    kubelet.scheduleWithFixedDelay(this::runPods, 100, 100, TimeUnit.MILLISECONDS);
  }

  @AfterEach
  void stop() {
    kubelet.shutdownNow();
    harness.close();
  }

  /** Marks every pending pod Running with a ready container and an address. */
  private void runPods() {
    try {
      for (Pod pod :
          harness.client().pods().inNamespace(OperatorHarness.NAMESPACE).list().getItems()) {
        if (pod.getStatus() != null && "Running".equals(pod.getStatus().getPhase())) {
          continue;
        }
        pod.setStatus(
            new PodStatusBuilder()
                .withPhase("Running")
                .withPodIP("127.0.0.1")
                .withContainerStatuses(
                    new ContainerStatusBuilder().withName("machine").withReady(true).build())
                .build());
        harness.client().pods().inNamespace(OperatorHarness.NAMESPACE).resource(pod).updateStatus();
      }
    } catch (RuntimeException e) {
      // The next round tries again.
    }
  }

  @Test
  void createsAnOwnedHardenedPodAndFollowsItsLife() {
    ComputeResource resource = new ComputeResource();
    resource.setMetadata(
        new ObjectMetaBuilder()
            .withName("sandbox")
            .withNamespace(OperatorHarness.NAMESPACE)
            .build());
    ComputeResourceSpec spec = new ComputeResourceSpec();
    spec.type = ComputeResourceSpec.Type.Pod;
    spec.resources = new ComputeResourceSpec.ResourceSpec();
    spec.resources.cpuCores = 0.5;
    spec.resources.memoryMb = 256;
    spec.resources.diskGb = 2;
    spec.pod = new ComputeResourceSpec.PodSpec();
    spec.pod.image = "vera.local/busybox:1";
    spec.pod.env = Map.of("MODE", "sandbox");
    resource.setSpec(spec);
    harness.client().resource(resource).create();

    ComputeResource available = awaitPhase(ComputeResourceStatus.Phase.Available);
    assertThat(available.getStatus().resourceId).startsWith("pod-sandbox-");
    assertThat(available.getStatus().address).isEqualTo("127.0.0.1");
    assertThat(available.getStatus().capacity.cpuCores).isEqualTo(0.5);
    assertThat(available.getStatus().capacity.memoryMb).isEqualTo(256);
    assertThat(available.getStatus().capacity.diskGb).isEqualTo(2);

    Pod pod = onlyPod();
    assertThat(pod.getMetadata().getLabels())
        .containsEntry(ComputeLabels.INSTANCE, harness.operator().instanceId().value())
        .containsEntry(ComputeLabels.RESOURCE_UID, available.getMetadata().getUid());
    assertThat(pod.getMetadata().getOwnerReferences())
        .singleElement()
        .satisfies(
            o -> {
              assertThat(o.getKind()).isEqualTo("ComputeResource");
              assertThat(o.getUid()).isEqualTo(available.getMetadata().getUid());
              assertThat(o.getController()).isTrue();
            });
    var container = pod.getSpec().getContainers().get(0);
    assertThat(container.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
    assertThat(container.getSecurityContext().getPrivileged()).isFalse();
    assertThat(container.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
    assertThat(container.getResources().getLimits().get("cpu").toString()).isEqualTo("500m");
    assertThat(container.getResources().getLimits().get("memory").toString()).isEqualTo("256Mi");
    assertThat(container.getResources().getLimits().get("ephemeral-storage").toString())
        .isEqualTo("2Gi");
    assertThat(container.getEnv()).anySatisfy(e -> assertThat(e.getName()).isEqualTo("MODE"));
    assertThat(pod.getSpec().getAutomountServiceAccountToken()).isFalse();

    // Deleted behind the operator's back: a new pod replaces it.
    harness.client().resource(pod).delete();
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              ComputeResource now = current();
              assertThat(now.getStatus().recreations).isEqualTo(1);
              assertThat(now.getStatus().phase).isEqualTo(ComputeResourceStatus.Phase.Available);
            });
    assertThat(onlyPod().getMetadata().getUid()).isNotEqualTo(pod.getMetadata().getUid());

    harness.client().resource(current()).delete();
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                current() == null
                    && harness
                        .client()
                        .pods()
                        .inNamespace(OperatorHarness.NAMESPACE)
                        .list()
                        .getItems()
                        .isEmpty());
  }

  @Test
  void aPodSpecWithoutImageIsRefusedWithACondition() {
    ComputeResource resource = new ComputeResource();
    resource.setMetadata(
        new ObjectMetaBuilder()
            .withName("sandbox")
            .withNamespace(OperatorHarness.NAMESPACE)
            .build());
    ComputeResourceSpec spec = new ComputeResourceSpec();
    spec.type = ComputeResourceSpec.Type.Pod;
    resource.setSpec(spec);
    harness.client().resource(resource).create();

    ComputeResource failed = awaitPhase(ComputeResourceStatus.Phase.Failed);
    // Ready=False says why; Stalled=True (kstatus) carries the same reason.
    assertThat(failed.getStatus().conditions)
        .extracting(c -> c.getType() + "=" + c.getStatus())
        .containsExactlyInAnyOrder("Ready=False", "Stalled=True");
    assertThat(failed.getStatus().conditions)
        .allSatisfy(
            c -> {
              assertThat(c.getReason()).isEqualTo("InvalidSpec");
              assertThat(c.getMessage()).contains("spec.pod.image");
            });
  }

  @Test
  void podsOfAnotherInstallationInTheNamespaceAreNeitherListedNorFound() throws Exception {
    String theirs = UUID.randomUUID().toString();
    String older = UUID.randomUUID().toString();
    createLabelledPod("theirs", theirs, "elsewhere");
    createLabelledPod("older", older, null);
    PodHost here =
        new PodHost(
            harness.client(),
            OperatorHarness.NAMESPACE,
            Clock.systemUTC(),
            harness.operator().instanceId());

    assertThat(here.listOwned())
        .extracting(Machine::nativeId)
        .contains("older")
        .doesNotContain("theirs");
    assertThat(here.find(theirs)).isEmpty();
    assertThat(here.find(older)).hasValueSatisfying(m -> assertThat(m.owner().instance()).isNull());
  }

  /**
   * A pod as a host made it, for resource {@code uid}; {@code instance} null as before the mark.
   */
  private void createLabelledPod(String name, String uid, String instance) {
    Map<String, String> labels = new HashMap<>();
    labels.put(ComputeLabels.MANAGED_BY, ComputeLabels.MANAGED_BY_VALUE);
    labels.put(ComputeLabels.RESOURCE_UID, uid);
    labels.put(ComputeLabels.RESOURCE_NAME, name);
    labels.put(ComputeLabels.RESOURCE_NAMESPACE, OperatorHarness.NAMESPACE);
    if (instance != null) {
      labels.put(ComputeLabels.INSTANCE, instance);
    }
    harness
        .client()
        .pods()
        .inNamespace(OperatorHarness.NAMESPACE)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .withLabels(labels)
                .endMetadata()
                .withNewSpec()
                .addNewContainer()
                .withName("machine")
                .withImage("vera.local/busybox:1")
                .endContainer()
                .endSpec()
                .build())
        .create();
  }

  private ComputeResource awaitPhase(ComputeResourceStatus.Phase phase) {
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                current() != null
                    && current().getStatus() != null
                    && current().getStatus().phase == phase);
    return current();
  }

  private ComputeResource current() {
    return harness
        .client()
        .resources(ComputeResource.class)
        .inNamespace(OperatorHarness.NAMESPACE)
        .withName("sandbox")
        .get();
  }

  private Pod onlyPod() {
    List<Pod> pods =
        harness.client().pods().inNamespace(OperatorHarness.NAMESPACE).list().getItems();
    assertThat(pods).hasSize(1);
    return pods.get(0);
  }
}
