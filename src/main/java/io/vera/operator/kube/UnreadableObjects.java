package io.vera.operator.kube;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the controllers do with an object read with fields left out ({@link TolerantReads}): they
 * skip it, and it is reported once per object and problem: a log line, a Warning Event {@value
 * #REASON} on the object naming the fields, and {@code Ready=False} / {@code Stalled=True} with
 * that reason in its status, so {@code kubectl describe} and {@code kubectl wait} show why nothing
 * happens to it. The operator goes on with every other object.
 *
 * <p>The conditions are written with a JSON merge patch of the status subresource (which replaces
 * the list of conditions; the object is not worked on, so those are its state), by name through the
 * generic client, which reads no model. An API server that validates the whole object may refuse
 * the patch while the object stays invalid; the Event is written regardless.
 */
public final class UnreadableObjects implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(UnreadableObjects.class);
  static final String REASON = "Unreadable";
  private static final int MAX_REMEMBERED = 10_000;

  private final KubernetesClient client;
  private final EventRecorder events;

  /** uid + problem of the objects reported, so a change that keeps the problem is not reported. */
  private final Set<String> reported = ConcurrentHashMap.newKeySet();

  private final ThreadPoolExecutor statusWriter =
      new ThreadPoolExecutor(
          1,
          1,
          0,
          TimeUnit.MILLISECONDS,
          new ArrayBlockingQueue<>(1000),
          r -> {
            Thread t = new Thread(r, "unreadable-objects");
            t.setDaemon(true);
            return t;
          },
          new ThreadPoolExecutor.DiscardPolicy());

  public UnreadableObjects(KubernetesClient client, EventRecorder events) {
    this.client = client;
    this.events = events;
  }

  /**
   * Whether a controller may work on an object: false for one read with fields left out, which is
   * then reported (once). Use as the controllers' generic event filter.
   */
  public boolean readable(HasMetadata object) {
    String problem = TolerantReads.unreadable(object);
    if (problem == null) {
      return true;
    }
    if (reported.size() >= MAX_REMEMBERED) {
      reported.clear();
    }
    if (reported.add(object.getMetadata().getUid() + "\n" + problem)) {
      report(object, problem);
    }
    return false;
  }

  private void report(HasMetadata object, String problem) {
    String message =
        "This operator cannot read the object and leaves it alone until it is corrected: "
            + problem;
    LOG.warn(
        "{} {}/{} skipped: {}",
        object.getKind(),
        object.getMetadata().getNamespace(),
        object.getMetadata().getName(),
        problem);
    events.warning(object, REASON, message);
    statusWriter.execute(() -> writeConditions(object, message));
  }

  private void writeConditions(HasMetadata object, String message) {
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    ObjectNode patch = JsonNodeFactory.instance.objectNode();
    ArrayNode conditions = patch.putObject("status").putArray("conditions");
    conditions
        .addObject()
        .put("type", Conditions.READY)
        .put("status", "False")
        .put("reason", REASON)
        .put("message", message)
        .put("lastTransitionTime", now);
    conditions
        .addObject()
        .put("type", Conditions.STALLED)
        .put("status", "True")
        .put("reason", REASON)
        .put("message", message)
        .put("lastTransitionTime", now);
    try {
      client
          .genericKubernetesResources(ResourceDefinitionContext.fromResourceType(object.getClass()))
          .inNamespace(object.getMetadata().getNamespace())
          .withName(object.getMetadata().getName())
          .subresource("status")
          .patch(PatchContext.of(PatchType.JSON_MERGE), patch.toString());
    } catch (RuntimeException e) {
      LOG.info(
          "could not write the {} condition on {} {}/{}: {}",
          REASON,
          object.getKind(),
          object.getMetadata().getNamespace(),
          object.getMetadata().getName(),
          e.getMessage());
    }
  }

  @Override
  public void close() {
    statusWriter.shutdown();
  }
}
