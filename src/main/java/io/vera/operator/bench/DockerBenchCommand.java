package io.vera.operator.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.dockerjava.api.model.Container;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.ComputeResourceSpec;
import io.vera.operator.compute.ComputeLabels;
import io.vera.operator.compute.ExecRequest;
import io.vera.operator.compute.ExecResult;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.compute.Machine;
import io.vera.operator.compute.docker.BusyboxImage;
import io.vera.operator.compute.docker.DockerHost;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code bench docker}: the Docker host against the {@code docker} CLI on the same engine and
 * image, in one run, rounds interleaved so both see the same machine load.
 */
@Command(
    name = "docker",
    mixinStandardHelpOptions = true,
    description = {
      "Measures, against a local Docker engine, provision -> running and an exec round trip"
          + " ('echo') through Vera's Docker host and through the docker CLI (docker run -d"
          + " --network none / docker exec) on the same image, then provisions containers"
          + " concurrently. Prints medians, p95 and the host/CLI ratio; removes every container"
          + " it made.",
      "Exits 0 when nothing failed, 1 otherwise."
    })
public final class DockerBenchCommand implements Callable<Integer> {
  private static final String BENCH_LABEL = "vera.io/bench-run";

  @Spec private CommandSpec spec;

  @Option(
      names = "--host",
      defaultValue = DockerHost.DEFAULT_HOST,
      description = "Docker engine (default: ${DEFAULT-VALUE}).")
  private String host;

  @Option(
      names = "--image",
      defaultValue = BusyboxImage.TAG,
      description =
          "Image to run; it must have sleep and echo. The default is imported from --busybox when"
              + " missing (default: ${DEFAULT-VALUE}).")
  private String image;

  @Option(
      names = "--busybox",
      defaultValue = "/bin/busybox",
      description = "Static busybox to build the default image from (default: ${DEFAULT-VALUE}).")
  private Path busybox;

  @Option(
      names = "--docker-cli",
      defaultValue = "docker",
      description = "The docker CLI to compare with (default: ${DEFAULT-VALUE}).")
  private String dockerCli;

  @Option(
      names = "--rounds",
      defaultValue = "20",
      description = "Measured rounds of each operation and tool (default: ${DEFAULT-VALUE}).")
  private int rounds;

  @Option(
      names = "--warmup",
      defaultValue = "3",
      description = "Rounds run first and not measured (default: ${DEFAULT-VALUE}).")
  private int warmup;

  @Option(
      names = "--concurrent",
      defaultValue = "20",
      description =
          "Containers provisioned at once in the concurrency run (default: ${DEFAULT-VALUE}).")
  private int concurrent;

  @Option(
      names = "--max-seconds",
      defaultValue = "600",
      description = "Stop measuring after this many seconds (default: ${DEFAULT-VALUE}).")
  private int maxSeconds;

  @Option(names = "--json", description = "Print the figures as one JSON object.")
  private boolean json;

  private final String runId = UUID.randomUUID().toString().substring(0, 8);

  /** Its own installation id, so no operator sharing the engine adopts or sweeps its containers. */
  private final InstanceId instance = new InstanceId("vera-bench-" + runId);

  private final AtomicInteger sequence = new AtomicInteger();
  private final List<String> errors = new ArrayList<>();
  private long deadline;

  @Override
  public Integer call() throws Exception {
    if (rounds < 1 || warmup < 0 || concurrent < 1 || maxSeconds < 1) {
      throw new ParameterException(
          spec.commandLine(),
          "--rounds, --concurrent and --max-seconds must be at least 1 and --warmup at least 0");
    }
    PrintWriter out = spec.commandLine().getOut();
    deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(maxSeconds);
    try (DockerHost docker = DockerHost.connect(host, null, Duration.ofSeconds(60), instance)) {
      String version = docker.probe().version();
      if (BusyboxImage.TAG.equals(image)) {
        BusyboxImage.ensure(docker.client(), image, busybox);
      }
      if (!json) {
        out.printf(
            Locale.ROOT,
            "Docker engine %s at %s, image %s: %d rounds each (after %d warmup), then %d"
                + " concurrent provisions%n",
            version,
            host,
            image,
            rounds,
            warmup,
            concurrent);
        out.flush();
      }
      try {
        Pair provision = provisionRounds(docker);
        Pair exec = execRounds(docker);
        Concurrent hostConcurrent = concurrentHost(docker);
        Concurrent cliConcurrent = concurrentCli();
        print(out, version, provision, exec, hostConcurrent, cliConcurrent);
        return errors.isEmpty() && hostConcurrent.errors == 0 ? 0 : 1;
      } finally {
        cleanUp(docker);
      }
    }
  }

  // ----------------------------------------------------------------------------- the runs

  private Pair provisionRounds(DockerHost docker) throws Exception {
    List<Long> viaHost = new ArrayList<>();
    List<Long> viaCli = new ArrayList<>();
    for (int i = 0; i < warmup + rounds && inTime(); i++) {
      // Alternate which tool goes first, so neither always follows the other's removal.
      long hostNanos;
      long cliNanos;
      if (i % 2 == 0) {
        hostNanos = hostProvision(docker);
        cliNanos = cliProvision();
      } else {
        cliNanos = cliProvision();
        hostNanos = hostProvision(docker);
      }
      if (i >= warmup) {
        viaHost.add(hostNanos);
        viaCli.add(cliNanos);
      }
    }
    return new Pair(Stats.of(viaHost), Stats.of(viaCli));
  }

  private long hostProvision(DockerHost docker) throws Exception {
    ComputeResource resource = resource("provision");
    long start = System.nanoTime();
    Machine machine = docker.provision(resource);
    long nanos = System.nanoTime() - start;
    docker.destroy(machine);
    return nanos;
  }

  private long cliProvision() throws Exception {
    long start = System.nanoTime();
    String id = cli(runArgs("cli-provision")).strip();
    long nanos = System.nanoTime() - start;
    cli(dockerCli, "rm", "-f", id);
    return nanos;
  }

  private Pair execRounds(DockerHost docker) throws Exception {
    Machine machine = docker.provision(resource("exec"));
    List<Long> viaHost = new ArrayList<>();
    List<Long> viaCli = new ArrayList<>();
    ExecRequest echo =
        new ExecRequest(List.of("echo", "hello"), null, Map.of(), Duration.ofSeconds(30), 4096);
    for (int i = 0; i < warmup + rounds && inTime(); i++) {
      long start = System.nanoTime();
      ExecResult result = docker.exec(machine, echo);
      long hostNanos = System.nanoTime() - start;
      if (result.exitCode() != 0 || !"hello\n".equals(result.stdout())) {
        errors.add("host exec answered " + result);
      }
      start = System.nanoTime();
      String output = cli(dockerCli, "exec", machine.nativeId(), "echo", "hello");
      long cliNanos = System.nanoTime() - start;
      if (!"hello\n".equals(output)) {
        errors.add("docker exec printed '" + output + "'");
      }
      if (i >= warmup) {
        viaHost.add(hostNanos);
        viaCli.add(cliNanos);
      }
    }
    docker.destroy(machine);
    return new Pair(Stats.of(viaHost), Stats.of(viaCli));
  }

  private Concurrent concurrentHost(DockerHost docker) throws InterruptedException {
    ExecutorService pool = Executors.newFixedThreadPool(concurrent);
    List<Future<Machine>> futures = new ArrayList<>();
    List<Long> latencies = java.util.Collections.synchronizedList(new ArrayList<>());
    long start = System.nanoTime();
    for (int i = 0; i < concurrent; i++) {
      ComputeResource resource = resource("concurrent");
      futures.add(
          pool.submit(
              () -> {
                long began = System.nanoTime();
                Machine machine = docker.provision(resource);
                latencies.add(System.nanoTime() - began);
                return machine;
              }));
    }
    int failed = 0;
    for (Future<Machine> future : futures) {
      try {
        Machine machine = future.get(Math.max(1, remainingSeconds()), TimeUnit.SECONDS);
        if (machine.state() != Machine.State.RUNNING) {
          failed++;
          errors.add("concurrent provision returned " + machine.state());
        }
      } catch (Exception e) {
        failed++;
        errors.add("concurrent provision failed: " + e);
      }
    }
    long wall = System.nanoTime() - start;
    pool.shutdownNow();
    return new Concurrent(wall, Stats.of(latencies), failed);
  }

  private Concurrent concurrentCli() throws InterruptedException {
    ExecutorService pool = Executors.newFixedThreadPool(concurrent);
    List<Future<Long>> futures = new ArrayList<>();
    long start = System.nanoTime();
    for (int i = 0; i < concurrent; i++) {
      futures.add(
          pool.submit(
              () -> {
                long began = System.nanoTime();
                cli(runArgs("cli-concurrent"));
                return System.nanoTime() - began;
              }));
    }
    int failed = 0;
    List<Long> latencies = new ArrayList<>();
    for (Future<Long> future : futures) {
      try {
        latencies.add(future.get(Math.max(1, remainingSeconds()), TimeUnit.SECONDS));
      } catch (Exception e) {
        failed++;
      }
    }
    long wall = System.nanoTime() - start;
    pool.shutdownNow();
    return new Concurrent(wall, Stats.of(latencies), failed);
  }

  /** {@code docker run -d} with what the host gives its containers, so both do the same work. */
  private String[] runArgs(String name) {
    return new String[] {
      dockerCli,
      "run",
      "-d",
      "--name",
      "vera-bench-" + runId + "-" + name + "-" + sequence.incrementAndGet(),
      "--network",
      "none",
      "--cpus",
      "0.5",
      "--memory",
      "128m",
      "--memory-swap",
      "128m",
      "--security-opt",
      "no-new-privileges",
      "--label",
      BENCH_LABEL + "=" + runId,
      "--label",
      ComputeLabels.MANAGED_BY + "=" + ComputeLabels.MANAGED_BY_VALUE,
      "--label",
      ComputeLabels.INSTANCE + "=" + instance.value(),
      image,
      "sleep",
      "3600"
    };
  }

  private ComputeResource resource(String kind) {
    ComputeResource resource = new ComputeResource();
    resource.setMetadata(
        new ObjectMetaBuilder()
            .withNamespace("vera-bench-" + runId)
            .withName(kind + "-" + sequence.incrementAndGet())
            .withUid(UUID.randomUUID().toString())
            .build());
    ComputeResourceSpec spec = new ComputeResourceSpec();
    spec.type = ComputeResourceSpec.Type.Docker;
    spec.resources = new ComputeResourceSpec.ResourceSpec();
    spec.resources.cpuCores = 0.5;
    spec.resources.memoryMb = 128;
    spec.docker = new ComputeResourceSpec.DockerSpec();
    spec.docker.image = image;
    spec.docker.command = List.of("sleep", "3600");
    resource.setSpec(spec);
    return resource;
  }

  /** Runs the CLI to completion; its stdout, or an exception naming its stderr. */
  private String cli(String... args) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(args).start();
    process.getOutputStream().close();
    byte[] stdout = process.getInputStream().readAllBytes();
    byte[] stderr = process.getErrorStream().readAllBytes();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IOException(String.join(" ", args) + " did not finish in 60 s");
    }
    if (process.exitValue() != 0) {
      throw new IOException(
          String.join(" ", Arrays.asList(args).subList(0, Math.min(3, args.length)))
              + " exited "
              + process.exitValue()
              + ": "
              + new String(stderr, StandardCharsets.UTF_8).strip());
    }
    return new String(stdout, StandardCharsets.UTF_8);
  }

  /** Removes every container this run made, through either tool. */
  private void cleanUp(DockerHost docker) {
    List<Container> leftovers = new ArrayList<>();
    try {
      leftovers.addAll(
          docker
              .client()
              .listContainersCmd()
              .withShowAll(true)
              .withLabelFilter(Map.of(BENCH_LABEL, runId))
              .exec());
      leftovers.addAll(
          docker
              .client()
              .listContainersCmd()
              .withShowAll(true)
              .withLabelFilter(Map.of(ComputeLabels.RESOURCE_NAMESPACE, "vera-bench-" + runId))
              .exec());
    } catch (RuntimeException e) {
      spec.commandLine().getErr().println("could not list containers to clean up: " + e);
    }
    for (Container container : leftovers) {
      try {
        docker.client().removeContainerCmd(container.getId()).withForce(true).exec();
      } catch (RuntimeException e) {
        spec.commandLine()
            .getErr()
            .println("could not remove container " + container.getId() + ": " + e);
      }
    }
  }

  private boolean inTime() {
    return System.nanoTime() < deadline;
  }

  private long remainingSeconds() {
    return TimeUnit.NANOSECONDS.toSeconds(deadline - System.nanoTime());
  }

  // ------------------------------------------------------------------------------- figures

  /** Median, p95 and count of one series, in milliseconds. */
  record Stats(int count, double p50Ms, double p95Ms, double maxMs) {
    static Stats of(List<Long> nanos) {
      if (nanos.isEmpty()) {
        return new Stats(0, Double.NaN, Double.NaN, Double.NaN);
      }
      long[] sorted = nanos.stream().mapToLong(Long::longValue).sorted().toArray();
      return new Stats(
          sorted.length,
          RestBench.percentile(sorted, 50) / 1e6,
          RestBench.percentile(sorted, 95) / 1e6,
          sorted[sorted.length - 1] / 1e6);
    }
  }

  /** One operation through the host and through the CLI. */
  record Pair(Stats host, Stats cli) {
    double ratio() {
      return host.p50Ms / cli.p50Ms;
    }
  }

  /** A concurrency run. */
  record Concurrent(long wallNanos, Stats each, int errors) {}

  private void print(
      PrintWriter out,
      String version,
      Pair provision,
      Pair exec,
      Concurrent hostConcurrent,
      Concurrent cliConcurrent) {
    if (json) {
      ObjectMapper mapper = new ObjectMapper();
      ObjectNode root = mapper.createObjectNode();
      root.put("engine", version);
      root.put("image", image);
      root.put("rounds", rounds);
      pair(root.putObject("provision_ms"), provision);
      pair(root.putObject("exec_ms"), exec);
      concurrent(root.putObject("concurrent_host"), hostConcurrent);
      concurrent(root.putObject("concurrent_cli"), cliConcurrent);
      root.putPOJO("errors", errors);
      out.println(root);
    } else {
      line(out, "provision -> running", provision);
      line(out, "exec echo round trip", exec);
      out.printf(
          Locale.ROOT,
          "%d concurrent provisions  DockerHost wall %.0f ms, each p50 %.1f max %.1f, errors %d"
              + "  |  docker CLI wall %.0f ms, each p50 %.1f max %.1f, errors %d%n",
          concurrent,
          hostConcurrent.wallNanos / 1e6,
          hostConcurrent.each.p50Ms,
          hostConcurrent.each.maxMs,
          hostConcurrent.errors,
          cliConcurrent.wallNanos / 1e6,
          cliConcurrent.each.p50Ms,
          cliConcurrent.each.maxMs,
          cliConcurrent.errors);
      if (!errors.isEmpty()) {
        out.println("errors:");
        errors.stream().limit(10).forEach(error -> out.println("  " + error));
      }
    }
    out.flush();
  }

  private static void line(PrintWriter out, String what, Pair pair) {
    out.printf(
        Locale.ROOT,
        "%-22s DockerHost p50 %7.1f ms p95 %7.1f ms  |  docker CLI p50 %7.1f ms p95 %7.1f ms"
            + "  |  ratio (p50) %.2f  [n=%d]%n",
        what,
        pair.host.p50Ms,
        pair.host.p95Ms,
        pair.cli.p50Ms,
        pair.cli.p95Ms,
        pair.ratio(),
        pair.host.count);
  }

  private static void pair(ObjectNode node, Pair pair) {
    stats(node.putObject("docker_host"), pair.host);
    stats(node.putObject("docker_cli"), pair.cli);
    node.put("ratio_p50", pair.ratio());
  }

  private static void stats(ObjectNode node, Stats stats) {
    node.put("count", stats.count);
    node.put("p50", stats.p50Ms);
    node.put("p95", stats.p95Ms);
    node.put("max", stats.maxMs);
  }

  private static void concurrent(ObjectNode node, Concurrent run) {
    node.put("wall_ms", run.wallNanos / 1e6);
    node.put("errors", run.errors);
    stats(node.putObject("each_ms"), run.each);
  }
}
