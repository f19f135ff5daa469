package io.vera.operator.cli;

import io.vera.operator.bench.BenchCommand;
import java.util.Arrays;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of {@code vera-operator.jar}: {@code run} (the default), {@code worker} and {@code
 * bench}.
 */
@Command(
    name = "vera-operator",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "Runs an AI assistant's background work on Kubernetes.",
    subcommands = {RunCommand.class, WorkerCommand.class, BenchCommand.class})
public class VeraCommand implements Runnable {
  private static final String COMMON_POOL_PARALLELISM =
      "java.util.concurrent.ForkJoinPool.common.parallelism";
  private static final Set<String> TOP_LEVEL =
      Set.of("run", "worker", "bench", "help", "-h", "--help", "-V", "--version");

  @Override
  public void run() {
    // Only reached with no arguments at all; main() turns that into "run".
  }

  public static void main(String[] args) {
    // With fewer than two cores' worth of parallelism, CompletableFuture's async steps (which the
    // Kubernetes client uses for every call) start a new thread each; give the common pool room.
    if (System.getProperty(COMMON_POOL_PARALLELISM) == null) {
      System.setProperty(
          COMMON_POOL_PARALLELISM,
          Integer.toString(Math.max(4, Runtime.getRuntime().availableProcessors())));
    }
    System.exit(execute(args));
  }

  /** Runs the command line; arguments that start with no subcommand go to {@code run}. */
  static int execute(String... args) {
    String[] effective = args;
    if (args.length == 0 || !TOP_LEVEL.contains(args[0])) {
      effective = new String[args.length + 1];
      effective[0] = "run";
      System.arraycopy(args, 0, effective, 1, args.length);
    }
    CommandLine commandLine = new CommandLine(new VeraCommand());
    commandLine.setCaseInsensitiveEnumValuesAllowed(true);
    return commandLine.execute(Arrays.copyOf(effective, effective.length));
  }
}
