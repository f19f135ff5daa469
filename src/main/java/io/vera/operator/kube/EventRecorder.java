package io.vera.operator.kube;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records Kubernetes Events for transitions a person wants in {@code kubectl describe}. Events are
 * best effort: sent asynchronously, and at most {@link #MAX_PER_SECOND} a second so a storm of
 * failing tasks cannot flood the API server.
 */
public final class EventRecorder implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EventRecorder.class);
  static final int MAX_PER_SECOND = 20;
  private static final String COMPONENT = "vera-operator";

  private final KubernetesClient client;
  private final ThreadPoolExecutor sender =
      new ThreadPoolExecutor(
          1,
          1,
          0,
          TimeUnit.MILLISECONDS,
          new ArrayBlockingQueue<>(1000),
          r -> {
            Thread t = new Thread(r, "event-recorder");
            t.setDaemon(true);
            return t;
          },
          new ThreadPoolExecutor.DiscardPolicy());
  private final AtomicLong windowStart = new AtomicLong();
  private final AtomicLong sentInWindow = new AtomicLong();
  private final AtomicLong dropped = new AtomicLong();

  public EventRecorder(KubernetesClient client) {
    this.client = client;
  }

  public void normal(HasMetadata object, String reason, String message) {
    record(object, "Normal", reason, message);
  }

  public void warning(HasMetadata object, String reason, String message) {
    record(object, "Warning", reason, message);
  }

  private void record(HasMetadata object, String type, String reason, String message) {
    long second = System.currentTimeMillis() / 1000;
    if (windowStart.getAndSet(second) != second) {
      sentInWindow.set(0);
    }
    if (sentInWindow.incrementAndGet() > MAX_PER_SECOND) {
      if (dropped.incrementAndGet() % 1000 == 1) {
        LOG.debug("event rate limit reached; {} events dropped so far", dropped.get());
      }
      return;
    }
    String namespace = object.getMetadata().getNamespace();
    String now = Instant.now().toString();
    var event =
        new EventBuilder()
            .withNewMetadata()
            .withNamespace(namespace)
            .withName(
                object.getMetadata().getName() + "." + UUID.randomUUID().toString().substring(0, 8))
            .endMetadata()
            .withInvolvedObject(
                new ObjectReferenceBuilder()
                    .withApiVersion(object.getApiVersion())
                    .withKind(object.getKind())
                    .withName(object.getMetadata().getName())
                    .withNamespace(namespace)
                    .withUid(object.getMetadata().getUid())
                    .build())
            .withType(type)
            .withReason(reason)
            .withMessage(message.length() > 1024 ? message.substring(0, 1024) : message)
            .withFirstTimestamp(now)
            .withLastTimestamp(now)
            .withCount(1)
            .withNewSource()
            .withComponent(COMPONENT)
            .endSource()
            .withReportingComponent(COMPONENT)
            .build();
    sender.execute(
        () -> {
          try {
            client.v1().events().inNamespace(namespace).resource(event).create();
          } catch (RuntimeException e) {
            LOG.debug(
                "could not record event {} on {}: {}",
                reason,
                object.getMetadata().getName(),
                e.getMessage());
          }
        });
  }

  @Override
  public void close() {
    sender.shutdown();
  }
}
