package io.vera.operator.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Placeholder: the worker pod command. */
@Command(
    name = "worker",
    mixinStandardHelpOptions = true,
    description = "Runs a worker that leases tasks from the operator.")
public class WorkerCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    return 1;
  }
}
