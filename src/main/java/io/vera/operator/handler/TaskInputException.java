package io.vera.operator.handler;

/** A task's payload cannot be used; retrying would fail the same way, so the task fails at once. */
public class TaskInputException extends RuntimeException {
  public TaskInputException(String message) {
    super(message);
  }
}
