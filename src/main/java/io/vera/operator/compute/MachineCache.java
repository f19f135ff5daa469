package io.vera.operator.compute;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The machine of each ComputeResource uid as the reconciler last saw it, so an exec does not ask
 * the host to search for it first. A stale entry is harmless: the host answers NOT_FOUND and the
 * reconciler notices the loss on its next pass.
 */
public final class MachineCache {
  private final Map<String, Machine> byUid = new ConcurrentHashMap<>();

  public void put(String uid, Machine machine) {
    byUid.put(uid, machine);
  }

  public Optional<Machine> get(String uid) {
    return Optional.ofNullable(byUid.get(uid));
  }

  public void remove(String uid) {
    byUid.remove(uid);
  }
}
