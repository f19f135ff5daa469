package io.vera.operator.compute.pod;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.metrics.v1beta1.ContainerMetrics;
import io.fabric8.kubernetes.api.model.metrics.v1beta1.PodMetrics;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.ExecWatch;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.compute.Capacity;
import io.vera.operator.compute.CappedOutput;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeHost;
import io.vera.operator.compute.ComputeLabels;
import io.vera.operator.compute.ExecMarker;
import io.vera.operator.compute.ExecRequest;
import io.vera.operator.compute.ExecResult;
import io.vera.operator.compute.HostProbe;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.compute.Machine;
import io.vera.operator.compute.MachineStats;
import io.vera.operator.compute.ProvisionProgress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pods in one namespace as machines. Each pod is owned by its ComputeResource (so Kubernetes
 * removes it with the resource even if the operator is down) and runs a keep-alive command unless
 * the spec names one. Exec goes through the API server's exec subresource. Pods carry the {@link
 * InstanceId} label like every machine, so a second installation watching the same namespace (with
 * its own {@code --instance-id}) neither adopts nor sweeps them.
 *
 * <p>The exec subresource has no way to kill what it started, so commands run under a small shell
 * wrapper that marks their environment; at the timeout (or when the attempt is revoked) a second
 * exec kills every process carrying the mark, so children die with the command. Images therefore
 * need {@code /bin/sh} with {@code grep} and {@code kill} for timeouts and working directories.
 */
public final class PodHost implements ComputeHost {
  private static final String CONTAINER = "machine";
  private static final Duration KILL_WAIT = Duration.ofSeconds(10);
  private static final Logger LOG = LoggerFactory.getLogger(PodHost.class);
  private static final Duration START_WAIT = Duration.ofMinutes(5);

  /** How often a wait for an unscheduled pod asks whether the cluster has any Node. */
  private static final Duration NODES_CHECK_EVERY = Duration.ofSeconds(5);

  /** How long a pod may stay unscheduled before a cluster with no Node at all fails it. */
  private static final Duration UNSCHEDULED_WAIT = Duration.ofSeconds(20);

  private static final List<String> KEEP_ALIVE =
      List.of("/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 3600 & wait $!; done");

  private final KubernetesClient client;
  private final String namespace;
  private final Clock clock;
  private final InstanceId instance;

  public PodHost(KubernetesClient client, String namespace, Clock clock, InstanceId instance) {
    this.client = client;
    this.namespace = namespace;
    this.clock = clock;
    this.instance = instance;
  }

  @Override
  public HostProbe probe() throws ComputeException {
    try {
      return new HostProbe(client.getKubernetesVersion().getGitVersion(), Capacity.NONE, List.of());
    } catch (KubernetesClientException e) {
      throw new ComputeException(
          ComputeException.Reason.UNAVAILABLE, "the API server did not answer: " + e.getMessage());
    }
  }

  @Override
  public Machine provision(ComputeResource resource) throws ComputeException {
    return provision(resource, ProvisionProgress.NONE);
  }

  /**
   * Creates the pod and waits until it runs, telling {@code progress} while no Node takes it:
   * reason {@code NoNode} when the cluster has none (it fails after {@link #UNSCHEDULED_WAIT}),
   * {@code Unschedulable} with the scheduler's message otherwise.
   */
  @Override
  public Machine provision(ComputeResource resource, ProvisionProgress progress)
      throws ComputeException {
    String uid = resource.getMetadata().getUid();
    Optional<Pod> existing = podOf(uid);
    if (existing.isPresent()) {
      Machine.State state = state(existing.get());
      if (state == Machine.State.RUNNING || state == Machine.State.STARTING) {
        return awaitRunning(existing.get().getMetadata().getName(), progress);
      }
      delete(existing.get().getMetadata().getName());
    }
    Pod pod = podFor(resource);
    try {
      client.pods().inNamespace(namespace).resource(pod).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        return awaitRunning(pod.getMetadata().getName(), progress);
      }
      throw new ComputeException(
          e.getCode() == 422
              ? ComputeException.Reason.INVALID
              : ComputeException.Reason.UNAVAILABLE,
          "the pod could not be created: " + message(e));
    }
    return awaitRunning(pod.getMetadata().getName(), progress);
  }

  private Pod podFor(ComputeResource resource) throws ComputeException {
    ComputeResourceSpec spec = resource.getSpec();
    if (spec.pod == null || spec.pod.image == null || spec.pod.image.isBlank()) {
      throw new ComputeException(ComputeException.Reason.INVALID, "spec.pod.image is required");
    }
    String uid = resource.getMetadata().getUid();
    Capacity size = Capacity.of(spec.resources);
    Map<String, Quantity> limits = new LinkedHashMap<>();
    limits.put("cpu", new Quantity(Math.max(1, Math.round(size.cpuCores() * 1000)) + "m"));
    limits.put("memory", new Quantity(size.memoryMb() + "Mi"));
    if (size.diskGb() > 0) {
      // The kubelet evicts a pod that writes more than this to its writable layer and logs.
      limits.put("ephemeral-storage", new Quantity(size.diskGb() + "Gi"));
    }
    if (size.gpuCount() > 0) {
      limits.put("nvidia.com/gpu", new Quantity(Integer.toString(size.gpuCount())));
    }
    List<EnvVar> env = new ArrayList<>();
    if (spec.pod.env != null) {
      spec.pod.env.forEach((k, v) -> env.add(new EnvVar(k, v, null)));
    }
    Container container =
        new ContainerBuilder()
            .withName(CONTAINER)
            .withImage(spec.pod.image)
            .withCommand(
                spec.pod.command == null || spec.pod.command.isEmpty()
                    ? KEEP_ALIVE
                    : spec.pod.command)
            .withEnv(env)
            .withNewResources()
            .withLimits(limits)
            .withRequests(limits)
            .endResources()
            .withNewSecurityContext()
            .withAllowPrivilegeEscalation(false)
            .withPrivileged(false)
            .withNewCapabilities()
            .withDrop("ALL")
            .endCapabilities()
            .withNewSeccompProfile()
            .withType("RuntimeDefault")
            .endSeccompProfile()
            .endSecurityContext()
            .build();
    return new PodBuilder()
        .withNewMetadata()
        .withName(podName(resource))
        .withNamespace(namespace)
        .addToLabels(ComputeLabels.MANAGED_BY, ComputeLabels.MANAGED_BY_VALUE)
        .addToLabels(ComputeLabels.RESOURCE_UID, uid)
        .addToLabels(ComputeLabels.INSTANCE, instance.value())
        .addToLabels(ComputeLabels.RESOURCE_NAME, resource.getMetadata().getName())
        .addToLabels(ComputeLabels.RESOURCE_NAMESPACE, namespace)
        .withOwnerReferences(
            new OwnerReferenceBuilder()
                .withApiVersion(resource.getApiVersion())
                .withKind(resource.getKind())
                .withName(resource.getMetadata().getName())
                .withUid(uid)
                .withController(true)
                .withBlockOwnerDeletion(true)
                .build())
        .endMetadata()
        .withNewSpec()
        .withContainers(container)
        .withHostNetwork(Boolean.TRUE.equals(spec.pod.hostNetwork) ? true : null)
        .withRestartPolicy("Always")
        .withAutomountServiceAccountToken(false)
        .withTerminationGracePeriodSeconds(5L)
        .endSpec()
        .build();
  }

  /** The resource's name plus part of its uid, so a recreated resource never meets its old pod. */
  static String podName(ComputeResource resource) {
    String name = resource.getMetadata().getName();
    String suffix = "-" + resource.getMetadata().getUid().substring(0, 8).toLowerCase(Locale.ROOT);
    if (name.length() + suffix.length() > 63) {
      name = name.substring(0, 63 - suffix.length());
      name = name.replaceAll("[-.]+$", "");
    }
    return name + suffix;
  }

  private Machine awaitRunning(String podName, ProvisionProgress progress) throws ComputeException {
    Instant until = clock.instant().plus(START_WAIT);
    Instant unscheduledUntil = clock.instant().plus(UNSCHEDULED_WAIT);
    Waiting told = null;
    boolean noNodes = false;
    Instant nodesCheckDue = clock.instant();
    while (true) {
      Pod pod = client.pods().inNamespace(namespace).withName(podName).get();
      if (pod == null) {
        throw new ComputeException(
            ComputeException.Reason.UNAVAILABLE, "pod " + podName + " disappeared while starting");
      }
      boolean unscheduled =
          (pod.getSpec() == null || pod.getSpec().getNodeName() == null)
              && (pod.getStatus() == null || !"Running".equals(pod.getStatus().getPhase()));
      if (unscheduled && !clock.instant().isBefore(nodesCheckDue)) {
        // A Node list every look would load a big cluster's API server: every few seconds.
        noNodes = noNodes();
        nodesCheckDue = clock.instant().plus(NODES_CHECK_EVERY);
      }
      Optional<Waiting> waiting =
          unscheduled ? unscheduledReason(pod, podName, noNodes) : Optional.empty();
      if (waiting.isPresent() && !waiting.get().equals(told)) {
        progress.waiting(waiting.get().reason(), waiting.get().message());
        told = waiting.get();
      }
      if (!clock.instant().isBefore(unscheduledUntil) && unscheduled && noNodes()) {
        delete(podName);
        throw new ComputeException(
            ComputeException.Reason.UNSUPPORTED,
            "pod "
                + podName
                + " was not scheduled within "
                + UNSCHEDULED_WAIT.toSeconds()
                + "s and no Node exists to run it (embedded mode has no kubelet): nothing can run"
                + " a Pod ComputeResource here; use a Docker or Proxmox one");
      }
      Optional<String> stuck = stuck(pod);
      if (stuck.isPresent()) {
        throw new ComputeException(ComputeException.Reason.INVALID, stuck.get());
      }
      Machine machine = machine(pod);
      if (machine.state() == Machine.State.RUNNING) {
        return machine;
      }
      if (machine.state() == Machine.State.FAILED) {
        throw new ComputeException(
            ComputeException.Reason.FAILED, "pod " + podName + " failed while starting");
      }
      if (!clock.instant().isBefore(until)) {
        throw new ComputeException(
            ComputeException.Reason.UNAVAILABLE,
            "pod " + podName + " is not running after " + START_WAIT.toSeconds() + "s");
      }
      try {
        Thread.sleep(250);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ComputeException(ComputeException.Reason.UNAVAILABLE, "interrupted");
      }
    }
  }

  /** Why a pod is not running yet, as said in the resource's Ready condition. */
  private record Waiting(String reason, String message) {}

  /**
   * Why an unscheduled pod waits; empty while the scheduler has said nothing yet in a cluster with
   * Nodes (it may be about to place it).
   */
  private static Optional<Waiting> unscheduledReason(Pod pod, String podName, boolean noNodes) {
    if (noNodes) {
      return Optional.of(
          new Waiting(
              "NoNode",
              "pod "
                  + podName
                  + " waits for a Node and the cluster has none (embedded mode has no kubelet);"
                  + " it fails after "
                  + UNSCHEDULED_WAIT.toSeconds()
                  + "s unless one appears: use a Docker or Proxmox ComputeResource to run"
                  + " commands here"));
    }
    if (pod.getStatus() != null && pod.getStatus().getConditions() != null) {
      for (PodCondition c : pod.getStatus().getConditions()) {
        if ("PodScheduled".equals(c.getType())
            && "False".equals(c.getStatus())
            && "Unschedulable".equals(c.getReason())) {
          return Optional.of(
              new Waiting(
                  "Unschedulable",
                  "pod "
                      + podName
                      + " waits for a Node: "
                      + (c.getMessage() == null ? "no Node fits it" : c.getMessage())
                      + " (waiting up to "
                      + START_WAIT.toSeconds()
                      + "s in all; a cluster autoscaler may add one)"));
        }
      }
    }
    return Optional.empty();
  }

  /**
   * Whether the cluster has no Node at all, as the embedded API server (no kubelet) or one that
   * does not serve Nodes; false when that cannot be read (e.g. no RBAC to list Nodes).
   */
  private boolean noNodes() {
    try {
      return client.nodes().list().getItems().isEmpty();
    } catch (KubernetesClientException e) {
      return e.getCode() == 404;
    }
  }

  /** A reason the pod will not start by itself: its image cannot be pulled, or it crash-loops. */
  private static Optional<String> stuck(Pod pod) {
    if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) {
      return Optional.empty();
    }
    for (ContainerStatus c : pod.getStatus().getContainerStatuses()) {
      if (c.getState() != null && c.getState().getWaiting() != null) {
        String reason = c.getState().getWaiting().getReason();
        if (List.of("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CrashLoopBackOff")
            .contains(reason)) {
          return Optional.of(
              "pod "
                  + pod.getMetadata().getName()
                  + " cannot start: "
                  + reason
                  + Optional.ofNullable(c.getState().getWaiting().getMessage())
                      .map(m -> " (" + m + ")")
                      .orElse(""));
        }
      }
    }
    return Optional.empty();
  }

  @Override
  public Optional<Machine> find(String resourceUid) throws ComputeException {
    return podOf(resourceUid).map(PodHost::machine);
  }

  private Optional<Pod> podOf(String uid) throws ComputeException {
    try {
      return client
          .pods()
          .inNamespace(namespace)
          .withLabel(ComputeLabels.RESOURCE_UID, uid)
          .list()
          .getItems()
          .stream()
          .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
          .filter(this::adoptable)
          .findFirst();
    } catch (KubernetesClientException e) {
      throw new ComputeException(ComputeException.Reason.UNAVAILABLE, message(e));
    }
  }

  @Override
  public List<Machine> listOwned() throws ComputeException {
    try {
      return client
          .pods()
          .inNamespace(namespace)
          .withLabel(ComputeLabels.MANAGED_BY, ComputeLabels.MANAGED_BY_VALUE)
          .withLabel(ComputeLabels.RESOURCE_UID)
          .list()
          .getItems()
          .stream()
          .filter(this::adoptable)
          .map(PodHost::machine)
          .toList();
    } catch (KubernetesClientException e) {
      throw new ComputeException(ComputeException.Reason.UNAVAILABLE, message(e));
    }
  }

  /** A label selector cannot say "this id or none", so pods are filtered after listing. */
  private boolean adoptable(Pod pod) {
    Map<String, String> labels = pod.getMetadata().getLabels();
    return instance.mayAdopt(labels == null ? null : labels.get(ComputeLabels.INSTANCE));
  }

  @Override
  public void destroy(Machine machine) throws ComputeException {
    delete(machine.nativeId());
  }

  private void delete(String podName) throws ComputeException {
    try {
      client.pods().inNamespace(namespace).withName(podName).delete();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw new ComputeException(ComputeException.Reason.UNAVAILABLE, message(e));
      }
    }
  }

  @Override
  public ExecResult exec(Machine machine, ExecRequest request) throws ComputeException {
    String marker = UUID.randomUUID().toString();
    List<String> argv = new ArrayList<>();
    argv.add("/bin/sh");
    argv.add("-c");
    argv.add("export " + ExecMarker.ENV + "=" + marker + "; cd \"$0\" || exit 127; exec \"$@\"");
    argv.add(request.workdir() == null ? "." : request.workdir());
    if (!request.env().isEmpty()) {
      argv.add("env");
      request.env().forEach((k, v) -> argv.add(k + "=" + v));
    }
    argv.addAll(request.argv());
    CappedOutput stdout = new CappedOutput(request.maxOutputBytes(), request.meter());
    CappedOutput stderr = new CappedOutput(request.maxOutputBytes(), request.meter());
    long started = System.nanoTime();
    try (ExecWatch watch =
        client
            .pods()
            .inNamespace(namespace)
            .withName(machine.nativeId())
            .inContainer(CONTAINER)
            .writingOutput(stdout)
            .writingError(stderr)
            .exec(argv.toArray(String[]::new))) {
      try {
        Integer code =
            watch.exitCode().get(Math.max(1, request.timeout().toMillis()), TimeUnit.MILLISECONDS);
        return new ExecResult(
            code == null ? -1 : code,
            stdout.text(),
            stderr.text(),
            stdout.truncated(),
            stderr.truncated(),
            false,
            Duration.ofNanos(System.nanoTime() - started));
      } catch (TimeoutException e) {
        kill(machine, marker);
        return new ExecResult(
            -1,
            stdout.text(),
            stderr.text(),
            stdout.truncated(),
            stderr.truncated(),
            true,
            Duration.ofNanos(System.nanoTime() - started));
      } catch (ExecutionException e) {
        throw new ComputeException(
            ComputeException.Reason.UNAVAILABLE,
            "exec in pod " + machine.nativeId() + " failed: " + e.getCause().getMessage());
      } catch (InterruptedException e) {
        // Kill first: with the interrupt flag set again the killing exec could not even connect,
        // and the command would outlive its task (a revoked attempt: timeout or cancel).
        kill(machine, marker);
        Thread.currentThread().interrupt();
        throw new ComputeException(ComputeException.Reason.UNAVAILABLE, "interrupted");
      }
    } catch (KubernetesClientException e) {
      throw new ComputeException(
          e.getCode() == 404
              ? ComputeException.Reason.NOT_FOUND
              : ComputeException.Reason.UNAVAILABLE,
          "exec in pod " + machine.nativeId() + " failed: " + message(e));
    }
  }

  /**
   * SIGKILL to every process whose environment carries the command's mark: stopped first, so a
   * parent cannot start more children during the scan; three rounds catch those forked meanwhile.
   */
  private void kill(Machine machine, String marker) {
    String script = ExecMarker.killScript(marker);
    // The dispatcher revokes an attempt at the same deadline by interrupting this thread, often
    // while the kill is under way: an interrupted kill would leave the command running, so the
    // flag is set aside until the kill is done.
    boolean interrupted = Thread.interrupted();
    try {
      for (int attempt = 1; ; attempt++) {
        // (the API server refuses an exec that attaches none of stdin, stdout and stderr)
        try (ExecWatch killer =
            client
                .pods()
                .inNamespace(namespace)
                .withName(machine.nativeId())
                .inContainer(CONTAINER)
                .writingOutput(new CappedOutput(4096))
                .writingError(new CappedOutput(4096))
                .exec("/bin/sh", "-c", script)) {
          long deadline = System.nanoTime() + KILL_WAIT.toNanos();
          while (true) {
            try {
              killer
                  .exitCode()
                  .get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
              return;
            } catch (InterruptedException e) {
              interrupted = true;
            }
          }
        } catch (KubernetesClientException e) {
          // Connecting was interrupted (the flag is set again): once more without it.
          interrupted |= Thread.interrupted();
          if (attempt >= 2) {
            throw e;
          }
        }
      }
    } catch (Exception e) {
      // The pod may be gone or lack a shell; the command then dies with the pod.
      LOG.warn(
          "could not kill a timed-out command in pod {}/{}: {}",
          namespace,
          machine.nativeId(),
          e.toString());
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public MachineStats stats(Machine machine) throws ComputeException {
    try {
      PodMetrics metrics = client.top().pods().metrics(namespace, machine.nativeId());
      double cpuCores = 0;
      long memory = 0;
      for (ContainerMetrics c : metrics.getContainers()) {
        cpuCores += Quantity.getAmountInBytes(c.getUsage().get("cpu")).doubleValue();
        memory += Quantity.getAmountInBytes(c.getUsage().get("memory")).longValue();
      }
      long limit = machine.capacity().memoryMb() * 1024 * 1024;
      double cpuPercent =
          machine.capacity().cpuCores() > 0 ? 100.0 * cpuCores / machine.capacity().cpuCores() : -1;
      return new MachineStats(cpuPercent, memory, limit, -1, -1, clock.instant());
    } catch (KubernetesClientException e) {
      throw new ComputeException(
          ComputeException.Reason.UNAVAILABLE,
          "no live stats for pod "
              + machine.nativeId()
              + ": the cluster's metrics API did not answer ("
              + message(e)
              + ")");
    }
  }

  private static Machine machine(Pod pod) {
    Map<String, String> labels = pod.getMetadata().getLabels();
    Machine.Owner owner =
        new Machine.Owner(
            labels.get(ComputeLabels.RESOURCE_NAMESPACE),
            labels.get(ComputeLabels.RESOURCE_NAME),
            labels.get(ComputeLabels.RESOURCE_UID),
            labels.get(ComputeLabels.INSTANCE));
    return new Machine(
        "pod-" + pod.getMetadata().getName(),
        pod.getMetadata().getName(),
        owner,
        state(pod),
        pod.getStatus() == null ? null : pod.getStatus().getPodIP(),
        capacity(pod));
  }

  private static Machine.State state(Pod pod) {
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    if (phase == null || "Pending".equals(phase) || "Unknown".equals(phase)) {
      return Machine.State.STARTING;
    }
    if ("Succeeded".equals(phase) || "Failed".equals(phase)) {
      return Machine.State.FAILED;
    }
    boolean ready =
        pod.getStatus().getContainerStatuses() != null
            && pod.getStatus().getContainerStatuses().stream()
                .allMatch(c -> Boolean.TRUE.equals(c.getReady()));
    return ready ? Machine.State.RUNNING : Machine.State.STARTING;
  }

  private static Capacity capacity(Pod pod) {
    Map<String, Quantity> limits =
        pod.getSpec().getContainers().get(0).getResources() == null
            ? null
            : pod.getSpec().getContainers().get(0).getResources().getLimits();
    if (limits == null) {
      return Capacity.NONE;
    }
    double cpu =
        limits.containsKey("cpu") ? Quantity.getAmountInBytes(limits.get("cpu")).doubleValue() : 0;
    long memoryMb =
        limits.containsKey("memory")
            ? Quantity.getAmountInBytes(limits.get("memory")).longValue() / (1024 * 1024)
            : 0;
    int gpus =
        limits.containsKey("nvidia.com/gpu")
            ? Quantity.getAmountInBytes(limits.get("nvidia.com/gpu")).intValue()
            : 0;
    long diskGb =
        limits.containsKey("ephemeral-storage")
            ? Quantity.getAmountInBytes(limits.get("ephemeral-storage")).longValue() >> 30
            : 0;
    return new Capacity(cpu, memoryMb, diskGb, gpus);
  }

  private static String message(KubernetesClientException e) {
    return e.getStatus() != null && e.getStatus().getMessage() != null
        ? e.getStatus().getMessage()
        : e.getMessage();
  }

  @Override
  public void close() {
    // The Kubernetes client is shared with the rest of the operator.
  }
}
