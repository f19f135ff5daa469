package io.vera.operator.worker;

import io.vera.operator.task.PoolKey;
import java.util.List;
import java.util.Set;

/**
 * The handlers worker pods offer, as readers see them: the legacy API accepts a task for a handler
 * only a worker pod runs and sends it to a pool whose pods offer it. Read-only, so such readers
 * cannot record or forget workers ({@link RemoteWorkers} does that for the lease protocol and the
 * pool reconciler).
 */
public interface OfferedHandlers {

  /** Pools whose recently seen workers offer a handler, by name. */
  List<PoolKey> poolsOffering(String handler);

  /** Handlers offered by any worker pod of any pool. */
  Set<String> allHandlers();
}
