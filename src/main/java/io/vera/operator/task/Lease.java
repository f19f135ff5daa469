package io.vera.operator.task;

import java.time.Instant;

/**
 * A worker's claim on one attempt of a task. It ends when the worker completes or fails it, or when
 * the dispatcher revokes it (timeout, cancel, expiry); after that the worker's answer is ignored.
 *
 * @param deadline when the attempt times out
 */
public record Lease(String id, TaskSnapshot task, Instant deadline, Instant expiry) {}
