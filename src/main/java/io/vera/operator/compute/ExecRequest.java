package io.vera.operator.compute;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A command to run in a machine.
 *
 * @param argv the program and its arguments (a shell line is {@code ["/bin/sh", "-c", line]})
 * @param workdir working directory, or null for the machine's default
 * @param env extra environment
 * @param timeout how long it may run before it is killed
 * @param maxOutputBytes cap per stream; output beyond it is dropped and the result says so
 * @param meter counts the output as it arrives, for progress reports
 */
public record ExecRequest(
    List<String> argv,
    String workdir,
    Map<String, String> env,
    Duration timeout,
    int maxOutputBytes,
    OutputMeter meter) {

  public ExecRequest {
    argv = List.copyOf(argv);
    env = env == null ? Map.of() : Map.copyOf(env);
    meter = meter == null ? OutputMeter.NONE : meter;
  }

  /** A command whose output nobody follows while it runs. */
  public ExecRequest(
      List<String> argv,
      String workdir,
      Map<String, String> env,
      Duration timeout,
      int maxOutputBytes) {
    this(argv, workdir, env, timeout, maxOutputBytes, OutputMeter.NONE);
  }

  /** The same command with another timeout. */
  public ExecRequest withTimeout(Duration timeout) {
    return new ExecRequest(argv, workdir, env, timeout, maxOutputBytes, meter);
  }

  /** The same command, its output counted in {@code meter} as it arrives. */
  ExecRequest withMeter(OutputMeter meter) {
    return new ExecRequest(argv, workdir, env, timeout, maxOutputBytes, meter);
  }

  /** A shell command line, as the legacy API and VeraTask {@code resourceRef.command} give it. */
  public static ExecRequest shell(
      String line, String workdir, Map<String, String> env, Duration timeout, int maxOutputBytes) {
    return new ExecRequest(List.of("/bin/sh", "-c", line), workdir, env, timeout, maxOutputBytes);
  }
}
