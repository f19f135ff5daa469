package io.vera.operator.compute.proxmox;

import static io.vera.operator.compute.proxmox.ProxmoxFixtures.INSTANCE;
import static io.vera.operator.compute.proxmox.ProxmoxFixtures.RANGE_MAX;
import static io.vera.operator.compute.proxmox.ProxmoxFixtures.RANGE_MIN;
import static io.vera.operator.compute.proxmox.ProxmoxFixtures.connect;
import static io.vera.operator.compute.proxmox.ProxmoxFixtures.lxc;
import static io.vera.operator.compute.proxmox.ProxmoxFixtures.provider;
import static io.vera.operator.compute.proxmox.ProxmoxFixtures.vm;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.compute.ExecRequest;
import io.vera.operator.compute.ExecResult;
import io.vera.operator.compute.HostProbe;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.compute.Machine;
import io.vera.operator.compute.MachineStats;
import io.vera.operator.provider.Credentials;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link ProxmoxHost} against the simulator; every request it sends must pass the API schema. */
class ProxmoxHostTest {
  private static PveApiSchema fullSchema;

  private ProxmoxSimulator sim;
  private ProxmoxHost host;

  @BeforeAll
  static void loadFullSchema() throws Exception {
    if (Files.exists(PveApiSchemaSubset.FULL)) {
      fullSchema = PveApiSchema.load(PveApiSchemaSubset.FULL);
    }
  }

  @BeforeEach
  void start() throws Exception {
    sim = ProxmoxSimulator.start();
    host = connect(sim, provider(sim), sim.tokenSecret());
  }

  @AfterEach
  void stop() throws Exception {
    host.close();
    sim.close();
    assertThat(sim.schemaViolations()).as("requests the real API would refuse").isEmpty();
    if (fullSchema != null) {
      for (ProxmoxSimulator.Call call : sim.calls()) {
        assertThat(fullSchema.check(call.method(), call.path(), call.params()))
            .as("%s %s against the full official schema", call.method(), call.path())
            .isEmpty();
      }
    }
  }

  @Test
  void vmIsClonedConfiguredGrownStartedAndReportsItsAgentAddress() throws Exception {
    ComputeResource r = vm("worker-1");
    Machine m = host.provision(r);

    assertThat(m.state()).isEqualTo(Machine.State.RUNNING);
    assertThat(m.resourceId()).isEqualTo("proxmox-pve1-" + RANGE_MIN);
    assertThat(m.nativeId()).isEqualTo("pve1/" + RANGE_MIN);
    assertThat(m.address()).isEqualTo(ProxmoxSimulator.ip(RANGE_MIN));
    assertThat(m.owner())
        .isEqualTo(new Machine.Owner("team-a", "worker-1", uid(r), INSTANCE.value()));
    assertThat(m.capacity().cpuCores()).isEqualTo(4);

    ProxmoxSimulator.GuestView g = sim.guest(RANGE_MIN);
    assertThat(g.status()).isEqualTo("running");
    assertThat(g.config()).containsEntry("cores", "4").containsEntry("memory", "4096");
    assertThat(g.config().get("scsi0")).startsWith("local-lvm:vm-1000-disk-0").endsWith("size=20G");
    assertThat(g.name()).isEqualTo("vera-" + uid(r));
    assertThat(g.pool()).isEqualTo(ProxmoxSimulator.POOL);
    assertThat(g.config().get("tags").split(";"))
        .contains(
            "vera-operator",
            "vera-uid-" + uid(r),
            "vera-ns-team-a",
            "vera-name-worker-1",
            "gpu-free",
            "_41_49_20_57orkers");
    assertThat(g.config().get("description")).contains("vera.io/resource-uid=" + uid(r));
    assertThat(sim.calls()).allMatch(c -> c.auth().equals("token"));
    assertThat(paths("POST"))
        .contains("/nodes/pve1/qemu/9000/clone", "/nodes/pve1/qemu/1000/status/start");
    assertThat(paths("PUT")).contains("/nodes/pve1/qemu/1000/resize");
  }

  @Test
  void coresAndMemoryAreSetOnlyWhenTheyDifferAndDisksNeverShrink() throws Exception {
    ComputeResource r = vm("same-size");
    r.getSpec().resources.cpuCores = 2.0;
    r.getSpec().resources.memoryMb = 2048;
    r.getSpec().resources.diskGb = 4; // the template's disk is 8G
    host.provision(r);

    List<ProxmoxSimulator.Call> configs =
        sim.calls().stream()
            .filter(c -> c.method().equals("PUT") && c.path().endsWith("/config"))
            .toList();
    assertThat(configs).hasSize(1);
    assertThat(configs.get(0).params()).containsKey("tags").doesNotContainKeys("cores", "memory");
    assertThat(paths("PUT")).noneMatch(p -> p.endsWith("/resize"));
    assertThat(sim.guest(RANGE_MIN).config().get("scsi0")).endsWith("size=8G");
  }

  @Test
  void vmWithoutTemplateIsCreatedWithItsOwnDisk() throws Exception {
    ComputeResource r = vm("blank");
    r.getSpec().proxmox.template = null;
    Machine m = host.provision(r);

    assertThat(paths("POST")).contains("/nodes/pve1/qemu");
    assertThat(sim.guest(RANGE_MIN).config())
        .containsEntry("scsi0", "local-lvm:vm-1000-disk-0,size=20G")
        .containsEntry("agent", "1")
        .containsEntry("net0", "virtio,bridge=vmbr0");
    assertThat(m.state()).isEqualTo(Machine.State.RUNNING);
  }

  @Test
  void containerIsCreatedUnprivilegedStartedAndReportsItsAddress() throws Exception {
    ComputeResource r = lxc("ct-1");
    Machine m = host.provision(r);

    assertThat(m.state()).isEqualTo(Machine.State.RUNNING);
    assertThat(m.address()).isEqualTo(ProxmoxSimulator.ip(RANGE_MIN));
    ProxmoxSimulator.GuestView g = sim.guest(RANGE_MIN);
    assertThat(g.lxc()).isTrue();
    assertThat(g.config())
        .containsEntry("unprivileged", "1")
        .containsEntry("rootfs", "local-lvm:vm-1000-disk-0,size=20G")
        .containsEntry("net0", "name=eth0,bridge=vmbr0,ip=dhcp")
        .containsEntry("cores", "4")
        .containsEntry("memory", "4096")
        .containsEntry("hostname", "vera-" + uid(r));
    assertThat(g.status()).isEqualTo("running");
  }

  @Test
  void provisionIsIdempotentForTheSameResource() throws Exception {
    ComputeResource r = vm("twice");
    Machine first = host.provision(r);
    Machine second = host.provision(r);

    assertThat(second.resourceId()).isEqualTo(first.resourceId());
    assertThat(sim.guests()).hasSize(1);
    assertThat(paths("POST").stream().filter(p -> p.endsWith("/clone"))).hasSize(1);
  }

  @Test
  void twentyParallelProvisionsGetDistinctVmidsEvenWhenOthersTakeIdsMeanwhile() throws Exception {
    sim.takeVmidOnNextCreate(3); // another client grabs the VMID we picked, three times
    List<ComputeResource> resources = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      resources.add(i % 4 == 3 ? lxc("par-" + i) : vm("par-" + i));
    }
    ExecutorService pool = Executors.newFixedThreadPool(20);
    long started = System.nanoTime();
    List<Future<Machine>> futures = new ArrayList<>();
    for (ComputeResource r : resources) {
      futures.add(pool.submit((Callable<Machine>) () -> host.provision(r)));
    }
    List<Machine> machines = new ArrayList<>();
    for (Future<Machine> f : futures) {
      machines.add(f.get());
    }
    long ms = (System.nanoTime() - started) / 1_000_000;
    pool.shutdown();
    System.out.println("20 parallel provisions against the simulator took " + ms + " ms");

    Set<String> ids = machines.stream().map(Machine::nativeId).collect(Collectors.toSet());
    assertThat(ids).hasSize(20);
    assertThat(machines).allMatch(m -> m.state() == Machine.State.RUNNING);
    List<ProxmoxSimulator.GuestView> ours = sim.guests();
    assertThat(ours).hasSize(20);
    for (int i = 0; i < 20; i++) {
      ComputeResource r = resources.get(i);
      Machine m = machines.get(i);
      int vmid = Integer.parseInt(m.nativeId().substring(m.nativeId().indexOf('/') + 1));
      assertThat(vmid).isBetween(RANGE_MIN, RANGE_MAX);
      assertThat(sim.guest(vmid).name()).isEqualTo("vera-" + uid(r));
      assertThat(m.owner().uid()).isEqualTo(uid(r));
    }
    long refused =
        sim.calls().stream()
            .filter(
                c ->
                    c.method().equals("POST")
                        && (c.path().endsWith("/clone") || c.path().endsWith("/lxc")))
            .count();
    assertThat(refused).as("3 creates answered 'already exists' and were retried").isEqualTo(23);
  }

  @Test
  void startFailureRemovesTheHalfMadeVm() throws Exception {
    ComputeResource r = vm("bad-gpu");
    r.getSpec().resources.gpuCount = 1;
    r.getSpec().proxmox.gpuMapping = "no-such-gpu";

    assertThatThrownBy(() -> host.provision(r))
        .isInstanceOf(ComputeException.class)
        .satisfies(e -> assertThat(((ComputeException) e).reason()).isEqualTo(Reason.FAILED))
        .hasMessageContaining("PCI device mapping 'no-such-gpu' not found")
        .hasMessageContaining("was removed");
    assertThat(sim.guests()).isEmpty();
    assertThat(sim.purged()).containsExactly(RANGE_MIN);
    assertThat(host.listOwned()).isEmpty();
  }

  @Test
  void aPassingFailureKeepsTheGuestAndTheNextProvisionFinishesIt() throws Exception {
    ComputeResource r = vm("unlucky");
    // one attempt and the provider's 3 retries
    sim.failNext("POST", "/nodes/pve1/qemu/1000/status/start", 503, "Service Unavailable", 4);

    assertThatThrownBy(() -> host.provision(r))
        .isInstanceOf(ComputeException.class)
        .satisfies(e -> assertThat(((ComputeException) e).reason()).isEqualTo(Reason.UNAVAILABLE))
        .hasMessageContaining("is kept and the next provision finishes it");
    assertThat(sim.guests()).hasSize(1);
    assertThat(sim.guest(RANGE_MIN).status()).isEqualTo("stopped");

    Machine m = host.provision(r);
    assertThat(m.nativeId()).isEqualTo("pve1/" + RANGE_MIN);
    assertThat(m.state()).isEqualTo(Machine.State.RUNNING);
    assertThat(sim.guests()).hasSize(1);
    assertThat(paths("POST").stream().filter(p -> p.endsWith("/clone"))).hasSize(1);
  }

  @Test
  void gpuGoesThroughItsPciMapping() throws Exception {
    ComputeResource r = vm("gpu");
    r.getSpec().resources.gpuCount = 1;
    r.getSpec().proxmox.gpuMapping = ProxmoxSimulator.GPU_MAPPING;
    Machine m = host.provision(r);

    assertThat(sim.guest(RANGE_MIN).config()).containsEntry("hostpci0", "mapping=gpu-a100");
    assertThat(m.capacity().gpuCount()).isEqualTo(1);
  }

  @Test
  void gpuWithoutMappingIsInvalidBeforeAnythingIsSent() throws Exception {
    ComputeResource r = vm("gpu-nomap");
    r.getSpec().resources.gpuCount = 1;

    assertThatThrownBy(() -> host.provision(r))
        .isInstanceOf(ComputeException.class)
        .satisfies(e -> assertThat(((ComputeException) e).reason()).isEqualTo(Reason.INVALID))
        .hasMessageContaining("gpuMapping");
    assertThat(sim.calls()).isEmpty();
  }

  @Test
  void providerWithoutVmidRangeCannotProvision() throws Exception {
    ProviderSpec spec = provider(sim);
    spec.proxmox.vmidRange = null;
    try (ProxmoxHost noRange = connect(sim, spec, sim.tokenSecret())) {
      assertThatThrownBy(() -> noRange.provision(vm("x")))
          .isInstanceOf(ComputeException.class)
          .satisfies(e -> assertThat(((ComputeException) e).reason()).isEqualTo(Reason.INVALID))
          .hasMessageContaining("vmidRange");
    }
  }

  @Test
  void maxResourcesIsHonoured() throws Exception {
    ProviderSpec spec = provider(sim);
    spec.proxmox.maxResources = 1;
    try (ProxmoxHost small = connect(sim, spec, sim.tokenSecret())) {
      small.provision(vm("one"));
      assertThatThrownBy(() -> small.provision(vm("two")))
          .isInstanceOf(ComputeException.class)
          .satisfies(e -> assertThat(((ComputeException) e).reason()).isEqualTo(Reason.UNAVAILABLE))
          .hasMessageContaining("maxResources is 1");
    }
    assertThat(sim.guests()).hasSize(1);
  }

  @Test
  void locksAreWaitedOutNotFatal() throws Exception {
    sim.lockAfterClone(Duration.ofMillis(500)); // a backup job holds the new VM for a while
    sim.failNext(
        "POST",
        "/nodes/pve1/qemu/1000/status/start",
        500,
        "can't lock file '/var/lock/qemu-server/lock-1000.conf' - got timeout",
        2);
    Machine m = host.provision(vm("locked"));

    assertThat(m.state()).isEqualTo(Machine.State.RUNNING);
    assertThat(paths("POST").stream().filter(p -> p.endsWith("/status/start"))).hasSize(3);
    long configReads =
        sim.calls().stream()
            .filter(
                c -> c.method().equals("GET") && c.path().equals("/nodes/pve1/qemu/1000/config"))
            .count();
    assertThat(configReads).as("polled the locked config").isGreaterThan(1);
  }

  @Test
  void transientFailuresAreRetried() throws Exception {
    sim.failNext("POST", "/nodes/pve1/qemu/9000/clone", 500, "got no worker upid - timeout", 1);
    sim.failNextTasks("qmstart", "got timeout", 1);
    Machine m = host.provision(vm("flaky"));

    assertThat(m.state()).isEqualTo(Machine.State.RUNNING);
    assertThat(paths("POST").stream().filter(p -> p.endsWith("/clone"))).hasSize(2);
    assertThat(paths("POST").stream().filter(p -> p.endsWith("/status/start"))).hasSize(2);
    assertThat(sim.guests()).hasSize(1);
  }

  @Test
  void aNewHostAfterARestartAdoptsTheGuestsAndDuplicatesNothing() throws Exception {
    ComputeResource a = vm("adopt-a");
    ComputeResource b = lxc("adopt-b");
    Machine ma = host.provision(a);
    Machine mb = host.provision(b);
    sim.addForeignGuest(1050, "pve2", "not-ours");
    host.close();

    host = connect(sim, provider(sim), sim.tokenSecret());
    List<Machine> owned = host.listOwned();
    assertThat(owned)
        .extracting(Machine::resourceId)
        .containsExactlyInAnyOrder(ma.resourceId(), mb.resourceId());
    Machine found = host.find(uid(a)).orElseThrow();
    assertThat(found.owner())
        .isEqualTo(new Machine.Owner("team-a", "adopt-a", uid(a), INSTANCE.value()));
    assertThat(found.address()).isEqualTo(ma.address());
    assertThat(found.state()).isEqualTo(Machine.State.RUNNING);
    assertThat(host.find("7d3c3a4e-0000-4000-8000-000000000000")).isEmpty();

    Machine again = host.provision(a);
    assertThat(again.resourceId()).isEqualTo(ma.resourceId());
    assertThat(sim.guests()).hasSize(2);
    ComputeResource c = vm("adopt-c");
    Machine mc = host.provision(c);
    assertThat(mc.nativeId()).isEqualTo("pve1/" + (RANGE_MIN + 2));
  }

  @Test
  void anotherInstallationsGuestsAreInvisibleAndAnUnmarkedOneIsAdoptedAndMarked() throws Exception {
    ComputeResource mineR = vm("mine");
    Machine mine = host.provision(mineR);
    ComputeResource theirsR = lxc("theirs");
    try (ProxmoxHost other =
        ProxmoxHost.connect(
            provider(sim),
            new Credentials(sim.tokenSecret()),
            new Credentials(sim.caSecret()),
            ProxmoxFixtures.FAST,
            new InstanceId("other-installation"))) {
      Machine theirs = other.provision(theirsR);
      assertThat(sim.guest(RANGE_MIN).config().get("tags").split(";"))
          .contains("vera-instance-test-installation");
      assertThat(sim.guest(RANGE_MIN).config().get("description"))
          .contains("vera.io/instance=test-installation");
      assertThat(sim.guest(RANGE_MIN + 1).config().get("tags").split(";"))
          .contains("vera-instance-other-installation");
      assertThat(host.listOwned())
          .extracting(Machine::resourceId)
          .containsExactly(mine.resourceId());
      assertThat(other.listOwned())
          .extracting(Machine::resourceId)
          .containsExactly(theirs.resourceId());
      assertThat(host.find(uid(theirsR))).isEmpty();
      assertThat(other.find(uid(mineR))).isEmpty();

      // A guest an older version made: the same marks without an installation id.
      ComputeResource olderR = vm("older");
      Machine.Owner unmarked = new Machine.Owner("team-a", "older", uid(olderR), null);
      int olderVmid = RANGE_MIN + 20;
      host.client()
          .runTask(
              "POST",
              "nodes/pve1/qemu/" + ProxmoxSimulator.TEMPLATE_VMID + "/clone",
              Params.of()
                  .put("newid", olderVmid)
                  .put("name", GuestMarks.guestName(uid(olderR)))
                  .put("description", GuestMarks.description(unmarked))
                  .put("full", true),
              Duration.ofSeconds(20));
      host.client()
          .put(
              "nodes/pve1/qemu/" + olderVmid + "/config",
              Params.of().put("tags", GuestMarks.tagList(GuestMarks.tags(unmarked, List.of()))));
      assertThat(host.listOwned())
          .filteredOn(m -> m.nativeId().equals("pve1/" + olderVmid))
          .singleElement()
          .satisfies(m -> assertThat(m.owner().instance()).isNull());
      assertThat(other.listOwned()).extracting(Machine::nativeId).contains("pve1/" + olderVmid);

      Machine adopted = host.provision(olderR);
      assertThat(adopted.nativeId()).isEqualTo("pve1/" + olderVmid);
      assertThat(sim.guests()).hasSize(3);
      assertThat(sim.guest(olderVmid).config().get("tags").split(";"))
          .contains("vera-instance-test-installation");
      assertThat(sim.guest(olderVmid).config().get("description"))
          .contains("vera.io/instance=test-installation");
      assertThat(adopted.owner().instance()).isEqualTo(INSTANCE.value());
      assertThat(other.listOwned())
          .extracting(Machine::nativeId)
          .doesNotContain("pve1/" + olderVmid);
    }
  }

  @Test
  void aCloneStillRunningFromBeforeARestartIsWaitedForAndAdoptedNotDuplicated() throws Exception {
    host.close();
    sim.close();
    ProxmoxSimulator.Options slowClone = new ProxmoxSimulator.Options();
    slowClone.cloneTime = Duration.ofSeconds(3);
    sim = ProxmoxSimulator.start(slowClone);
    host = connect(sim, provider(sim), sim.tokenSecret());
    ComputeResource r = vm("mid-clone");
    // The operator's previous run started this clone and stopped before it ended.
    host.client()
        .post(
            "nodes/pve1/qemu/" + ProxmoxSimulator.TEMPLATE_VMID + "/clone",
            Params.of()
                .put("newid", RANGE_MIN + 7)
                .put("name", GuestMarks.guestName(uid(r)))
                .put(
                    "description",
                    GuestMarks.description(
                        new Machine.Owner("team-a", "mid-clone", uid(r), INSTANCE.value())))
                .put("full", true));
    assertThat(sim.guest(RANGE_MIN + 7).config())
        .containsEntry("lock", "clone")
        .doesNotContainKey("name");
    host.close();

    host = connect(sim, provider(sim), sim.tokenSecret());
    Machine m = host.provision(r);

    assertThat(m.nativeId()).isEqualTo("pve1/" + (RANGE_MIN + 7));
    assertThat(sim.guests()).hasSize(1);
    assertThat(m.state()).isEqualTo(Machine.State.RUNNING);
  }

  @Test
  void destroyStopsAndPurgesAndIsIdempotent() throws Exception {
    Machine m = host.provision(vm("bye"));
    host.destroy(m);

    assertThat(sim.guests()).isEmpty();
    assertThat(sim.purged()).containsExactly(RANGE_MIN);
    ProxmoxSimulator.Call delete =
        sim.calls().stream().filter(c -> c.method().equals("DELETE")).findFirst().orElseThrow();
    assertThat(delete.params())
        .containsEntry("purge", List.of("1"))
        .containsEntry("destroy-unreferenced-disks", List.of("1"));
    assertThat(paths("POST")).contains("/nodes/pve1/qemu/1000/status/stop");

    host.destroy(m); // already gone
    assertThat(host.find(m.owner().uid())).isEmpty();
  }

  @Test
  void destroyLeavesAlone_aGuestThatReusedTheVmid() throws Exception {
    Machine m = host.provision(vm("reused"));
    host.destroy(m);
    sim.addForeignGuest(RANGE_MIN, "pve1", "someone-elses");

    host.destroy(m);
    assertThat(sim.guest(RANGE_MIN)).isNotNull();
    assertThat(sim.guest(RANGE_MIN).foreign()).isTrue();
  }

  @Test
  void execReturnsTheRealExitCodeAndBothStreams() throws Exception {
    Machine m = host.provision(vm("exec"));
    ExecResult r =
        host.exec(
            m,
            ExecRequest.shell(
                "echo out; echo err >&2; exit 3", null, null, Duration.ofSeconds(10), 4096));

    assertThat(r.exitCode()).isEqualTo(3);
    assertThat(r.stdout()).isEqualTo("out\n");
    assertThat(r.stderr()).isEqualTo("err\n");
    assertThat(r.timedOut()).isFalse();
    ProxmoxSimulator.Call exec =
        sim.calls().stream()
            .filter(c -> c.path().endsWith("/agent/exec"))
            .findFirst()
            .orElseThrow();
    assertThat(exec.params().get("command"))
        .containsExactly("/bin/sh", "-c", "echo out; echo err >&2; exit 3");
  }

  @Test
  void execHonoursWorkdirAndEnvironment() throws Exception {
    Machine m = host.provision(vm("exec-env"));
    ExecResult pwd =
        host.exec(
            m,
            new ExecRequest(List.of("pwd"), "/srv/work", Map.of(), Duration.ofSeconds(10), 4096));
    ExecResult env =
        host.exec(
            m,
            new ExecRequest(
                List.of("printenv", "GREETING"),
                null,
                Map.of("GREETING", "hi there"),
                Duration.ofSeconds(10),
                4096));

    assertThat(pwd.stdout()).isEqualTo("/srv/work\n");
    assertThat(env.stdout()).isEqualTo("hi there\n");
    assertThat(env.exitCode()).isZero();
  }

  @Test
  void execOutputIsCappedAndSaysSo() throws Exception {
    Machine m = host.provision(vm("exec-cap"));
    ExecResult r =
        host.exec(m, ExecRequest.shell("seq 5000", null, null, Duration.ofSeconds(10), 100));

    assertThat(r.stdout().getBytes()).hasSize(100);
    assertThat(r.stdout()).startsWith("1\n2\n3\n");
    assertThat(r.stdoutTruncated()).isTrue();
    assertThat(r.stderrTruncated()).isFalse();
  }

  @Test
  void execTimeoutKillsTheProcessAndSaysSo() throws Exception {
    Machine m = host.provision(vm("exec-slow"));
    long t0 = System.nanoTime();
    ExecResult r =
        host.exec(m, ExecRequest.shell("sleep 30", null, null, Duration.ofMillis(400), 4096));
    long ms = (System.nanoTime() - t0) / 1_000_000;

    assertThat(r.timedOut()).isTrue();
    assertThat(r.exitCode()).isEqualTo(-1);
    assertThat(ms).as("returns at the timeout, not when sleep 30 ends").isBetween(350L, 20_000L);
    assertThat(sim.killedPids()).hasSize(1);
    ProxmoxSimulator.Call kill =
        sim.calls().stream()
            .filter(c -> c.path().endsWith("/agent/exec"))
            .reduce((x, y) -> y)
            .orElseThrow();
    assertThat(kill.params().get("command"))
        .containsExactly("kill", "-KILL", Long.toString(sim.killedPids().get(0)));
  }

  @Test
  void execInAContainerIsUnsupportedWithAClearMessage() throws Exception {
    Machine m = host.provision(lxc("ct-exec"));
    assertThatThrownBy(
            () -> host.exec(m, ExecRequest.shell("true", null, null, Duration.ofSeconds(5), 100)))
        .isInstanceOf(ComputeException.class)
        .satisfies(e -> assertThat(((ComputeException) e).reason()).isEqualTo(Reason.UNSUPPORTED))
        .hasMessageContaining("Proxmox VE API has no call to run a command in a container");
  }

  @Test
  void vmWhoseAgentNeverAnswersIsReturnedStartingWithoutAddress() throws Exception {
    sim.disableAgents();
    ProviderSpec spec = provider(sim);
    ProxmoxHost.Timings quick =
        new ProxmoxHost.Timings(
            Duration.ofSeconds(20),
            Duration.ofMillis(600),
            Duration.ofSeconds(5),
            Duration.ofMillis(20),
            Duration.ofMillis(100));
    try (ProxmoxHost h =
        ProxmoxHost.connect(
            spec,
            new Credentials(sim.tokenSecret()),
            new Credentials(sim.caSecret()),
            quick,
            INSTANCE)) {
      Machine m = h.provision(vm("no-agent"));
      assertThat(m.state()).isEqualTo(Machine.State.STARTING);
      assertThat(m.address()).isNull();
      assertThat(sim.guest(RANGE_MIN).status()).isEqualTo("running");
    }
  }

  @Test
  void statsTurnCpuFractionIntoPercentAndParseStringNumbers() throws Exception {
    Machine m = host.provision(vm("stats"));
    MachineStats s = host.stats(m);

    assertThat(s.cpuPercent()).isCloseTo(2.13, org.assertj.core.data.Offset.offset(0.001));
    assertThat(s.memoryUsageBytes()).isEqualTo(300L << 20); // "mem" arrives as a string
    assertThat(s.memoryLimitBytes()).isEqualTo(4096L << 20);
    assertThat(s.networkRxBytes()).isEqualTo(123456); // "netin" arrives as a string
    assertThat(s.networkTxBytes()).isEqualTo(65432);
  }

  @Test
  void probeReportsVersionNodesAndCapacity() throws Exception {
    HostProbe p = host.probe();

    assertThat(p.version()).isEqualTo(ProxmoxSimulator.VERSION);
    assertThat(p.nodes()).extracting(HostProbe.Node::name).containsExactly("pve1", "pve2", "pve3");
    HostProbe.Node pve1 = p.nodes().get(0);
    assertThat(pve1.online()).isTrue();
    assertThat(pve1.total().cpuCores()).isEqualTo(32);
    assertThat(pve1.total().memoryMb()).isEqualTo(128 * 1024);
    assertThat(pve1.free().memoryMb()).isEqualTo(108 * 1024); // "free" arrives as a string
    assertThat(pve1.free().diskGb()).isEqualTo(83);
    assertThat(p.nodes().get(2).online()).isFalse();
    assertThat(p.capacity().cpuCores()).isEqualTo(64);
  }

  @Test
  void ticketAuthLogsInSendsCsrfOnWritesAndLogsInAgainWhenTheTicketExpires() throws Exception {
    host.close();
    host = connect(sim, provider(sim), sim.passwordSecret());
    Machine m = host.provision(vm("ticket"));
    assertThat(m.state()).isEqualTo(Machine.State.RUNNING);

    sim.expireTickets();
    host.destroy(m);

    assertThat(sim.guests()).isEmpty();
    long logins = sim.calls().stream().filter(c -> c.path().equals("/access/ticket")).count();
    assertThat(logins).isEqualTo(2);
    assertThat(sim.calls())
        .filteredOn(c -> !c.path().equals("/access/ticket"))
        .allMatch(c -> c.auth().equals("ticket"));
  }

  @Test
  void wrongPasswordIsReportedWithoutThePassword() throws Exception {
    host.close();
    host = connect(sim, provider(sim), Map.of("username", "vera@pve", "password", "s3cret-wrong"));
    assertThatThrownBy(() -> host.probe())
        .isInstanceOf(ComputeException.class)
        .hasMessageContaining("authentication failure")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("s3cret-wrong"));
  }

  @Test
  void selfSignedCertificateIsRefusedUnlessItsCaIsGivenOrVerificationIsOff() throws Exception {
    ProviderSpec spec = provider(sim);
    try (ProxmoxHost noCa =
        ProxmoxHost.connect(
            spec,
            new Credentials(sim.tokenSecret()),
            new Credentials(Map.of()),
            ProxmoxFixtures.FAST,
            INSTANCE)) {
      assertThatThrownBy(noCa::probe)
          .isInstanceOf(ComputeException.class)
          .satisfies(e -> assertThat(((ComputeException) e).reason()).isEqualTo(Reason.UNAVAILABLE))
          .hasMessageContaining("SSLHandshakeException");
    }
    try (ProxmoxHost withCa = connect(sim, spec, sim.tokenSecret())) {
      assertThat(withCa.probe().version()).isEqualTo(ProxmoxSimulator.VERSION);
    }
    spec.proxmox.verifyTls = false;
    try (ProxmoxHost insecure =
        ProxmoxHost.connect(
            spec,
            new Credentials(sim.tokenSecret()),
            new Credentials(Map.of()),
            ProxmoxFixtures.FAST,
            INSTANCE)) {
      assertThat(insecure.probe().version()).isEqualTo(ProxmoxSimulator.VERSION);
    }
  }

  @Test
  void missingCredentialsAreInvalid() {
    assertThatThrownBy(() -> connect(sim, provider(sim), Map.of()))
        .isInstanceOf(ComputeException.class)
        .satisfies(e -> assertThat(((ComputeException) e).reason()).isEqualTo(Reason.INVALID))
        .hasMessageContaining("tokenId and tokenSecret");
  }

  private List<String> paths(String method) {
    return sim.calls().stream()
        .filter(c -> c.method().equals(method))
        .map(ProxmoxSimulator.Call::path)
        .toList();
  }

  private static String uid(ComputeResource r) {
    return r.getMetadata().getUid();
  }

  @SuppressWarnings("unused")
  private static Set<Integer> vmids(List<Machine> ms) {
    Set<Integer> out = new HashSet<>();
    ms.forEach(m -> out.add(Integer.parseInt(m.nativeId().split("/")[1])));
    return out;
  }
}
