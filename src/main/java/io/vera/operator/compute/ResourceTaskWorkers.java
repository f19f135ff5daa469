package io.vera.operator.compute;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.TaskType;
import io.vera.operator.task.Lease;
import io.vera.operator.task.PoolKey;
import io.vera.operator.task.PoolRegistry;
import io.vera.operator.task.PoolSettings;
import io.vera.operator.task.TaskError;
import io.vera.operator.task.TaskLeases;
import io.vera.operator.task.TaskSnapshot;
import io.vera.operator.worker.Attempt;
import io.vera.operator.worker.AttemptBody;
import io.vera.operator.worker.AttemptFailure;
import io.vera.operator.worker.AttemptLoop;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs VeraTasks with a {@code resourceRef} in ComputeResources. Each Available resource gets one
 * worker thread in the operator that leases from two dispatcher queues: the resource's own (tasks
 * that name it) and its task type's allocation queue (tasks that let the operator pick), taking
 * from the latter only tasks whose {@code minimum} the resource covers. So resource tasks share the
 * whole task lifecycle: priority order, timeouts, retries, cancel, status and events. While a
 * command runs, its task reports progress every {@link #PROGRESS_EVERY}: how long it has run and
 * how much output it wrote so far (no fraction: a command cannot say how much is left).
 */
public final class ResourceTaskWorkers implements AutoCloseable {
  private static final Duration LEASE_WAIT = Duration.ofMillis(250);
  private static final int LEASE_SECONDS = 60;
  private static final ObjectMapper MAPPER = new ObjectMapper();
  static final Duration PROGRESS_EVERY = Duration.ofSeconds(1);

  private final PoolRegistry pools;
  private final TaskLeases leases;
  private final ComputeService compute;
  private final int maxOutputBytes;
  private final Clock clock;
  private final Map<String, Worker> byUid = new ConcurrentHashMap<>();
  private final ScheduledExecutorService progressTimer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread thread = new Thread(r, "resource-task-progress");
            thread.setDaemon(true);
            return thread;
          });

  /**
   * @param dispatcher where each resource's queues are registered and leased from
   * @param maxResultBytes the dispatcher's cap on a result; each output stream gets a third of it
   */
  public <D extends PoolRegistry & TaskLeases> ResourceTaskWorkers(
      D dispatcher, ComputeService compute, int maxResultBytes, Clock clock) {
    this.pools = dispatcher;
    this.leases = dispatcher;
    this.compute = compute;
    this.maxOutputBytes = Math.max(1024, maxResultBytes / 3);
    this.clock = clock;
  }

  /** The resource runs (or still runs): make sure its worker serves it, with its latest state. */
  public void available(ComputeResource resource) {
    String uid = resource.getMetadata().getUid();
    Worker worker = byUid.computeIfAbsent(uid, u -> new Worker(resource));
    worker.resource = resource;
    TaskType type = taskType(resource);
    PoolSettings settings = new PoolSettings(type, false, null, LEASE_SECONDS);
    pools.upsertPool(worker.own, settings, 0, 0);
    pools.upsertPool(PoolKey.ofAllocation(worker.own.namespace(), type), settings, 0, 0);
    worker.start();
  }

  /** The resource cannot run tasks (gone, failed, replaced): its worker stops. */
  public void unavailable(String uid) {
    Worker worker = byUid.remove(uid);
    if (worker != null) {
      worker.stop();
      pools.removePool(worker.own);
    }
  }

  @Override
  public void close() {
    for (Iterator<String> it = byUid.keySet().iterator(); it.hasNext(); ) {
      String uid = it.next();
      Worker worker = byUid.get(uid);
      if (worker != null) {
        worker.stop();
      }
      it.remove();
    }
    progressTimer.shutdownNow();
  }

  /** What a running command has done so far, for people: "running 12 s, 340 lines (18 KB) ...". */
  static String progressMessage(Duration elapsed, OutputMeter meter) {
    String running = "running " + elapsed.toSeconds() + " s";
    long bytes = meter.bytes();
    if (bytes == 0) {
      return running + ", no output yet";
    }
    String size =
        bytes < 10_000
            ? bytes + " bytes"
            : bytes < 10_000_000
                ? String.format(Locale.ROOT, "%,d KB", bytes / 1000)
                : String.format(Locale.ROOT, "%,d MB", bytes / 1_000_000);
    return String.format(
        Locale.ROOT, "%s, %,d lines (%s) of output so far", running, meter.lines(), size);
  }

  private static TaskType taskType(ComputeResource resource) {
    return resource.getSpec().taskType == null ? TaskType.GENERAL : resource.getSpec().taskType;
  }

  /** One resource's worker thread and the resource's latest state. */
  private final class Worker {
    final PoolKey own;
    volatile ComputeResource resource;
    private final AttemptLoop loop;

    Worker(ComputeResource resource) {
      this.resource = resource;
      this.own =
          PoolKey.ofComputeResource(
              resource.getMetadata().getNamespace(), resource.getMetadata().getName());
      this.loop =
          new AttemptLoop(
              TaskLeases.EMBEDDED_WORKER_PREFIX + "computeresource/" + own.target(),
              "resource-worker-" + resource.getMetadata().getName(),
              leases,
              this::next,
              this::execute);
    }

    void start() {
      loop.start();
    }

    void stop() {
      loop.stop(true);
    }

    /** A task that names this resource, else one of its type's allocation queue that fits it. */
    private Optional<Lease> next(String workerId, Runnable onRevoke) throws InterruptedException {
      Optional<Lease> lease = leases.lease(own, workerId, LEASE_WAIT, () -> 0.0, onRevoke);
      if (lease.isPresent()) {
        return lease;
      }
      ComputeResource current = resource;
      Capacity capacity = Capacity.of(current.getSpec().resources);
      return leases.lease(
          PoolKey.ofAllocation(own.namespace(), taskType(current)),
          workerId,
          LEASE_WAIT,
          () -> 0.0,
          onRevoke,
          task -> fits(capacity, task));
    }

    private AttemptBody.Result execute(Attempt attempt)
        throws AttemptFailure, InterruptedException {
      TaskSnapshot task = attempt.task();
      JsonNode target = task.payload();
      Map<String, String> env = new HashMap<>();
      target.path("env").fields().forEachRemaining(e -> env.put(e.getKey(), e.getValue().asText()));
      ExecRequest request =
          ExecRequest.shell(
              target.path("command").asText(),
              target.path("workdir").asText(null),
              env,
              attempt.timeLeft(clock),
              maxOutputBytes);
      ComputeResource current = resource;
      OutputMeter meter = new OutputMeter();
      long started = System.nanoTime();
      ScheduledFuture<?> progress =
          progressTimer.scheduleAtFixedRate(
              () ->
                  attempt.progress(
                      Double.NaN,
                      progressMessage(Duration.ofNanos(System.nanoTime() - started), meter)),
              PROGRESS_EVERY.toMillis(),
              PROGRESS_EVERY.toMillis(),
              TimeUnit.MILLISECONDS);
      ExecResult result;
      try {
        result = compute.exec(current, request.withMeter(meter), task.key().name());
      } catch (ComputeException e) {
        throw new AttemptFailure(
            new TaskError(TaskError.RESOURCE_UNAVAILABLE, e.getMessage()),
            e.reason() != ComputeException.Reason.INVALID
                && e.reason() != ComputeException.Reason.UNSUPPORTED);
      } finally {
        progress.cancel(false);
      }
      String resourceId =
          current.getStatus() == null
              ? current.getMetadata().getName()
              : current.getStatus().resourceId;
      if (result.timedOut()) {
        throw new AttemptFailure(
            new TaskError(
                TaskError.TIMEOUT, "the command was killed at its timeout in " + resourceId),
            true);
      }
      if (result.exitCode() != 0) {
        String stderr = result.stderr().strip();
        throw new AttemptFailure(
            new TaskError(
                TaskError.COMMAND_FAILED,
                "exit code "
                    + result.exitCode()
                    + " in "
                    + resourceId
                    + (stderr.isEmpty()
                        ? ""
                        : ": " + stderr.substring(Math.max(0, stderr.length() - 500)))),
            true);
      }
      ObjectNode outcome = MAPPER.createObjectNode();
      outcome.put("resource", resourceId);
      outcome.put("exit_code", result.exitCode());
      outcome.put("stdout", result.stdout());
      outcome.put("stderr", result.stderr());
      outcome.put("stdout_truncated", result.stdoutTruncated());
      outcome.put("stderr_truncated", result.stderrTruncated());
      outcome.put("duration_ms", result.duration().toMillis());
      return AttemptBody.Result.of(outcome);
    }
  }

  /** Whether a resource of this capacity covers the task's {@code resourceRef.minimum}. */
  static boolean fits(Capacity capacity, TaskSnapshot task) {
    return capacity.covers(ResourceAutoscaler.minimum(task.payload()));
  }
}
