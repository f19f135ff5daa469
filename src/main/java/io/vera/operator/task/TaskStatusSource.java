package io.vera.operator.task;

import java.util.Optional;

/**
 * What the status writer reads and reports back: the state of a task in flight to write, and that a
 * finished task's end is stored or that the task is gone, after which the dispatcher drops it.
 */
public interface TaskStatusSource {

  /** The task's current state; empty once it left the dispatcher. */
  Optional<TaskSnapshot> get(TaskKey key);

  /** The end of a finished task is stored and the task marked finished. */
  void stored(TaskKey key, String uid);

  /**
   * The resource is gone, or no longer watched because it is marked finished: the task leaves the
   * queue and any running attempt is interrupted. A null {@code uid} matches any.
   */
  void forget(TaskKey key, String uid);
}
