package io.vera.operator.compute;

import io.vera.operator.api.ComputeResource;
import java.util.List;
import java.util.Optional;

/**
 * One place machines run: a Docker engine, a Proxmox cluster or a Kubernetes namespace. The
 * ComputeResource reconciler, the exec path and the legacy infrastructure API speak to every kind
 * of machine through this interface only, so adding a kind means adding one implementation.
 *
 * <p>Every machine a host creates carries the uid of its ComputeResource and the {@link InstanceId}
 * of this installation (Docker labels, Proxmox tags/description, pod labels), so {@link #find} and
 * {@link #listOwned} work from the machines alone after an operator restart, and never return
 * another installation's machines. Implementations are thread-safe.
 */
public interface ComputeHost extends AutoCloseable {

  /** A cheap live check of the host: its version and what it can offer. */
  HostProbe probe() throws ComputeException;

  /**
   * Creates and starts the machine of {@code resource}, or returns the one that already carries its
   * uid (starting it if it is stopped). Idempotent: calling it again after a partial failure
   * finishes or replaces the machine; it never leaves a second one behind. Returns once the machine
   * runs.
   */
  Machine provision(ComputeResource resource) throws ComputeException;

  /**
   * {@link #provision(ComputeResource)}, telling {@code progress} what the machine waits for while
   * it waits on something outside the host's control; hosts that never wait so ignore it.
   */
  default Machine provision(ComputeResource resource, ProvisionProgress progress)
      throws ComputeException {
    return provision(resource);
  }

  /**
   * The machine that carries this ComputeResource uid and this installation's id (or no id at all:
   * see {@link InstanceId#mayAdopt}), empty when there is none.
   */
  Optional<Machine> find(String resourceUid) throws ComputeException;

  /**
   * Every machine on this host that this installation created, plus those that carry no
   * installation id (made by older versions), for adoption and orphan removal; never a machine of
   * another installation. {@link Machine.Owner#instance()} tells the two kinds apart.
   */
  List<Machine> listOwned() throws ComputeException;

  /** Stops and removes the machine. A machine that is already gone is success. */
  void destroy(Machine machine) throws ComputeException;

  /**
   * Runs a command to completion or until {@link ExecRequest#timeout()}, when it is killed and the
   * result says so. Output is captured separately per stream and capped.
   */
  ExecResult exec(Machine machine, ExecRequest request) throws ComputeException;

  /** Live usage of one machine as the host reports it now. */
  MachineStats stats(Machine machine) throws ComputeException;

  /** Releases connections; machines keep running. */
  @Override
  void close();
}
