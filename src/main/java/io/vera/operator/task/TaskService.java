package io.vera.operator.task;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.VeraTaskSpec;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Submits, cancels and retries tasks on behalf of REST clients, by writing VeraTask resources. A
 * submitted task is handed to the dispatcher as soon as the API server accepted it, rather than
 * when the informer sees it, so a REST submit costs one API call.
 */
public final class TaskService {
  public static final String SOURCE_LABEL = "vera.io/source";
  static final String RETRY_OF_LABEL = "vera.io/retry-of";

  /**
   * How long a read waits for an end the dispatcher knows to be stored; a status write takes
   * milliseconds unless the API server is struggling, and then the reader gets what is stored.
   */
  static final Duration SETTLE_BOUND = Duration.ofSeconds(2);

  private final KubernetesClient client;
  private final TaskDispatcher dispatcher;
  private final String namespace;
  private final Integer defaultTtlSeconds;
  private final FinishedTasks finished;
  private final TaskHistory history;

  /** Reads finished tasks through {@code client} with a cache of up to 16 MB. */
  public TaskService(
      KubernetesClient client,
      TaskDispatcher dispatcher,
      String namespace,
      Integer defaultTtlSeconds) {
    this(
        client,
        dispatcher,
        namespace,
        defaultTtlSeconds,
        new FinishedTasks(client, dispatcher, 16L << 20));
  }

  /**
   * @param namespace where REST-submitted tasks are created
   * @param defaultTtlSeconds ttlSecondsAfterFinished of REST-submitted tasks that set none
   */
  public TaskService(
      KubernetesClient client,
      TaskDispatcher dispatcher,
      String namespace,
      Integer defaultTtlSeconds,
      FinishedTasks finished) {
    this.client = client;
    this.dispatcher = dispatcher;
    this.namespace = namespace;
    this.defaultTtlSeconds = defaultTtlSeconds;
    this.finished = finished;
    this.history = new TaskHistory(dispatcher, finished);
  }

  /** The history queries, over tasks in flight and those kept on the API server. */
  public TaskHistory history() {
    return history;
  }

  /**
   * REST answers show what is stored rather than the dispatcher's latest state, which a crash could
   * still take back; see {@link TaskStatusWriter#storedView}. Set once, at wiring.
   */
  public void answerFromStore(TaskStatusWriter writer) {
    this.stored = writer;
  }

  private volatile TaskStatusWriter stored;

  /**
   * A task in flight (from the dispatcher, as stored when {@link #answerFromStore} is set) or
   * finished (from the API server); empty if gone.
   */
  public Optional<TaskSnapshot> find(TaskKey key) {
    return answer(key, dispatcher.get(key));
  }

  private Optional<TaskSnapshot> answer(TaskKey key, Optional<TaskSnapshot> inFlight) {
    TaskStatusWriter writer = stored;
    if (inFlight.isPresent()) {
      return writer == null ? inFlight : inFlight.map(writer::storedView);
    }
    return finished.get(key);
  }

  /**
   * {@link #find}, once an end the dispatcher already knows is stored (waiting at most {@link
   * #SETTLE_BOUND}): a reader told of the end by a live event or a cancel answer then reads that
   * end rather than the running state still stored. Past the bound it answers what is stored.
   */
  public Optional<TaskSnapshot> findSettled(TaskKey key) throws InterruptedException {
    return findSettled(key, SETTLE_BOUND);
  }

  Optional<TaskSnapshot> findSettled(TaskKey key, Duration bound) throws InterruptedException {
    Optional<TaskSnapshot> inFlight = dispatcher.get(key);
    boolean ended = inFlight.map(t -> t.phase() != null && t.phase().isFinished()).orElse(false);
    if (stored == null || !ended) {
      return answer(key, inFlight);
    }
    try {
      awaitFinished(key).get(bound.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException | ExecutionException e) {
      // Answer what is stored: the end is not written yet.
    }
    return find(key);
  }

  /**
   * Completes when a task's end is stored (or the task is gone): its finish as the dispatcher sees
   * it, then, when answers come from the store, its finished state written.
   */
  public CompletableFuture<?> awaitFinished(TaskKey key) {
    TaskStatusWriter writer = stored;
    CompletableFuture<TaskSnapshot> finish = dispatcher.awaitFinished(key);
    return writer == null ? finish : finish.thenCompose(done -> writer.awaitFinalWritten(key));
  }

  public String namespace() {
    return namespace;
  }

  public TaskKey key(String taskId) {
    return new TaskKey(namespace, taskId);
  }

  /** Creates the task resource and queues it; returns its key (the name is the task id). */
  public TaskKey submit(VeraTaskSpec spec, Map<String, String> labels) {
    if (spec.ttlSecondsAfterFinished == null) {
      spec.ttlSecondsAfterFinished = defaultTtlSeconds;
    }
    Map<String, String> allLabels = new HashMap<>(labels);
    allLabels.putIfAbsent(SOURCE_LABEL, "rest");
    VeraTask task = new VeraTask();
    task.setMetadata(
        new ObjectMetaBuilder()
            .withName(UUID.randomUUID().toString())
            .withNamespace(namespace)
            .withLabels(allLabels)
            .build());
    task.setSpec(spec);
    VeraTask created =
        client.resources(VeraTask.class).inNamespace(namespace).resource(task).create();
    dispatcher.track(created);
    return key(created.getMetadata().getName());
  }

  /**
   * Cancels a task: at once in the dispatcher, and durably through spec.cancel so the request
   * survives a restart.
   */
  public CancelOutcome cancel(TaskKey key) {
    CancelOutcome outcome = dispatcher.cancel(key, "cancelled through the REST API");
    if (outcome == CancelOutcome.NOT_FOUND) {
      // Not in flight: finished (and kept on the API server only), or gone.
      return finished
          .get(key)
          .filter(t -> t.phase().isFinished())
          .map(
              t ->
                  t.phase() == TaskPhase.Cancelled
                      ? CancelOutcome.CANCELLED
                      : CancelOutcome.ALREADY_FINISHED)
          .orElse(CancelOutcome.NOT_FOUND);
    }
    if (outcome == CancelOutcome.CANCELLED) {
      client
          .resources(VeraTask.class)
          .inNamespace(key.namespace())
          .withName(key.name())
          .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"cancel\":true}}");
    }
    return outcome;
  }

  /**
   * The Kubernetes Events recorded for a task (failures, retries, cancellation), oldest first, as
   * {@code kubectl describe} shows them.
   */
  public List<Event> events(TaskKey key) {
    return client
        .v1()
        .events()
        .inNamespace(key.namespace())
        .withField("involvedObject.name", key.name())
        .list()
        .getItems()
        .stream()
        .filter(
            e ->
                e.getInvolvedObject() != null && key.name().equals(e.getInvolvedObject().getName()))
        .sorted(
            java.util.Comparator.comparing(
                e -> e.getLastTimestamp() == null ? "" : e.getLastTimestamp()))
        .toList();
  }

  /** Submits a fresh copy of a finished task; empty when the original no longer exists. */
  public Optional<TaskKey> resubmit(TaskKey original) {
    VeraTask existing =
        client
            .resources(VeraTask.class)
            .inNamespace(original.namespace())
            .withName(original.name())
            .get();
    if (existing == null) {
      return Optional.empty();
    }
    VeraTaskSpec spec = existing.getSpec();
    spec.cancel = null;
    Map<String, String> labels = new HashMap<>();
    if (existing.getMetadata().getLabels() != null) {
      labels.putAll(existing.getMetadata().getLabels());
    }
    labels.put(RETRY_OF_LABEL, original.name());
    return Optional.of(submit(spec, labels));
  }
}
