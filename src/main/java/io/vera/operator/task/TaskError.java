package io.vera.operator.task;

/**
 * Why an attempt failed. Types a client can rely on: HandlerError, InvalidInput, UnknownHandler,
 * Timeout, LeaseExpired, ResultTooLarge, WorkerShutdown, CommandFailed (a resource task's command
 * exited non-zero), ResourceUnavailable (its ComputeResource could not run it), ProviderError (a
 * {@code providerRef} call failed), ProviderUnavailable (its Provider is missing or not Ready).
 */
public record TaskError(String type, String message) {
  public static final String HANDLER_ERROR = "HandlerError";
  public static final String INVALID_INPUT = "InvalidInput";
  public static final String UNKNOWN_HANDLER = "UnknownHandler";
  public static final String TIMEOUT = "Timeout";
  static final String LEASE_EXPIRED = "LeaseExpired";
  public static final String RESULT_TOO_LARGE = "ResultTooLarge";
  public static final String WORKER_SHUTDOWN = "WorkerShutdown";
  public static final String COMMAND_FAILED = "CommandFailed";
  public static final String RESOURCE_UNAVAILABLE = "ResourceUnavailable";
  public static final String PROVIDER_ERROR = "ProviderError";
  public static final String PROVIDER_UNAVAILABLE = "ProviderUnavailable";
}
