package io.vera.operator.compute.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.dockerjava.api.command.CreateContainerCmd;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.model.HostConfig;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.compute.ComputeLabels;
import io.vera.operator.compute.ExecRequest;
import io.vera.operator.compute.ExecResult;
import io.vera.operator.compute.HostProbe;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.compute.Machine;
import io.vera.operator.compute.MachineStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class DockerHostTest {
  @RegisterExtension static final DockerTestEngine docker = new DockerTestEngine();

  private static final Duration TEN_SECONDS = Duration.ofSeconds(10);

  @Test
  void probeReportsVersionAndHostCapacity() throws Exception {
    HostProbe probe = docker.host().probe();

    String engineVersion = docker.client().versionCmd().exec().getVersion();
    assertThat(probe.version()).isEqualTo(engineVersion);
    assertThat(probe.capacity().cpuCores())
        .isEqualTo(
            Runtime.getRuntime().availableProcessors(), org.assertj.core.data.Offset.offset(64.0))
        .isPositive();
    assertThat(probe.capacity().memoryMb()).isPositive();
    assertThat(probe.capacity().gpuCount()).isZero();
    assertThat(probe.nodes()).isEmpty();
  }

  @Test
  void probeOfAnEngineThatDoesNotAnswerIsUnavailable() throws Exception {
    try (DockerHost nowhere =
        DockerHost.connect(
            "unix:///nonexistent/docker.sock", null, Duration.ofSeconds(2), docker.instance())) {
      assertThatThrownBy(nowhere::probe)
          .isInstanceOfSatisfying(
              ComputeException.class, e -> assertThat(e.reason()).isEqualTo(Reason.UNAVAILABLE));
    }
  }

  @Test
  void provisionAppliesLimitsLabelsAndIsolationAndReturnsARunningMachine() throws Exception {
    ComputeResource resource =
        docker.resource(
            "limits",
            spec -> {
              spec.resources.cpuCores = 0.75;
              spec.resources.memoryMb = 192;
              spec.docker.env = Map.of("GREETING", "hello there");
            });

    Machine machine = docker.host().provision(resource);

    InspectContainerResponse inspect =
        docker.client().inspectContainerCmd(machine.nativeId()).exec();
    assertThat(inspect.getState().getRunning()).isTrue();
    assertThat(inspect.getHostConfig().getNanoCPUs()).isEqualTo(750_000_000L);
    assertThat(inspect.getHostConfig().getMemory()).isEqualTo(192L * 1024 * 1024);
    assertThat(inspect.getHostConfig().getPrivileged()).isFalse();
    assertThat(inspect.getHostConfig().getSecurityOpts()).contains("no-new-privileges");
    assertThat(inspect.getHostConfig().getNetworkMode()).isEqualTo("none");
    assertThat(inspect.getConfig().getLabels())
        .containsEntry(ComputeLabels.MANAGED_BY, ComputeLabels.MANAGED_BY_VALUE)
        .containsEntry(ComputeLabels.RESOURCE_UID, resource.getMetadata().getUid())
        .containsEntry(ComputeLabels.INSTANCE, docker.instance().value())
        .containsEntry(ComputeLabels.RESOURCE_NAME, "limits")
        .containsEntry(ComputeLabels.RESOURCE_NAMESPACE, docker.namespace());
    assertThat(inspect.getConfig().getEnv()).contains("GREETING=hello there");
    // Namespace and name, then 8 hex digits of the UID hashed with the installation.
    assertThat(inspect.getName())
        .matches("/vera-" + docker.namespace() + "-limits-[0-9a-f]{8}")
        .isEqualTo(
            "/"
                + ContainerSpec.containerName(
                    docker.namespace(),
                    "limits",
                    resource.getMetadata().getUid(),
                    docker.instance()));

    assertThat(machine.state()).isEqualTo(Machine.State.RUNNING);
    assertThat(machine.nativeId()).isEqualTo(inspect.getId());
    assertThat(machine.resourceId()).isEqualTo("docker-" + inspect.getId().substring(0, 12));
    assertThat(machine.address()).isNull();
    assertThat(machine.capacity().cpuCores()).isEqualTo(0.75);
    assertThat(machine.capacity().memoryMb()).isEqualTo(192);
    assertThat(machine.capacity().gpuCount()).isZero();
    assertThat(machine.owner())
        .isEqualTo(
            new Machine.Owner(
                docker.namespace(),
                "limits",
                resource.getMetadata().getUid(),
                docker.instance().value()));
  }

  @Test
  void hostNetworkIsReachableOnLoopbackAndBindsHonourReadOnly() throws Exception {
    ComputeResource resource =
        docker.resource(
            "hostnet",
            spec -> {
              spec.docker.networkMode = "host";
              spec.docker.volumes = List.of("/etc:/host-etc:ro");
            });

    Machine machine = docker.host().provision(resource);

    InspectContainerResponse inspect =
        docker.client().inspectContainerCmd(machine.nativeId()).exec();
    assertThat(machine.address()).isEqualTo("127.0.0.1");
    assertThat(inspect.getHostConfig().getNetworkMode()).isEqualTo("host");
    assertThat(inspect.getHostConfig().getBinds()).hasSize(1);
    assertThat(inspect.getHostConfig().getBinds()[0].getPath()).isEqualTo("/etc");
    ExecResult read = run(machine, "test -f /host-etc/hostname && echo readable");
    assertThat(read.stdout()).isEqualTo("readable\n");
    ExecResult write = run(machine, "touch /host-etc/vera-should-not-exist");
    assertThat(write.exitCode()).isNotZero();
    assertThat(write.stderr()).contains("Read-only file system");
  }

  /**
   * Privileged containers cannot start in every sandbox that runs these tests (the engine itself
   * may lack the capabilities), so this checks the request the host would send.
   */
  @Test
  void privilegedOnlyWhenAskedAndNoNewPrivilegesOtherwise() throws Exception {
    CreateContainerCmd plain = docker.client().createContainerCmd(DockerTestEngine.IMAGE);
    docker.host().configure(plain, docker.resource("plain"));
    assertThat(plain.getHostConfig().getPrivileged()).isFalse();
    assertThat(plain.getHostConfig().getSecurityOpts()).containsExactly("no-new-privileges");
    assertThat(plain.getHostConfig().getDeviceRequests()).isNull();

    CreateContainerCmd privileged = docker.client().createContainerCmd(DockerTestEngine.IMAGE);
    docker
        .host()
        .configure(
            privileged,
            docker.resource(
                "privileged",
                spec -> {
                  spec.docker.privileged = true;
                  spec.resources.gpuCount = 2;
                  spec.docker.restartPolicy = "on-failure:3";
                }));
    assertThat(privileged.getHostConfig().getPrivileged()).isTrue();
    assertThat(privileged.getHostConfig().getSecurityOpts()).isNull();
    assertThat(privileged.getHostConfig().getDeviceRequests())
        .singleElement()
        .satisfies(
            request -> {
              assertThat(request.getCount()).isEqualTo(2);
              assertThat(request.getCapabilities()).isEqualTo(List.of(List.of("gpu")));
            });
    assertThat(privileged.getHostConfig().getRestartPolicy().getName()).isEqualTo("on-failure");
    assertThat(privileged.getHostConfig().getRestartPolicy().getMaximumRetryCount()).isEqualTo(3);
    assertThat(privileged.getHostConfig().getMemorySwap()).isEqualTo(128L * 1024 * 1024);
  }

  @Test
  void invalidSpecsAreRefusedBeforeAnythingIsCreated() {
    assertInvalid(docker.resource("vol", s -> s.docker.volumes = List.of("relative:/data")));
    assertInvalid(docker.resource("vol2", s -> s.docker.volumes = List.of("/tmp:/data:rx")));
    assertInvalid(docker.resource("vol3", s -> s.docker.volumes = List.of("/tmp:/")));
    assertInvalid(docker.resource("vol4", s -> s.docker.volumes = List.of("/a/../etc:/x")));
    assertInvalid(docker.resource("rp", s -> s.docker.restartPolicy = "sometimes"));
    assertInvalid(docker.resource("net", s -> s.docker.networkMode = "bad mode!"));
    assertInvalid(docker.resource("img", s -> s.docker.image = " "));
    assertThat(
            docker
                .client()
                .listContainersCmd()
                .withShowAll(true)
                .withLabelFilter(Map.of(ComputeLabels.RESOURCE_NAMESPACE, docker.namespace()))
                .exec())
        .isEmpty();
  }

  @Test
  void unknownImageIsInvalidWithAClearMessage() {
    ComputeResource resource =
        docker.resource("noimage", spec -> spec.docker.image = "vera.local/does-not-exist:404");

    assertThatThrownBy(() -> docker.host().provision(resource))
        .isInstanceOfSatisfying(
            ComputeException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reason.INVALID);
              assertThat(e.getMessage())
                  .contains("vera.local/does-not-exist:404")
                  .contains("not present")
                  .contains("cannot be pulled");
            });
  }

  @Test
  void aCommandThatCannotStartIsInvalidAndLeavesNoContainer() throws Exception {
    ComputeResource resource =
        docker.resource("nostart", spec -> spec.docker.command = List.of("/no/such/binary"));

    assertThatThrownBy(() -> docker.host().provision(resource))
        .isInstanceOfSatisfying(
            ComputeException.class,
            e -> {
              assertThat(e.reason()).isIn(Reason.INVALID, Reason.FAILED);
              assertThat(e.getMessage()).contains("did not start");
            });
    assertThat(docker.host().find(resource.getMetadata().getUid())).isEmpty();
  }

  @Test
  void provisionIsIdempotentAndRestartsAStoppedContainer() throws Exception {
    ComputeResource resource = docker.resource("twice");

    Machine first = docker.host().provision(resource);
    Machine second = docker.host().provision(resource);
    assertThat(second.nativeId()).isEqualTo(first.nativeId());

    docker.client().stopContainerCmd(first.nativeId()).withTimeout(0).exec();
    assertThat(docker.host().find(resource.getMetadata().getUid()).orElseThrow().state())
        .isEqualTo(Machine.State.STOPPED);

    Machine third = docker.host().provision(resource);
    assertThat(third.nativeId()).isEqualTo(first.nativeId());
    assertThat(third.state()).isEqualTo(Machine.State.RUNNING);
    assertThat(containersOf(resource)).hasSize(1);
  }

  @Test
  void concurrentProvisionsOfOneResourceMakeOneContainer() throws Exception {
    ComputeResource resource = docker.resource("race");
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<Machine>> futures = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        futures.add(
            pool.submit(
                () -> {
                  go.await();
                  return docker.host().provision(resource);
                }));
      }
      go.countDown();
      Set<String> ids = new HashSet<>();
      for (Future<Machine> future : futures) {
        ids.add(future.get(60, TimeUnit.SECONDS).nativeId());
      }
      assertThat(ids).hasSize(1);
      assertThat(containersOf(resource)).hasSize(1);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void twoHostsRacingForOneResourceShareOneContainer() throws Exception {
    ComputeResource resource = docker.resource("tworeplicas");
    try (DockerHost other =
        DockerHost.connect(
            DockerTestEngine.engineUrl(), null, Duration.ofSeconds(30), docker.instance())) {
      ExecutorService pool = Executors.newFixedThreadPool(2);
      try {
        CountDownLatch go = new CountDownLatch(1);
        Future<Machine> a =
            pool.submit(
                () -> {
                  go.await();
                  return docker.host().provision(resource);
                });
        Future<Machine> b =
            pool.submit(
                () -> {
                  go.await();
                  return other.provision(resource);
                });
        go.countDown();
        assertThat(a.get(60, TimeUnit.SECONDS).nativeId())
            .isEqualTo(b.get(60, TimeUnit.SECONDS).nativeId());
        assertThat(containersOf(resource)).hasSize(1);
      } finally {
        pool.shutdownNow();
      }
    }
  }

  @Test
  void aDeadOrRemovedContainerIsReplaced() throws Exception {
    ComputeResource resource = docker.resource("replaced");
    Machine first = docker.host().provision(resource);

    docker.client().removeContainerCmd(first.nativeId()).withForce(true).exec();
    assertThat(docker.host().find(resource.getMetadata().getUid())).isEmpty();

    Machine second = docker.host().provision(resource);
    assertThat(second.nativeId()).isNotEqualTo(first.nativeId());
    assertThat(second.state()).isEqualTo(Machine.State.RUNNING);
    assertThat(docker.host().find(resource.getMetadata().getUid()).orElseThrow().nativeId())
        .isEqualTo(second.nativeId());
  }

  @Test
  void twentyConcurrentProvisionsOfDifferentResourcesAllRun() throws Exception {
    List<ComputeResource> resources = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      resources.add(docker.resource("many-" + i));
    }
    ExecutorService pool = Executors.newFixedThreadPool(20);
    try {
      List<Future<Machine>> futures = new ArrayList<>();
      for (ComputeResource resource : resources) {
        futures.add(pool.submit(() -> docker.host().provision(resource)));
      }
      Set<String> ids = new HashSet<>();
      for (Future<Machine> future : futures) {
        Machine machine = future.get(120, TimeUnit.SECONDS);
        assertThat(machine.state()).isEqualTo(Machine.State.RUNNING);
        ids.add(machine.nativeId());
      }
      assertThat(ids).hasSize(20);
    } finally {
      pool.shutdownNow();
    }
    Set<String> owned = new HashSet<>();
    docker.host().listOwned().forEach(m -> owned.add(m.owner().uid()));
    resources.forEach(r -> assertThat(owned).contains(r.getMetadata().getUid()));
  }

  @Test
  void findAndListOwnedSeeStoppedContainersAndNothingAfterRemoval() throws Exception {
    ComputeResource running = docker.resource("listed-running");
    ComputeResource stopped = docker.resource("listed-stopped");
    Machine a = docker.host().provision(running);
    Machine b = docker.host().provision(stopped);
    docker.client().stopContainerCmd(b.nativeId()).withTimeout(0).exec();

    Map<String, Machine.State> states = new java.util.HashMap<>();
    for (Machine machine : docker.host().listOwned()) {
      states.put(machine.owner().uid(), machine.state());
    }
    assertThat(states)
        .containsEntry(running.getMetadata().getUid(), Machine.State.RUNNING)
        .containsEntry(stopped.getMetadata().getUid(), Machine.State.STOPPED);
    assertThat(docker.host().find(running.getMetadata().getUid()).orElseThrow().resourceId())
        .isEqualTo(a.resourceId());
    assertThat(docker.host().find("no-such-uid")).isEmpty();

    // Out-of-band removal with the raw client: the host no longer sees it.
    docker.client().removeContainerCmd(a.nativeId()).withForce(true).exec();
    assertThat(docker.host().find(running.getMetadata().getUid())).isEmpty();
    assertThat(docker.host().listOwned())
        .extracting(m -> m.owner().uid())
        .doesNotContain(running.getMetadata().getUid());
  }

  @Test
  void destroyIsIdempotent() throws Exception {
    Machine machine = docker.host().provision(docker.resource("destroyed"));

    docker.host().destroy(machine);
    docker.host().destroy(machine);

    assertThat(docker.host().find(machine.owner().uid())).isEmpty();
    assertThatThrownBy(() -> docker.client().inspectContainerCmd(machine.nativeId()).exec())
        .isInstanceOf(com.github.dockerjava.api.exception.NotFoundException.class);
  }

  @Test
  void execReturnsExitCodesAndKeepsStdoutAndStderrApart() throws Exception {
    Machine machine = docker.host().provision(docker.resource("exec"));

    ExecResult ok = run(machine, "echo out; echo err >&2");
    assertThat(ok.exitCode()).isZero();
    assertThat(ok.stdout()).isEqualTo("out\n");
    assertThat(ok.stderr()).isEqualTo("err\n");
    assertThat(ok.timedOut()).isFalse();
    assertThat(ok.stdoutTruncated()).isFalse();

    ExecResult failed = run(machine, "echo partial; exit 7");
    assertThat(failed.exitCode()).isEqualTo(7);
    assertThat(failed.stdout()).isEqualTo("partial\n");

    ExecResult argv =
        docker
            .host()
            .exec(
                machine,
                new ExecRequest(
                    List.of("echo", "two words", "$HOME"), null, Map.of(), TEN_SECONDS, 1024));
    assertThat(argv.stdout()).isEqualTo("two words $HOME\n");

    ExecResult notFound =
        docker
            .host()
            .exec(
                machine,
                new ExecRequest(List.of("/no/such/program"), null, Map.of(), TEN_SECONDS, 1024));
    assertThat(notFound.exitCode()).isIn(126, 127);
  }

  @Test
  void execPassesEnvAndWorkdir() throws Exception {
    Machine machine = docker.host().provision(docker.resource("envwd"));

    ExecResult result =
        docker
            .host()
            .exec(
                machine,
                ExecRequest.shell(
                    "pwd; echo \"$COLOUR-$SHAPE\"",
                    "/tmp",
                    Map.of("COLOUR", "blue", "SHAPE", "round box"),
                    TEN_SECONDS,
                    1024));

    assertThat(result.exitCode()).isZero();
    assertThat(result.stdout()).isEqualTo("/tmp\nblue-round box\n");
  }

  @Test
  void outputBeyondTheCapIsCutAndFlaggedPerStream() throws Exception {
    Machine machine = docker.host().provision(docker.resource("cap"));

    ExecResult result =
        docker
            .host()
            .exec(
                machine,
                ExecRequest.shell(
                    "head -c 100000 /dev/zero | tr '\\0' a; echo small >&2",
                    null,
                    Map.of(),
                    TEN_SECONDS,
                    1000));

    assertThat(result.exitCode()).isZero();
    assertThat(result.stdout()).hasSize(1000).matches("a{1000}");
    assertThat(result.stdoutTruncated()).isTrue();
    assertThat(result.stderr()).isEqualTo("small\n");
    assertThat(result.stderrTruncated()).isFalse();
  }

  @Test
  void aTimedOutCommandIsKilledWithEveryProcessItStarted() throws Exception {
    Machine machine = docker.host().provision(docker.resource("timeout"));

    long start = System.nanoTime();
    ExecResult result =
        docker
            .host()
            .exec(
                machine,
                ExecRequest.shell(
                    "echo started; sleep 301 & sleep 302; echo never; sleep 303",
                    null,
                    Map.of(),
                    Duration.ofSeconds(1),
                    1024));
    Duration took = Duration.ofNanos(System.nanoTime() - start);

    assertThat(result.timedOut()).isTrue();
    assertThat(result.exitCode()).isEqualTo(-1);
    assertThat(result.stdout()).isEqualTo("started\n");
    assertThat(took).isLessThan(Duration.ofSeconds(8));
    String ps = run(machine, "ps -o pid,args").stdout();
    // The shell itself, its background child and its foreground child are all gone, and the
    // shell never got to run its next command.
    assertThat(ps).doesNotContain("sleep 30").doesNotContain("echo never").contains("sleep 3600");
  }

  @Test
  void execInARemovedContainerIsNotFoundAndInAStoppedOneFailed() throws Exception {
    Machine stopped = docker.host().provision(docker.resource("stopped"));
    docker.client().stopContainerCmd(stopped.nativeId()).withTimeout(0).exec();
    assertThatThrownBy(() -> run(stopped, "true"))
        .isInstanceOfSatisfying(
            ComputeException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reason.FAILED);
              assertThat(e.getMessage()).contains("is not running");
            });

    Machine removed = docker.host().provision(docker.resource("removed"));
    docker.client().removeContainerCmd(removed.nativeId()).withForce(true).exec();
    assertThatThrownBy(() -> run(removed, "true"))
        .isInstanceOfSatisfying(
            ComputeException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NOT_FOUND));
    assertThatThrownBy(() -> docker.host().stats(removed))
        .isInstanceOfSatisfying(
            ComputeException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NOT_FOUND));
  }

  @Test
  void statsReportCpuMemoryAndNoNetworkTraffic() throws Exception {
    Machine machine =
        docker
            .host()
            .provision(
                docker.resource(
                    "stats",
                    spec -> spec.docker.command = List.of("sh", "-c", "while true; do :; done")));

    MachineStats stats = docker.host().stats(machine);

    assertThat(stats.cpuPercent()).isGreaterThan(5.0).isLessThanOrEqualTo(100.0 * 64);
    assertThat(stats.memoryUsageBytes()).isPositive();
    assertThat(stats.memoryLimitBytes()).isEqualTo(128L * 1024 * 1024);
    assertThat(stats.networkRxBytes()).isZero();
    assertThat(stats.networkTxBytes()).isZero();
    assertThat(stats.readAt()).isNotNull();
  }

  @Test
  void diskSizeIsCappedWhereTheEngineCanAndReportedUncappedWhereItCannot() throws Exception {
    boolean engineCaps = engineCapsDiskSize();
    ComputeResource resource = docker.resource("disk", spec -> spec.resources.diskGb = 3);

    Machine machine = docker.host().provision(resource);

    InspectContainerResponse inspect =
        docker.client().inspectContainerCmd(machine.nativeId()).exec();
    assertThat(inspect.getState().getRunning()).isTrue();
    if (engineCaps) {
      assertThat(inspect.getHostConfig().getStorageOpt()).containsEntry("size", "3G");
      assertThat(machine.capacity().diskGb()).isEqualTo(3);
    } else {
      assertThat(inspect.getHostConfig().getStorageOpt()).isNullOrEmpty();
      assertThat(machine.capacity().diskGb()).isZero();
    }
    // The host remembers the engine's answer: a second container is made in one create.
    Machine second =
        docker.host().provision(docker.resource("disk2", spec -> spec.resources.diskGb = 2));
    assertThat(second.capacity().diskGb()).isEqualTo(engineCaps ? 2 : 0);
  }

  @Test
  void aRequiredDiskLimitIsRefusedByAnEngineThatCannotCapAndLeavesNoContainer() throws Exception {
    boolean engineCaps = engineCapsDiskSize();
    ComputeResource resource = docker.resource("diskreq", spec -> spec.resources.diskGb = 2);
    try (DockerHost strict =
        DockerHost.connect(
            DockerTestEngine.engineUrl(),
            null,
            Duration.ofSeconds(30),
            io.vera.operator.api.ProviderSpec.DiskLimit.Required,
            docker.instance())) {
      if (engineCaps) {
        Machine machine = strict.provision(resource);
        docker.track(machine.nativeId());
        assertThat(machine.capacity().diskGb()).isEqualTo(2);
        return;
      }
      for (int attempt = 0; attempt < 2; attempt++) { // first learns the refusal, then knows it
        assertThatThrownBy(() -> strict.provision(resource))
            .isInstanceOfSatisfying(
                ComputeException.class,
                e -> {
                  assertThat(e.reason()).isEqualTo(Reason.INVALID);
                  assertThat(e.getMessage())
                      .contains("cannot cap container disk size")
                      .contains("diskLimit is Required");
                });
      }
    }
    assertThat(containersOf(resource)).isEmpty();
  }

  @Test
  void anotherInstallationsContainersAreInvisibleAndUnmarkedOnesAreAdoptable() throws Exception {
    Machine mine = docker.host().provision(docker.resource("mine"));
    ComputeResource theirsResource = docker.resource("theirs");
    String unmarkedUid = UUID.randomUUID().toString();
    String unmarked = docker.createUnmarkedContainer(docker.namespace(), "older", unmarkedUid);
    try (DockerHost other =
        DockerHost.connect(
            DockerTestEngine.engineUrl(),
            null,
            Duration.ofSeconds(30),
            new InstanceId(docker.namespace() + "-other"))) {
      Machine theirs = other.provision(theirsResource);

      assertThat(ids(docker.host().listOwned()))
          .contains(mine.nativeId(), unmarked)
          .doesNotContain(theirs.nativeId());
      assertThat(ids(other.listOwned()))
          .contains(theirs.nativeId(), unmarked)
          .doesNotContain(mine.nativeId());
      assertThat(docker.host().find(theirsResource.getMetadata().getUid())).isEmpty();
      assertThat(docker.host().find(unmarkedUid))
          .hasValueSatisfying(
              m -> {
                assertThat(m.nativeId()).isEqualTo(unmarked);
                assertThat(m.owner().instance()).isNull();
              });
      assertThat(other.find(theirsResource.getMetadata().getUid()).orElseThrow().owner().instance())
          .isEqualTo(docker.namespace() + "-other");
    }
  }

  /** The container ids among {@code machines} that belong to this test class's namespace. */
  private static List<String> ids(List<Machine> machines) {
    return machines.stream()
        .filter(m -> docker.namespace().equals(m.owner().namespace()))
        .map(Machine::nativeId)
        .toList();
  }

  @Test
  void diskCapsAreReadBackInGibibytes() {
    assertThat(ContainerMachines.diskGb(null)).isZero();
    assertThat(ContainerMachines.diskGb(new HostConfig())).isZero();
    assertThat(ContainerMachines.diskGb(new HostConfig().withStorageOpt(Map.of("size", "10G"))))
        .isEqualTo(10);
    assertThat(ContainerMachines.diskGb(new HostConfig().withStorageOpt(Map.of("size", "2048m"))))
        .isEqualTo(2);
    assertThat(ContainerMachines.diskGb(new HostConfig().withStorageOpt(Map.of("size", "1TiB"))))
        .isEqualTo(1024);
    assertThat(ContainerMachines.diskGb(new HostConfig().withStorageOpt(Map.of("size", "lots"))))
        .isZero();
  }

  /**
   * Asks the engine directly, without DockerHost, whether its storage driver accepts a disk cap, so
   * the tests above check DockerHost against the engine's own answer on any machine.
   */
  private static boolean engineCapsDiskSize() {
    try {
      String id =
          docker
              .client()
              .createContainerCmd(DockerTestEngine.IMAGE)
              .withCmd("true")
              .withHostConfig(
                  HostConfig.newHostConfig()
                      .withNetworkMode("none")
                      .withStorageOpt(Map.of("size", "1G")))
              .exec()
              .getId();
      docker.client().removeContainerCmd(id).withForce(true).exec();
      return true;
    } catch (com.github.dockerjava.api.exception.DockerException e) {
      assertThat(e.getMessage()).contains("storage-opt");
      return false;
    }
  }

  private static ExecResult run(Machine machine, String line) throws ComputeException {
    return docker
        .host()
        .exec(machine, ExecRequest.shell(line, null, Map.of(), TEN_SECONDS, 64 * 1024));
  }

  private static void assertInvalid(ComputeResource resource) {
    assertThatThrownBy(() -> docker.host().provision(resource))
        .isInstanceOfSatisfying(
            ComputeException.class, e -> assertThat(e.reason()).isEqualTo(Reason.INVALID));
  }

  private static List<?> containersOf(ComputeResource resource) {
    return docker
        .client()
        .listContainersCmd()
        .withShowAll(true)
        .withLabelFilter(Map.of(ComputeLabels.RESOURCE_UID, resource.getMetadata().getUid()))
        .exec();
  }
}
