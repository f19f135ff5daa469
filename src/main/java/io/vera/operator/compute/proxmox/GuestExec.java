package io.vera.operator.compute.proxmox;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.compute.ExecRequest;
import io.vera.operator.compute.ExecResult;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a command in a VM through the QEMU guest agent: {@code agent/exec}, then {@code
 * agent/exec-status} until it exits. The agent has no working directory or environment parameters:
 * when the request has them, the command runs as {@code /bin/sh -c 'cd "$0" && exec env "$@"'
 * <workdir> K=V... argv...}. Output is what the agent returns (it caps it itself, and says so), cut
 * to {@link ExecRequest#maxOutputBytes()} per stream.
 *
 * <p>Timeout: the agent offers no way to kill a process it started. At the timeout this sends a
 * second {@code agent/exec} of {@code kill -KILL <pid>} (the pid the agent reported is the guest's
 * own, so this works in Linux guests) and reports {@code timedOut} with exit code -1 and no output
 * (the agent hands output over only when the process has exited). If that kill cannot run, the
 * process keeps running in the guest.
 */
final class GuestExec {
  private static final Logger LOG = LoggerFactory.getLogger(GuestExec.class);
  private static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

  private final ProxmoxClient client;

  GuestExec(ProxmoxClient client) {
    this.client = client;
  }

  /** Runs {@code request} in the VM at {@code path} ({@code nodes/N/qemu/VMID}). */
  ExecResult run(String path, ExecRequest request) throws ProxmoxException, ComputeException {
    Instant start = Instant.now();
    JsonNode started =
        client.post(path + "/agent/exec", Params.of().putAll("command", argv(request)));
    long pid = Json.asLong(started, "pid", -1);
    if (pid < 0) {
      throw new ComputeException(Reason.FAILED, "the guest agent did not report a pid");
    }
    Duration timeout = request.timeout() == null ? DEFAULT_TIMEOUT : request.timeout();
    Instant deadline = start.plus(timeout);
    int polls = 0;
    while (true) {
      JsonNode st = client.get(path + "/agent/exec-status", Params.of().put("pid", pid));
      if (Json.asBool(st, "exited")) {
        return result(st, request, Duration.between(start, Instant.now()));
      }
      if (!Instant.now().isBefore(deadline)) {
        kill(path, pid);
        return new ExecResult(
            -1, "", "", false, false, true, Duration.between(start, Instant.now()));
      }
      Duration wait = Duration.ofMillis(Math.min(1000, 25L << Math.min(polls++, 6)));
      Duration left = Duration.between(Instant.now(), deadline);
      sleep(wait.compareTo(left) < 0 ? wait : left.plusMillis(1));
    }
  }

  private static List<String> argv(ExecRequest request) {
    if (request.workdir() == null && request.env().isEmpty()) {
      return request.argv();
    }
    List<String> argv = new ArrayList<>();
    argv.add("/bin/sh");
    argv.add("-c");
    argv.add("cd \"$0\" && exec env \"$@\"");
    argv.add(request.workdir() == null ? "." : request.workdir());
    request.env().entrySet().stream()
        .sorted(Map.Entry.comparingByKey())
        .forEach(e -> argv.add(e.getKey() + "=" + e.getValue()));
    argv.addAll(request.argv());
    return argv;
  }

  private void kill(String path, long pid) {
    try {
      client.post(
          path + "/agent/exec",
          Params.of().putAll("command", List.of("kill", "-KILL", Long.toString(pid))));
    } catch (ProxmoxException e) {
      LOG.warn("could not kill timed-out process {} in {}: {}", pid, path, e.getMessage());
    }
  }

  private static ExecResult result(JsonNode st, ExecRequest request, Duration took) {
    int exit;
    if (st.hasNonNull("exitcode")) {
      exit = (int) Json.asLong(st, "exitcode", -1);
    } else if (st.hasNonNull("signal")) {
      exit = 128 + (int) Json.asLong(st, "signal", 0);
    } else {
      exit = -1;
    }
    Capped out = cap(Json.text(st, "out-data"), request.maxOutputBytes());
    Capped err = cap(Json.text(st, "err-data"), request.maxOutputBytes());
    return new ExecResult(
        exit,
        out.text(),
        err.text(),
        out.cut() || Json.asBool(st, "out-truncated"),
        err.cut() || Json.asBool(st, "err-truncated"),
        false,
        took);
  }

  private record Capped(String text, boolean cut) {}

  private static Capped cap(String s, int maxBytes) {
    if (s == null) {
      return new Capped("", false);
    }
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    if (maxBytes <= 0 || bytes.length <= maxBytes) {
      return new Capped(s, false);
    }
    int end = maxBytes;
    while (end > 0 && (bytes[end] & 0xC0) == 0x80) {
      end--; // do not split a UTF-8 sequence
    }
    return new Capped(new String(bytes, 0, end, StandardCharsets.UTF_8), true);
  }

  private static void sleep(Duration d) throws ProxmoxException {
    try {
      Thread.sleep(Math.max(1, d.toMillis()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ProxmoxException(ProxmoxException.Kind.TIMEOUT, "interrupted while waiting", e);
    }
  }
}
