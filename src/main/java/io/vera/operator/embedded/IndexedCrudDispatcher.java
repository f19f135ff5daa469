package io.vera.operator.embedded;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.server.mock.KubernetesAttributesExtractor;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesResponseComposer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.kubernetes.client.utils.Utils;
import io.fabric8.mockwebserver.crud.Attribute;
import io.fabric8.mockwebserver.crud.AttributeSet;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.lang.reflect.Field;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
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
 * <p>Durable mode ({@link #loadDurable}): the store writes through to SQLite. A request is answered
 * only once every change it made or saw is committed ({@link #awaitDurable}, called by the
 * outermost dispatch after the locks are released, so that concurrent requests share one commit).
 * resourceVersions continue from the highest one stored; a watch asking to resume from a version
 * older than the start of this process is answered 410 Gone, as an API server answers a version it
 * no longer has, so that its client lists again. Finished tasks leave memory a moment after their
 * commit ({@link IndexedStore#spill}), under the exclusive lock. Watch events go out when a change
 * is made, before its commit: a watcher may see a change that a crash then loses, together with the
 * request that made it, which was never answered.
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

  /** Added to the mock's counter, which starts at 0 in every process: the highest stored. */
  private volatile long resourceVersionBase;

  /** The oldest resourceVersion a watch may resume from: none before this process started. */
  private volatile long oldestWatchableVersion;

  /** The oldest resourceVersion a watch may resume from; older ones are answered 410 Gone. */
  final long oldestWatchableVersion() {
    return oldestWatchableVersion;
  }

  private SqliteObjects disk;
  private ScheduledExecutorService spiller;

  /**
   * The sequence number of the latest change a request of this thread made or saw; the request is
   * answered once it is committed.
   */
  private final ThreadLocal<long[]> visibleChange = ThreadLocal.withInitial(() -> new long[1]);

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
    return locked(
        lock.writeLock(),
        () -> {
          // The outermost write is one section of the database: committed whole or not at all.
          SqliteObjects section = lock.getWriteHoldCount() == 1 ? disk : null;
          if (section != null) {
            section.openSection();
          }
          try {
            return write.get();
          } finally {
            if (section != null) {
              section.closeSection();
            }
          }
        });
  }

  private <T> T locked(Lock lock, Supplier<T> task) {
    lock.lock();
    try {
      return task.get();
    } finally {
      SqliteObjects database = disk;
      if (database != null) {
        // Under the lock, the latest queued change is one this request made or could see.
        long[] visible = visibleChange.get();
        visible[0] = Math.max(visible[0], database.queuedSeq());
      }
      lock.unlock();
    }
  }

  /**
   * Fills the store from a database and writes every change through to it from now on; called once,
   * before the dispatcher serves. Also continues resourceVersions and the mock's UIDs from where
   * the stored objects left them, and starts moving finished tasks out of memory.
   */
  final void loadDurable(SqliteObjects database) {
    writeLocked(
        () -> {
          String storedVersion = database.meta(META_RESOURCE_VERSION);
          resourceVersionBase = storedVersion == null ? 0 : Long.parseLong(storedVersion);
          oldestWatchableVersion = resourceVersionBase;
          resourceVersion.set(resourceVersionBase);
          String storedUid = database.meta(META_UID_COUNTER);
          if (storedUid != null) {
            UID_COUNTER.accumulateAndGet(Long.parseLong(storedUid), Math::max);
          }
          store.load(
              database,
              crd ->
                  processEvent(
                      CRDS_PATH + "/" + crd.id().substring(crd.id().lastIndexOf('/') + 1),
                      attributeExtractor.fromPath(CRDS_PATH),
                      null,
                      null,
                      crd.json()));
          disk = database;
          return null;
        });
    database.metaOnCommit(
        () ->
            Map.of(
                META_RESOURCE_VERSION, String.valueOf(resourceVersion.get()),
                META_UID_COUNTER, String.valueOf(UID_COUNTER.get())));
    database.onCommit(store::committed);
    spiller =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread thread = new Thread(r, "embedded-store-spill");
              thread.setDaemon(true);
              return thread;
            });
    spiller.scheduleWithFixedDelay(this::spillFinished, 100, 100, TimeUnit.MILLISECONDS);
  }

  /**
   * Moves finished tasks committed a moment ago out of memory; see {@link IndexedStore#spill} and
   * {@link IndexedStore#SPILL_GRACE_NANOS}.
   */
  final int spillFinished() {
    return spillFinished(IndexedStore.SPILL_GRACE_NANOS);
  }

  /** Moves finished tasks committed at least {@code graceNanos} ago out of memory. */
  final int spillFinished(long graceNanos) {
    if (!store.hasSpillWork(graceNanos)) {
      return 0;
    }
    return writeLocked(() -> store.spill(graceNanos));
  }

  /**
   * Waits until every change the current request made or saw is committed; a no-op in memory.
   * Called with no lock held.
   *
   * @throws IllegalStateException when the database can no longer be written
   */
  final void awaitDurable() {
    SqliteObjects database = disk;
    if (database == null) {
      return;
    }
    long[] visible = visibleChange.get();
    long seq = visible[0];
    visible[0] = 0;
    if (seq > 0) {
      database.awaitCommitted(seq);
    }
  }

  /** Stops moving finished tasks out of memory; the database is closed by its owner. */
  void stopDurable() {
    if (spiller != null) {
      spiller.shutdownNow();
    }
  }

  private static final String META_RESOURCE_VERSION = "resourceVersion";
  private static final String META_UID_COUNTER = "uidCounter";
  private static final String CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

  /**
   * fabric8's {@code Utils.generateId} counter, which the mock's UIDs are made from: it starts at 0
   * in every process, so a restarted store would hand out the UIDs of stored objects again. Read by
   * reflection, as {@link IndexedStore#install} reads the mock's map; checked once.
   */
  private static final AtomicLong UID_COUNTER = uidCounter();

  private static AtomicLong uidCounter() {
    try {
      Field field = Utils.class.getDeclaredField("leastSigBits");
      field.setAccessible(true);
      return (AtomicLong) field.get(null);
    } catch (NoSuchFieldException | IllegalAccessException | RuntimeException e) {
      throw new IllegalStateException(
          "Cannot continue the embedded API server's UIDs: fabric8's Utils no longer counts them"
              + " in the field 'leastSigBits' this version expects",
          e);
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
    long version = resourceVersionBase + super.requestResourceVersion();
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
          Optional<Integer> limit = named ? Optional.empty() : limitOf(path);
          if (limit.isPresent()) {
            return respondPage(query, path, limit.get());
          }
          List<String> items = new ArrayList<>();
          store.matching(query).forEach(entry -> items.add(entry.getValue()));
          return respond(named, items);
        });
  }

  /**
   * A list with {@code limit} (and {@code continue}): one page, in stored order, with a continue
   * token when there is more, as the API server pages a list. The mock answers whole lists.
   */
  private MockResponse respondPage(AttributeSet query, String path, int limit) {
    long after = 0;
    String token = parameter(path, "continue");
    if (token != null && !token.isEmpty()) {
      try {
        after =
            Long.parseLong(
                new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8));
      } catch (IllegalArgumentException e) {
        return new MockResponse()
            .setResponseCode(HttpURLConnection.HTTP_BAD_REQUEST)
            .setBody(
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                    + "\"message\":\"continue key is not valid\",\"reason\":\"BadRequest\","
                    + "\"code\":400}");
      }
    }
    IndexedStore.Page page = store.page(query, after, limit);
    StringBuilder body = new StringBuilder("{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[");
    for (int i = 0; i < page.items().size(); i++) {
      body.append(i == 0 ? "" : ",").append(page.items().get(i).json());
    }
    body.append("],\"metadata\":{\"resourceVersion\":\"").append(resourceVersion.get()).append('"');
    if (page.hasMore()) {
      body.append(",\"continue\":\"")
          .append(
              Base64.getUrlEncoder()
                  .withoutPadding()
                  .encodeToString(
                      String.valueOf(page.continueAfter()).getBytes(StandardCharsets.UTF_8)))
          .append('"');
    }
    body.append("}}");
    return new MockResponse().setResponseCode(HttpURLConnection.HTTP_OK).setBody(body.toString());
  }

  /** The {@code limit} of a list request, when it asks for a positive one. */
  private static Optional<Integer> limitOf(String path) {
    String limit = parameter(path, "limit");
    if (limit == null) {
      return Optional.empty();
    }
    try {
      int value = Integer.parseInt(limit);
      return value > 0 ? Optional.of(value) : Optional.empty();
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** A query parameter of a request path, decoded; null when absent. */
  static String parameter(String path, String name) {
    int start = path.indexOf('?');
    if (start < 0) {
      return null;
    }
    for (String parameter : path.substring(start + 1).split("&")) {
      int equals = parameter.indexOf('=');
      String key = equals < 0 ? parameter : parameter.substring(0, equals);
      if (key.equals(name)) {
        return equals < 0
            ? ""
            : URLDecoder.decode(parameter.substring(equals + 1), StandardCharsets.UTF_8);
      }
    }
    return null;
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
    String from = parameter(path, "resourceVersion");
    if (from != null && from.matches("[0-9]{1,18}")) {
      long version = Long.parseLong(from);
      if (version > 0 && version < oldestWatchableVersion) {
        return new MockResponse().withWebSocketUpgrade(new GoneWatch(version));
      }
    }
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
   * A watch from a resourceVersion this store has no events for (it precedes the start of this
   * process): answered as the API server does, with an ERROR event carrying a 410 Expired Status,
   * after which clients list again.
   */
  private final class GoneWatch extends WebSocketListener {
    private final long requested;

    GoneWatch(long requested) {
      this.requested = requested;
    }

    @Override
    public void onOpen(WebSocket webSocket, Response response) {
      webSocket.send(
          "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
              + "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: "
              + requested
              + " ("
              + oldestWatchableVersion
              + ")\",\"reason\":\"Expired\",\"code\":410}}");
      // The client closes the watch when it reads the event; closing first could reach it first.
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
