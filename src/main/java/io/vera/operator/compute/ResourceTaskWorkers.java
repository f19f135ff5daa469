package io.vera.operator.compute;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.TaskType;
import io.vera.operator.task.Lease;
import io.vera.operator.task.PoolKey;
import io.vera.operator.task.PoolSettings;
import io.vera.operator.task.TaskDispatcher;
import io.vera.operator.task.TaskError;
import io.vera.operator.task.TaskSnapshot;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs VeraTasks with a {@code resourceRef} in ComputeResources. Each Available resource gets one
 * worker thread in the operator that leases from two dispatcher queues: the resource's own (tasks
 * that name it) and its task type's allocation queue (tasks that let the operator pick), taking
 * from the latter only tasks whose {@code minimum} the resource covers. So resource tasks share the
 * whole task lifecycle: priority order, timeouts, retries, cancel, status and events.
 */
public final class ResourceTaskWorkers implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ResourceTaskWorkers.class);
  private static final Duration LEASE_WAIT = Duration.ofMillis(250);
  private static final int LEASE_SECONDS = 60;
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private final TaskDispatcher dispatcher;
  private final ComputeService compute;
  private final int maxOutputBytes;
  private final Clock clock;
  private final Map<String, Worker> byUid = new ConcurrentHashMap<>();

  /**
   * @param maxResultBytes the dispatcher's cap on a result; each output stream gets a third of it
   */
  public ResourceTaskWorkers(
      TaskDispatcher dispatcher, ComputeService compute, int maxResultBytes, Clock clock) {
    this.dispatcher = dispatcher;
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
    dispatcher.upsertPool(worker.own, settings, 0, 0);
    dispatcher.upsertPool(PoolKey.ofAllocation(worker.own.namespace(), type), settings, 0, 0);
    worker.start();
  }

  /** The resource cannot run tasks (gone, failed, replaced): its worker stops. */
  public void unavailable(String uid) {
    Worker worker = byUid.remove(uid);
    if (worker != null) {
      worker.stop();
      dispatcher.removePool(worker.own);
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
  }

  private static TaskType taskType(ComputeResource resource) {
    return resource.getSpec().taskType == null ? TaskType.GENERAL : resource.getSpec().taskType;
  }

  /** One resource's thread and the attempt it runs, so a revocation interrupts only that one. */
  private final class Worker implements Runnable {
    final PoolKey own;
    volatile ComputeResource resource;
    private final Thread thread;
    private volatile boolean stopped;
    private final Object attemptLock = new Object();
    private String currentLease;

    Worker(ComputeResource resource) {
      this.resource = resource;
      this.own =
          PoolKey.ofComputeResource(
              resource.getMetadata().getNamespace(), resource.getMetadata().getName());
      this.thread = new Thread(this, "resource-worker-" + resource.getMetadata().getName());
      this.thread.setDaemon(true);
    }

    synchronized void start() {
      if (!thread.isAlive() && !stopped) {
        thread.start();
      }
    }

    void stop() {
      stopped = true;
      thread.interrupt();
    }

    String id() {
      return TaskDispatcher.EMBEDDED_WORKER_PREFIX
          + "computeresource/"
          + own.name().substring(own.name().indexOf(':') + 1);
    }

    @Override
    public void run() {
      while (!stopped) {
        try {
          Optional<Lease> lease = next();
          if (lease.isPresent()) {
            runAttempt(lease.get());
          }
        } catch (InterruptedException e) {
          Thread.interrupted();
        } catch (RuntimeException e) {
          LOG.error("resource worker {} failed outside a task", id(), e);
        }
      }
    }

    private Optional<Lease> next() throws InterruptedException {
      String[] leaseId = new String[1];
      Runnable revoke = () -> interruptIfRunning(leaseId[0]);
      Optional<Lease> lease = dispatcher.lease(own, id(), LEASE_WAIT, () -> 0.0, revoke);
      if (lease.isEmpty()) {
        ComputeResource current = resource;
        Capacity capacity = Capacity.of(current.getSpec().resources);
        lease =
            dispatcher.lease(
                PoolKey.ofAllocation(own.namespace(), taskType(current)),
                id(),
                LEASE_WAIT,
                () -> 0.0,
                revoke,
                task -> fits(capacity, task));
      }
      lease.ifPresent(l -> leaseId[0] = l.id());
      return lease;
    }

    private void runAttempt(Lease lease) {
      synchronized (attemptLock) {
        currentLease = lease.id();
      }
      if (dispatcher.renew(lease.id()).isEmpty()) {
        synchronized (attemptLock) {
          currentLease = null;
        }
        return;
      }
      try {
        execute(lease);
      } finally {
        synchronized (attemptLock) {
          currentLease = null;
          Thread.interrupted();
        }
      }
    }

    private void execute(Lease lease) {
      TaskSnapshot task = lease.task();
      JsonNode target = task.payload();
      Map<String, String> env = new HashMap<>();
      target.path("env").fields().forEachRemaining(e -> env.put(e.getKey(), e.getValue().asText()));
      Duration left = Duration.between(clock.instant(), lease.deadline());
      ExecRequest request =
          ExecRequest.shell(
              target.path("command").asText(),
              target.path("workdir").asText(null),
              env,
              left.isNegative() ? Duration.ZERO : left,
              maxOutputBytes);
      ComputeResource current = resource;
      ExecResult result;
      try {
        result = compute.exec(current, request, task.key().name());
      } catch (ComputeException e) {
        dispatcher.fail(
            lease.id(),
            new TaskError(TaskError.RESOURCE_UNAVAILABLE, e.getMessage()),
            e.reason() != ComputeException.Reason.INVALID
                && e.reason() != ComputeException.Reason.UNSUPPORTED);
        return;
      } catch (InterruptedException e) {
        // Revoked: the dispatcher already recorded why (timeout, cancel).
        return;
      }
      String resourceId =
          current.getStatus() == null
              ? current.getMetadata().getName()
              : current.getStatus().resourceId;
      ObjectNode outcome = MAPPER.createObjectNode();
      outcome.put("resource", resourceId);
      outcome.put("exit_code", result.exitCode());
      outcome.put("stdout", result.stdout());
      outcome.put("stderr", result.stderr());
      outcome.put("stdout_truncated", result.stdoutTruncated());
      outcome.put("stderr_truncated", result.stderrTruncated());
      outcome.put("duration_ms", result.duration().toMillis());
      if (result.timedOut()) {
        dispatcher.fail(
            lease.id(),
            new TaskError(
                TaskError.TIMEOUT, "the command was killed at its timeout in " + resourceId),
            true);
      } else if (result.exitCode() == 0) {
        dispatcher.complete(lease.id(), outcome);
      } else {
        String stderr = result.stderr().strip();
        dispatcher.fail(
            lease.id(),
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
    }

    private void interruptIfRunning(String leaseId) {
      synchronized (attemptLock) {
        if (leaseId != null && leaseId.equals(currentLease)) {
          thread.interrupt();
        }
      }
    }
  }

  /** Whether a resource of this capacity covers the task's {@code resourceRef.minimum}. */
  static boolean fits(Capacity capacity, TaskSnapshot task) {
    return capacity.covers(ResourceAutoscaler.minimum(task.payload()));
  }
}
