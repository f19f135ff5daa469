package io.vera.operator.embedded;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.server.mock.KubernetesAttributesExtractor;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesResponseComposer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.crud.Attribute;
import io.fabric8.mockwebserver.crud.AttributeSet;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * fabric8's {@link KubernetesCrudDispatcher} with indexed lookups: the cost of a request no longer
 * grows with the number of stored objects.
 *
 * <p>The mock finds objects by testing the attributes of every stored object against the request
 * path's ({@code AttributeSet.matches}), in {@code findResource} (create, replace, patch), in its
 * private {@code handle} (get, list, delete) and when a watch opens. With ten thousand finished
 * VeraTasks stored, that scan was the embedded API server's whole time budget.
 *
 * <p>How it is made cheap, and why this way:
 *
 * <ul>
 *   <li>The store itself is replaced by an {@link IndexedStore}, a map with the same entries in the
 *       same order plus an index by plural, namespace and name. The mock's code keeps writing to it
 *       (all its writes go through {@code processEvent}: status subresource, generation,
 *       resourceVersion, finalizers and CRD registration all stay the mock's), and the index
 *       follows every write because it is the map. Keeping a separate index instead would mean
 *       mirroring {@code processEvent}, which computes the keys it stores internally.
 *   <li>The lookups are overridden to ask the index, which tests only the keys that can match with
 *       the mock's own {@code AttributeSet.matches}, so answers and their order are the mock's:
 *       {@link #findResource} is a hook the mock provides; {@link #handleGet} (not for watches) and
 *       {@link #handleDelete} re-implement the mock's private {@code handle} and {@code
 *       processDelete}, a few lines each.
 *   <li>Watches are served here ({@link #handleWatch}, {@link #processEvent}) with the mock's
 *       semantics but without its per-event JSON round trip and thread hop.
 *   <li>Writing our own storage for the kinds the operator uses would have meant re-implementing
 *       the mock's status, generation, patch and watch semantics, which this keeps.
 * </ul>
 *
 * <p>Costs that remain: a list is linear in the objects of its plural (and namespace, when it names
 * one), a label selector filters those; opening a watch sends the initial ADDED events from the
 * index (once per watch connection, not per request); a write notifies each open watch.
 *
 * <p>Locking: the mock guards its map with a private read-write lock that the re-implemented
 * lookups cannot take. This class has its own, taken by every entry point that touches the store
 * (writes exclusive, reads shared, including the open of a watch), before the mock takes its own
 * inside, always in that order. Subclasses use {@link #readLocked} and {@link #writeLocked} to make
 * read-modify-write sequences atomic.
 */
class IndexedCrudDispatcher extends KubernetesCrudDispatcher {

  /**
   * The paths the mock answers, when no object matches, with the APIResourceList of the CRDs it
   * knows (its {@code CustomResourceDefinitionProcessor.getApiResources}); left to the mock.
   */
  private static final Pattern API_RESOURCES_PATH =
      Pattern.compile("/apis(/(?<group>[a-zA-Z0-9-_.]+))?(/(?<version>[a-zA-Z0-9-_]+))");

  private final IndexedStore store;
  private final Set<StoreWatch> watches = new CopyOnWriteArraySet<>();
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

  /**
   * The mock's latest resourceVersion, which lists report: its counter is private and only ever
   * advanced by {@link #requestResourceVersion}.
   */
  private final AtomicLong resourceVersion = new AtomicLong();

  /**
   * @throws IllegalStateException if the mock's store cannot be replaced, see {@link
   *     IndexedStore#install}
   */
  IndexedCrudDispatcher() {
    super();
    this.store = IndexedStore.install(this);
  }

  /** The store, for tests that check what its lookups examine. */
  IndexedStore store() {
    return store;
  }

  /** Runs a read under the shared lock. */
  protected final <T> T readLocked(Supplier<T> read) {
    return locked(lock.readLock(), read);
  }

  /**
   * Runs writes under the exclusive lock, so that no other request sees or changes the store in
   * between.
   *
   * @throws IllegalStateException if the thread holds only the shared lock, which cannot be
   *     upgraded
   */
  protected final <T> T writeLocked(Supplier<T> write) {
    if (lock.getReadHoldCount() > 0 && !lock.isWriteLockedByCurrentThread()) {
      throw new IllegalStateException("A write cannot run inside a read of the embedded store");
    }
    return locked(lock.writeLock(), write);
  }

  private static <T> T locked(Lock lock, Supplier<T> task) {
    lock.lock();
    try {
      return task.get();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public MockResponse handleCreate(RecordedRequest request) {
    return writeLocked(() -> super.handleCreate(request));
  }

  @Override
  public MockResponse handleUpdate(RecordedRequest request) {
    return writeLocked(() -> super.handleUpdate(request));
  }

  @Override
  public MockResponse handlePatch(RecordedRequest request) {
    return writeLocked(() -> super.handlePatch(request));
  }

  /** The mock's create, replace and patch find the object they change here. */
  @Override
  public Map.Entry<AttributeSet, String> findResource(AttributeSet attributes) {
    return store.first(attributes);
  }

  @Override
  public long requestResourceVersion() {
    long version = super.requestResourceVersion();
    resourceVersion.accumulateAndGet(version, Math::max);
    return version;
  }

  /** A get or list as the mock answers it, from the index; watches are left to the mock. */
  @Override
  public MockResponse handleGet(String path) {
    return readLocked(
        () -> {
          if (isWatch(path)) {
            return handleWatch(path);
          }
          AttributeSet query = attributeExtractor.fromPath(path);
          boolean named = query.containsKey(KubernetesAttributesExtractor.NAME);
          if (!named && API_RESOURCES_PATH.matcher(path).matches()) {
            return super.handleGet(path);
          }
          List<String> items = new ArrayList<>();
          store.matching(query).forEach(entry -> items.add(entry.getValue()));
          return respond(named, items);
        });
  }

  /**
   * A delete as the mock does it: objects without finalizers are removed, others are marked with a
   * deletionTimestamp (once); a name answers the object as it was, a collection the list.
   */
  @Override
  public MockResponse handleDelete(String path) {
    return writeLocked(
        () -> {
          AttributeSet query = attributeExtractor.fromPath(path);
          List<String> items = new ArrayList<>();
          for (Map.Entry<AttributeSet, String> entry : store.matching(query)) {
            items.add(entry.getValue());
            delete(path, query, entry.getKey(), entry.getValue());
          }
          return respond(query.containsKey(KubernetesAttributesExtractor.NAME), items);
        });
  }

  /** The mock's {@code processDelete}. */
  private void delete(String path, AttributeSet query, AttributeSet key, String json) {
    GenericKubernetesResource resource =
        Serialization.unmarshal(json, GenericKubernetesResource.class);
    if (resource.getFinalizers().isEmpty()) {
      processEvent(path, query, key, null, null);
      return;
    }
    if (!resource.isMarkedForDeletion()) {
      resource
          .getMetadata()
          .setDeletionTimestamp(
              ZonedDateTime.now(ZoneOffset.UTC)
                  .truncatedTo(ChronoUnit.SECONDS)
                  .format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));
      resource.getMetadata().setResourceVersion(String.valueOf(requestResourceVersion()));
      processEvent(path, query, key, resource, Serialization.asJson(resource));
    }
    // Marked for deletion already and still has finalizers: nothing to do.
  }

  private MockResponse respond(boolean named, List<String> items) {
    MockResponse response = new MockResponse();
    if (named) {
      if (items.isEmpty()) {
        return response.setResponseCode(HttpURLConnection.HTTP_NOT_FOUND);
      }
      return response.setResponseCode(HttpURLConnection.HTTP_OK).setBody(items.get(0));
    }
    return response
        .setResponseCode(HttpURLConnection.HTTP_OK)
        .setBody(
            ((KubernetesResponseComposer) getResponseComposer())
                .compose(items, String.valueOf(resourceVersion.get())));
  }

  /**
   * A watch served by this class rather than the mock: the mock's listener turns each event's
   * stored JSON into an object and back into JSON, once per open watch, and hands it to a thread of
   * its own; a fifth of the embedded server's time under load. The stored JSON is the object the
   * mock would send, so it goes out as is, in the API server's event envelope. Which objects a
   * watch sees and when (every matching object as ADDED on open, then each change) is the mock's.
   */
  @Override
  public MockResponse handleWatch(String path) {
    AttributeSet query = attributeExtractor.fromPath(path);
    String name = watchedName(path);
    if (name != null) {
      query = query.add(new Attribute(KubernetesAttributesExtractor.NAME, name));
    }
    return new MockResponse().withWebSocketUpgrade(new StoreWatch(query));
  }

  /** The name a watch's {@code fieldSelector=metadata.name=…} selects, as the mock reads it. */
  private static String watchedName(String path) {
    String query;
    try {
      query = new URI(path).getQuery();
    } catch (URISyntaxException e) {
      return null;
    }
    if (query == null) {
      return null;
    }
    String name = null;
    for (String parameter : query.split("&")) {
      if (parameter.contains("fieldSelector") && parameter.contains("metadata.name")) {
        String[] parts = parameter.split("=");
        name = parts[parts.length - 1];
      }
    }
    return name == null || name.isEmpty() ? null : name;
  }

  /**
   * Stores a change as the mock does, then tells the open watches: MODIFIED when the object matched
   * a watch before and after, DELETED (with the object as it was) when it left it, ADDED when it
   * entered it. Runs under the exclusive lock, so events leave in the order of the writes.
   */
  @Override
  public void processEvent(
      String path,
      AttributeSet pathAttributes,
      AttributeSet oldAttributes,
      GenericKubernetesResource resource,
      String newState) {
    String existing = oldAttributes == null ? null : store.get(oldAttributes);
    super.processEvent(path, pathAttributes, oldAttributes, resource, newState);
    if (Objects.equals(existing, newState)) {
      return;
    }
    AttributeSet newAttributes = newState == null ? null : store.lastPutKey();
    for (StoreWatch watch : watches) {
      boolean matchedOld = oldAttributes != null && oldAttributes.matches(watch.query);
      boolean matchesNew = newAttributes != null && newAttributes.matches(watch.query);
      if (matchedOld && matchesNew) {
        watch.send("MODIFIED", newState);
      } else if (matchedOld) {
        watch.send("DELETED", existing);
      } else if (matchesNew) {
        watch.send("ADDED", newState);
      }
    }
  }

  @Override
  public void reset() {
    writeLocked(
        () -> {
          super.reset();
          return null;
        });
  }

  /** The mock's {@code detectWatchMode}. */
  static boolean isWatch(String path) {
    try {
      String query = new URI(path).getQuery();
      return query != null && query.contains("watch=true");
    } catch (URISyntaxException e) {
      return false;
    }
  }

  /**
   * One open watch. On open it sends every matching object as ADDED and joins {@link #watches},
   * both under the shared lock, so no write falls between the two and none is sent twice.
   */
  private final class StoreWatch extends WebSocketListener {
    private final AttributeSet query;
    private volatile WebSocket socket;

    StoreWatch(AttributeSet query) {
      this.query = query;
    }

    /**
     * Queues the event on the socket; the web server writes it out on its own thread. A socket that
     * refuses it is closed and the watch leaves, so that its client watches again rather than miss
     * events without knowing.
     */
    void send(String type, String object) {
      boolean queued;
      try {
        queued = socket.send("{\"type\":\"" + type + "\",\"object\":" + object + "}");
      } catch (RuntimeException e) {
        queued = false;
      }
      if (!queued) {
        watches.remove(this);
        try {
          socket.close(1011, "watch event could not be sent");
        } catch (RuntimeException e) {
          // Closed already.
        }
      }
    }

    @Override
    public void onOpen(WebSocket webSocket, Response response) {
      socket = webSocket;
      readLocked(
          () -> {
            store.matching(query).forEach(entry -> send("ADDED", entry.getValue()));
            watches.add(this);
            return null;
          });
    }

    @Override
    public void onClosing(WebSocket webSocket, int code, String reason) {
      watches.remove(this);
      webSocket.close(code, reason);
    }

    @Override
    public void onClosed(WebSocket webSocket, int code, String reason) {
      watches.remove(this);
    }

    @Override
    public void onFailure(WebSocket webSocket, Throwable error, Response response) {
      watches.remove(this);
      webSocket.close(1000, error.getMessage());
    }
  }
}
