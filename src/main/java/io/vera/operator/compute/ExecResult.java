package io.vera.operator.compute;

import java.time.Duration;

/**
 * How a command ended.
 *
 * @param exitCode the process's exit code; -1 when it was killed at its timeout
 * @param timedOut whether it was killed at its timeout
 * @param stdoutTruncated whether stdout went past the cap and was cut
 * @param stderrTruncated whether stderr went past the cap and was cut
 */
public record ExecResult(
    int exitCode,
    String stdout,
    String stderr,
    boolean stdoutTruncated,
    boolean stderrTruncated,
    boolean timedOut,
    Duration duration) {}
