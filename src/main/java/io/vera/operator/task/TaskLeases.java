package io.vera.operator.task;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.DoubleSupplier;
import java.util.function.Predicate;

/**
 * The lease protocol as workers see it, in-process or over HTTP: lease the next task of a queue,
 * renew the lease while the attempt runs, report progress, and end it with complete, fail or
 * release. Every call after the dispatcher revoked the lease (timeout, cancel, expiry) answers
 * false or empty, and the worker must stop the attempt.
 */
public interface TaskLeases {

  /** Workers whose leases die with the operator process carry this prefix. */
  String EMBEDDED_WORKER_PREFIX = "embedded/";

  /**
   * Waits up to {@code maxWait} for the next task of a pool and leases it to a worker. Returns
   * empty when none came, when the pool is suspended or unknown, or while CPU use is at or above
   * the pool's threshold and the pool already runs a task.
   *
   * @param onRevoke run (outside the lock) when the dispatcher takes the lease back; in-process
   *     workers interrupt the attempt with it, remote workers pass null and learn it on renewal
   */
  Optional<Lease> lease(
      PoolKey poolKey,
      String workerId,
      Duration maxWait,
      DoubleSupplier cpuPercent,
      Runnable onRevoke)
      throws InterruptedException;

  /**
   * Like {@link #lease(PoolKey, String, Duration, DoubleSupplier, Runnable)}, but takes the first
   * task in queue order that {@code accepts} allows, so a worker that cannot run every task of a
   * shared queue (a ComputeResource too small for some) leaves those for others.
   */
  Optional<Lease> lease(
      PoolKey poolKey,
      String workerId,
      Duration maxWait,
      DoubleSupplier cpuPercent,
      Runnable onRevoke,
      Predicate<TaskSnapshot> accepts)
      throws InterruptedException;

  /** The pool of a lease held; lets the REST layer authorize its worker. */
  Optional<PoolKey> leasePool(String leaseId);

  /** Extends a lease; empty when it was revoked, so the worker must stop the attempt. */
  Optional<Instant> renew(String leaseId);

  /** Records the running attempt's progress; false when the lease is unknown. */
  boolean progress(String leaseId, double fraction, String message);

  /** Records a successful attempt; false when the lease had already been revoked. */
  boolean complete(String leaseId, JsonNode result);

  /** Like {@link #complete(String, JsonNode)}, with the provider usage the attempt recorded. */
  boolean complete(String leaseId, JsonNode result, TaskUsage usage);

  /** Records a failed attempt, retried if it may be and retries remain; false if revoked. */
  boolean fail(String leaseId, TaskError error, boolean retryable);

  /**
   * Like {@link #fail(String, TaskError, boolean)}, but a retry waits at least {@code retryAfter}
   * (an upstream's Retry-After), within the task's maximum backoff.
   */
  boolean fail(String leaseId, TaskError error, boolean retryable, Duration retryAfter);

  /**
   * Hands a leased task back unharmed, as a worker that is shutting down does: it queues again at
   * its place and the attempt does not count against its retries. False if the lease was revoked.
   */
  boolean release(String leaseId);
}
