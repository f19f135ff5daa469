package io.vera.operator.compute.proxmox;

import java.time.Duration;

/**
 * The waits between polls of Proxmox (a lock to clear, an agent to answer): the client's backoff,
 * doubling per poll; an interrupt ends the wait as a {@link ProxmoxException.Kind#TIMEOUT}.
 */
final class Polls {
  private final ProxmoxClient client;

  Polls(ProxmoxClient client) {
    this.client = client;
  }

  /** Waits before poll {@code polls + 1}. */
  void pause(int polls) throws ProxmoxException {
    Duration d = client.policy().backoff(polls);
    try {
      Thread.sleep(Math.max(1, d.toMillis()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ProxmoxException(ProxmoxException.Kind.TIMEOUT, "interrupted while waiting", e);
    }
  }
}
