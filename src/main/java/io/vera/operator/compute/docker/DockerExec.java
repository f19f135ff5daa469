package io.vera.operator.compute.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.ExecCreateCmdResponse;
import com.github.dockerjava.api.command.InspectExecResponse;
import com.github.dockerjava.api.exception.BadRequestException;
import com.github.dockerjava.api.exception.ConflictException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.StreamType;
import io.vera.operator.compute.CappedOutput;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.compute.ExecMarker;
import io.vera.operator.compute.ExecRequest;
import io.vera.operator.compute.ExecResult;
import io.vera.operator.compute.Machine;
import io.vera.operator.compute.OutputMeter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Commands in a container with {@code docker exec}: capped output per stream, the exit code, and
 * the exec-kill protocol that stands in for the kill API Docker does not have.
 */
final class DockerExec {
  private static final Logger LOG = LoggerFactory.getLogger(DockerExec.class);
  private static final Duration KILL_GRACE = Duration.ofSeconds(10);

  private final String host;
  private final DockerClient api;
  private final DockerClient streams;

  /**
   * @param api the client with the response timeout, for exec create and inspect
   * @param streams the client without a read timeout, for the output stream that may stay silent
   */
  DockerExec(String host, DockerClient api, DockerClient streams) {
    this.host = host;
    this.api = api;
    this.streams = streams;
  }

  /**
   * Runs {@code request.argv()} with {@code docker exec}, its stdout and stderr demultiplexed into
   * two buffers of at most {@code maxOutputBytes} each (the rest is read and dropped, and the
   * result says so), and the exit code from exec inspect.
   *
   * <p><b>Timeouts.</b> Docker has no API to kill an exec. Every exec therefore gets a unique
   * {@value ExecMarker#ENV} environment variable, which its process and every child it starts
   * inherit. At the timeout a second exec, {@code /bin/sh -c}, walks {@code /proc/<pid>/environ} in
   * the container and sends SIGSTOP and then SIGKILL to every process carrying that marker (in up
   * to three rounds, for children forked meanwhile), so the command's whole tree dies, not only its
   * first process, no parent gets to run on after its child died, and nothing else is touched; then
   * the output stream is drained until it closes. The result has {@code timedOut} and exit code -1.
   * This needs {@code /bin/sh}, {@code grep} and {@code kill} in the image (every image with a
   * shell has them); in an image without a shell the kill fails, which is logged, and the command
   * may run on. Processes that clear their own environment ({@code env -i}) escape the marker.
   */
  ExecResult exec(Machine machine, ExecRequest request) throws ComputeException {
    if (request.argv().isEmpty()) {
      throw new ComputeException(Reason.INVALID, "the command is empty");
    }
    int cap = Math.max(0, request.maxOutputBytes());
    String id = ContainerMachines.containerId(machine);
    String marker = UUID.randomUUID().toString();
    List<String> env = new ArrayList<>();
    for (Map.Entry<String, String> entry : request.env().entrySet()) {
      if (!ContainerSpec.ENV_NAME.matcher(entry.getKey()).matches()) {
        throw new ComputeException(
            Reason.INVALID, "environment variable name '" + entry.getKey() + "' is not valid");
      }
      env.add(entry.getKey() + "=" + (entry.getValue() == null ? "" : entry.getValue()));
    }
    env.add(ExecMarker.ENV + "=" + marker);
    long started = System.nanoTime();
    String execId = createExec(id, request.argv(), request.workdir(), env);
    OutputCollector output = new OutputCollector(cap, request.meter());
    try {
      streams.execStartCmd(execId).withDetach(false).withTty(false).exec(output);
      boolean finished =
          output.awaitCompletion(request.timeout().toMillis(), TimeUnit.MILLISECONDS);
      if (!finished) {
        killMarked(id, marker);
        if (!output.awaitCompletion(KILL_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
          LOG.warn("Exec {} in container {} timed out and did not stop after the kill", execId, id);
        }
        return output.result(-1, true, Duration.ofNanos(System.nanoTime() - started));
      }
      output.rethrow();
      int exitCode = exitCode(execId);
      return output.result(exitCode, false, Duration.ofNanos(System.nanoTime() - started));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      killMarked(id, marker);
      throw new ComputeException(Reason.UNAVAILABLE, "interrupted while running a command", e);
    } catch (NotFoundException e) {
      throw new ComputeException(Reason.NOT_FOUND, "container " + id + " no longer exists", e);
    } catch (ConflictException e) {
      throw notRunning(id, e);
    } catch (RuntimeException e) {
      throw DockerErrors.unavailableOr(host, "run a command in container " + id, e);
    } finally {
      DockerErrors.closeQuietly(output);
    }
  }

  private String createExec(String id, List<String> argv, String workdir, List<String> env)
      throws ComputeException {
    try {
      var cmd =
          api.execCreateCmd(id)
              .withCmd(argv.toArray(String[]::new))
              .withEnv(env)
              .withAttachStdout(true)
              .withAttachStderr(true)
              .withAttachStdin(false)
              .withTty(false);
      if (workdir != null && !workdir.isBlank()) {
        cmd.withWorkingDir(workdir);
      }
      ExecCreateCmdResponse created = cmd.exec();
      return created.getId();
    } catch (NotFoundException e) {
      throw new ComputeException(Reason.NOT_FOUND, "container " + id + " no longer exists", e);
    } catch (ConflictException e) {
      throw notRunning(id, e);
    } catch (BadRequestException e) {
      throw new ComputeException(
          Reason.INVALID,
          "the Docker engine refused the command: " + DockerErrors.dockerMessage(e),
          e);
    } catch (RuntimeException e) {
      throw DockerErrors.unavailableOr(host, "create an exec in container " + id, e);
    }
  }

  private static ComputeException notRunning(String id, RuntimeException e) {
    return new ComputeException(
        Reason.FAILED, "container " + id + " is not running: " + DockerErrors.dockerMessage(e), e);
  }

  /**
   * The exit code; the engine records it as the stream closes, so a brief wait covers the moment
   * between the two.
   */
  private int exitCode(String execId) throws ComputeException {
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (true) {
      InspectExecResponse inspect = api.inspectExecCmd(execId).exec();
      Long code = inspect.getExitCodeLong();
      if (!Boolean.TRUE.equals(inspect.isRunning()) && code != null) {
        return code.intValue();
      }
      if (System.nanoTime() > deadline) {
        throw new ComputeException(
            Reason.FAILED, "the engine reported no exit code for exec " + execId);
      }
      DockerErrors.sleep(10);
    }
  }

  /** SIGKILL to every process in the container whose environment carries {@code marker}. */
  private void killMarked(String containerId, String marker) {
    String script = ExecMarker.killScript(marker);
    try {
      String killer =
          api.execCreateCmd(containerId)
              .withCmd("/bin/sh", "-c", script)
              .withAttachStdout(true)
              .withAttachStderr(true)
              .exec()
              .getId();
      OutputCollector out = new OutputCollector(4096, OutputMeter.NONE);
      try {
        streams.execStartCmd(killer).withDetach(false).exec(out);
        if (!out.awaitCompletion(KILL_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
          LOG.warn("Killing timed-out command in container {} did not finish", containerId);
        }
      } finally {
        DockerErrors.closeQuietly(out);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      LOG.warn(
          "Could not kill a timed-out command in container {}: {}",
          containerId,
          DockerErrors.dockerMessage(e));
    }
  }

  /** Collects an exec's frames into two capped buffers. */
  private static final class OutputCollector extends FailureKeepingCallback<Frame> {
    private final CappedOutput stdout;
    private final CappedOutput stderr;

    OutputCollector(int cap, OutputMeter meter) {
      this.stdout = new CappedOutput(cap, meter);
      this.stderr = new CappedOutput(cap, meter);
    }

    @Override
    public void onNext(Frame frame) {
      byte[] payload = frame.getPayload();
      if (payload == null) {
        return;
      }
      if (frame.getStreamType() == StreamType.STDERR) {
        stderr.write(payload, 0, payload.length);
      } else if (frame.getStreamType() == StreamType.STDOUT
          || frame.getStreamType() == StreamType.RAW) {
        stdout.write(payload, 0, payload.length);
      }
    }

    ExecResult result(int exitCode, boolean timedOut, Duration duration) {
      return new ExecResult(
          exitCode,
          stdout.text(),
          stderr.text(),
          stdout.truncated(),
          stderr.truncated(),
          timedOut,
          duration);
    }
  }
}
