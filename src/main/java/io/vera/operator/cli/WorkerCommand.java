package io.vera.operator.cli;

import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.worker.RemoteWorker;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.Callable;
import okhttp3.HttpUrl;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import sun.misc.Signal;

/**
 * The worker pod command: leases one pool's tasks from the operator and runs them until SIGTERM,
 * then drains, so pods of a WorkerPool with runtime Pods need nothing but environment variables.
 */
@Command(
    name = "worker",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Runs a worker that leases tasks of one WorkerPool from the operator and runs them with the"
          + " handlers on its classpath.",
      "Runs until SIGTERM or SIGINT, then stops leasing and lets running tasks finish for up to"
          + " --drain-seconds. Exits 0 when they all did."
    })
public final class WorkerCommand implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerCommand.class);

  @Spec private CommandSpec spec;

  @Option(
      names = "--operator-url",
      defaultValue = "${env:VERA_OPERATOR_URL}",
      description = "Base URL of the operator's REST server (default: env VERA_OPERATOR_URL).")
  private String operatorUrl;

  @Option(
      names = "--namespace",
      defaultValue = "${env:VERA_NAMESPACE}",
      description = "Namespace of the WorkerPool (default: env VERA_NAMESPACE).")
  private String namespace;

  @Option(
      names = "--pool",
      defaultValue = "${env:VERA_POOL}",
      description = "Name of the WorkerPool (default: env VERA_POOL).")
  private String pool;

  @Option(
      names = "--concurrency",
      defaultValue = "${env:VERA_CONCURRENCY:-1}",
      description = "Tasks run at once, 1-256 (default: env VERA_CONCURRENCY, else 1).")
  private String concurrency;

  @Option(
      names = "--worker-id",
      defaultValue = "${env:VERA_WORKER_ID}",
      description =
          "Name reported to the operator (default: env VERA_WORKER_ID, which worker pods set to"
              + " their pod name, else env HOSTNAME, else a random id).")
  private String workerId;

  @Option(
      names = "--drain-seconds",
      defaultValue = "25",
      description =
          "On shutdown, how long running tasks may finish before they are interrupted"
              + " (default: ${DEFAULT-VALUE}).")
  private int drainSeconds;

  @Override
  public Integer call() throws InterruptedException {
    RemoteWorker worker = new RemoteWorker(settings(), HandlerRegistry.loadDefault());
    onTerminationSignals(worker::shutdown);
    worker.start();
    return worker.awaitTermination() ? 0 : 1;
  }

  private RemoteWorker.Settings settings() {
    HttpUrl url = HttpUrl.parse(required(operatorUrl, "--operator-url", "VERA_OPERATOR_URL"));
    if (url == null) {
      throw usage("--operator-url must be an http:// or https:// URL");
    }
    int slots = parseConcurrency();
    if (drainSeconds < 0) {
      throw usage("--drain-seconds must be 0 or more, got " + drainSeconds);
    }
    // A hostNetwork pod's HOSTNAME is the node's, shared by every worker pod on it.
    String hostname = System.getenv("HOSTNAME");
    String id =
        workerId != null && !workerId.isBlank()
            ? workerId
            : hostname != null && !hostname.isBlank()
                ? hostname
                : "worker-" + UUID.randomUUID().toString().substring(0, 8);
    return new RemoteWorker.Settings(
        url,
        required(namespace, "--namespace", "VERA_NAMESPACE"),
        required(pool, "--pool", "VERA_POOL"),
        id,
        slots,
        Duration.ofSeconds(drainSeconds));
  }

  private int parseConcurrency() {
    int value;
    try {
      value = Integer.parseInt(concurrency.trim());
    } catch (NumberFormatException e) {
      throw usage("--concurrency must be a whole number, got '" + concurrency + "'");
    }
    if (value < 1 || value > 256) {
      throw usage("--concurrency must be between 1 and 256, got " + value);
    }
    return value;
  }

  private String required(String value, String option, String env) {
    if (value == null || value.isBlank()) {
      throw usage("missing " + option + " (or environment variable " + env + ")");
    }
    return value;
  }

  private ParameterException usage(String message) {
    return new ParameterException(spec.commandLine(), message);
  }

  /**
   * Handles SIGTERM and SIGINT itself: the JVM's default handler would exit with 143 and run the
   * drain in a shutdown hook, while handled, the drain ends in a normal exit with its own status.
   */
  private static void onTerminationSignals(Runnable stop) {
    for (String name : new String[] {"TERM", "INT"}) {
      try {
        Signal.handle(new Signal(name), signal -> stop.run());
      } catch (IllegalArgumentException e) {
        LOG.warn("cannot handle SIG{} here ({}); stopping on JVM shutdown", name, e.getMessage());
        Runtime.getRuntime().addShutdownHook(new Thread(stop, "worker-shutdown"));
      }
    }
  }
}
