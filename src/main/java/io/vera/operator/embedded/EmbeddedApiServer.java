package io.vera.operator.embedded;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.Provider;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.WorkerPool;
import io.vera.operator.kube.TolerantReads;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;

/**
 * An in-process Kubernetes API server for embedded mode, where there is no cluster: fabric8's CRUD
 * {@link KubernetesMockServer} on 127.0.0.1, extended so that kubectl can use it.
 *
 * <p>The mock's store is indexed by plural, namespace and name ({@link IndexedCrudDispatcher}):
 * getting, creating, replacing, patching or deleting one object costs the same with ten thousand
 * finished tasks stored as with none, and a list costs in proportion to its kind and namespace.
 *
 * <p>{@link #startDurable} keeps the objects in a SQLite database in a locked state directory
 * ({@link StateDirectory}, {@link SqliteObjects}): a write is answered once committed, a restart
 * serves what was stored, and finished tasks are read from disk rather than held in memory. {@link
 * #start} keeps them in memory only ({@code --ephemeral}, tests). See docs/embedded-mode.md.
 *
 * <p>What the CRUD mock does with a custom resource once its CRD is installed (checked by {@code
 * CustomResourceSemanticsTest}):
 *
 * <ul>
 *   <li>(a) {@code /status} is a subresource: the mock learns it from the stored CRD. A PUT or
 *       PATCH to {@code /status} changes only {@code status}; a write to the object keeps the
 *       stored status; a create drops it. Built-in kinds get no such protection.
 *   <li>(b) {@code metadata.generation} starts at 1 and is bumped only by changes outside {@code
 *       metadata} and {@code status}.
 *   <li>(c) JSON merge patch is accepted, on {@code /status} too, but the mock does not follow RFC
 *       7386: it stores null members instead of removing them and appends to arrays instead of
 *       replacing them (a status patch would pile up {@code conditions}). The dispatcher here
 *       merges itself and hands the mock the equivalent JSON patch.
 *   <li>(d) {@code /scale} is not served: the mock treats it as the object itself. The dispatcher
 *       here serves it from the CRD's {@code subresources.scale} paths as an {@code autoscaling/v1}
 *       Scale (GET, PUT, merge and JSON patch), also for Deployments and ReplicaSets.
 * </ul>
 *
 * <p>It also serves {@code /version}, legacy discovery ({@code /api}, {@code /apis} and their group
 * versions; kubectl falls back to it from aggregated discovery), for custom resources the
 * server-side Tables kubectl prints printer columns from, validation against the CRD schemas
 * ({@link CustomResourceAdmission}), {@code /openapi/v3} ({@link OpenApiDocuments}), watches over
 * plain HTTP resumed from a resourceVersion ({@link HttpWatchServer}, {@link ResumableWatch}) and
 * field selectors on any field ({@link FieldSelector}) and a simplified server-side apply. It
 * rejects protobuf bodies with 415. What kubectl can do against it, and what differs from a
 * cluster: {@code docs/kubectl.md}.
 */
public final class EmbeddedApiServer implements AutoCloseable, InProcessHttpClient.Server {

  private static final List<Class<? extends HasMetadata>> CUSTOM_RESOURCES =
      List.of(VeraTask.class, WorkerPool.class, ComputeResource.class, Provider.class);

  private static final String META_INSTALLATION_ID = "installationId";

  private final EmbeddedDispatcher dispatcher;
  private final StateDirectory stateDirectory;
  private final SqliteObjects database;
  private final String ephemeralInstallationId = UUID.randomUUID().toString();
  private final int port;
  private HttpWatchServer server;
  private volatile boolean serving = true;
  private final KubernetesClient client;

  private EmbeddedApiServer(
      HttpWatchServer server,
      EmbeddedDispatcher dispatcher,
      StateDirectory stateDirectory,
      SqliteObjects database) {
    this.server = server;
    this.dispatcher = dispatcher;
    this.stateDirectory = stateDirectory;
    this.database = database;
    this.port = server.port();
    this.client =
        new KubernetesClientBuilder()
            .withHttpClientFactory(new InProcessHttpClient.Factory(this))
            .withKubernetesSerialization(TolerantReads.serialization())
            .withConfig(
                new ConfigBuilder(Config.empty())
                    .withMasterUrl(url())
                    .withNamespace("default")
                    .withHttp2Disable(true)
                    .build())
            .build();
  }

  /**
   * Starts a server on 127.0.0.1 that keeps its objects in memory only ({@code --ephemeral},
   * tests).
   *
   * @param port the port to listen on; 0 picks a free one, see {@link #port()}
   * @throws IllegalStateException if the port cannot be bound
   */
  public static EmbeddedApiServer start(int port) {
    return start(port, request -> Optional.empty());
  }

  /**
   * Starts an in-memory server on 127.0.0.1 that lets {@code override} answer requests first; tests
   * use it to answer what the CRUD mock cannot, such as TokenReviews and SubjectAccessReviews.
   */
  public static EmbeddedApiServer start(
      int port, Function<RecordedRequest, Optional<MockResponse>> override) {
    checkPort(port);
    // Nothing records requests: the dispatcher is served by HttpWatchServer, not MockWebServer.
    EmbeddedDispatcher dispatcher = new EmbeddedDispatcher(() -> {}, override);
    return new EmbeddedApiServer(listen(port, dispatcher), dispatcher, null, null);
  }

  /**
   * Starts a server on 127.0.0.1 whose objects live in a SQLite database in {@code stateDirectory}
   * (see {@link SqliteObjects}): what it held when it last stopped, however it stopped, is served
   * again. The directory is locked for as long as the server runs.
   *
   * @param syncEveryCommit sync the database's log to the disk on every commit, so that a power
   *     loss loses nothing answered either; otherwise only a process crash is covered
   * @throws IllegalStateException if the directory cannot be used (not writable, full, locked by
   *     another operator) or the port cannot be bound; the message says which
   */
  public static EmbeddedApiServer startDurable(
      int port, Path stateDirectory, boolean syncEveryCommit) {
    checkPort(port);
    StateDirectory directory = StateDirectory.open(stateDirectory);
    SqliteObjects database = null;
    try {
      database =
          SqliteObjects.open(
              directory.databaseFile(),
              syncEveryCommit ? SqliteObjects.Sync.FULL : SqliteObjects.Sync.NORMAL);
      EmbeddedDispatcher dispatcher = new EmbeddedDispatcher(() -> {}, request -> Optional.empty());
      dispatcher.loadDurable(database);
      return new EmbeddedApiServer(listen(port, dispatcher), dispatcher, directory, database);
    } catch (RuntimeException e) {
      if (database != null) {
        database.close();
      }
      directory.close();
      throw e;
    }
  }

  private static void checkPort(int port) {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("Port must be between 0 and 65535, not " + port);
    }
  }

  private static HttpWatchServer listen(int port, EmbeddedDispatcher dispatcher) {
    try {
      return HttpWatchServer.listen(port, dispatcher::dispatch);
    } catch (IllegalStateException e) {
      throw new IllegalStateException(
          "Cannot start the embedded API server on 127.0.0.1:" + port + ": " + e.getMessage(), e);
    }
  }

  /**
   * Stops answering, as an API server that went down would: the port is closed and open connections
   * (watches too) are dropped. The stored objects stay; {@link #resume} serves them again on the
   * same port. For fault tests.
   */
  public synchronized void suspend() {
    serving = false;
    server.close();
  }

  /**
   * Serves again, on the same port and with the same objects, after {@link #suspend}.
   *
   * @throws IllegalStateException if the port cannot be bound again
   */
  public synchronized void resume() {
    server = listen(port, dispatcher);
    serving = true;
  }

  /**
   * Answers a request of {@link #client()} in-process, as the server would over HTTP.
   *
   * @throws ConnectException while suspended, as the closed port would refuse it
   */
  @Override
  public MockResponse answer(RecordedRequest request) throws ConnectException {
    if (!serving) {
      throw new ConnectException("Connection refused: the embedded API server is not serving");
    }
    return dispatcher.dispatch(request);
  }

  /**
   * Creates or updates the CRDs of Vera's four custom resources from the YAML the build generates
   * into {@code META-INF/fabric8/}; safe to call again.
   *
   * @throws IllegalStateException if a CRD file is missing from the classpath
   */
  public void installCrds() {
    for (Class<? extends HasMetadata> type : CUSTOM_RESOURCES) {
      String file = "META-INF/fabric8/" + HasMetadata.getFullResourceName(type) + "-v1.yml";
      try (InputStream in = EmbeddedApiServer.class.getClassLoader().getResourceAsStream(file)) {
        if (in == null) {
          throw new IllegalStateException(
              file + " is not on the classpath; the build's crd-generator-maven-plugin writes it");
        }
        CustomResourceDefinition crd =
            client.apiextensions().v1().customResourceDefinitions().load(in).item();
        client.resource(crd).createOr(NonDeletingOperation::update);
      } catch (IOException e) {
        throw new UncheckedIOException("Cannot read " + file, e);
      }
    }
  }

  /**
   * A client of this server, in namespace {@code default}, that is answered in-process (watches
   * excepted, see {@link InProcessHttpClient}); closed with the server.
   */
  public KubernetesClient client() {
    return client;
  }

  /** The server's base URL, {@code http://127.0.0.1:<port>}. */
  public String url() {
    return "http://127.0.0.1:" + port();
  }

  /** The port the server listens on. */
  public int port() {
    return port;
  }

  /**
   * The id of this installation: created once per state directory and kept in it, so a restarted
   * operator adopts its own machines and operators with different state directories never take each
   * other's; a fresh one per server when nothing is kept.
   */
  public String installationId() {
    if (database == null) {
      return ephemeralInstallationId;
    }
    synchronized (this) {
      String stored = database.meta(META_INSTALLATION_ID);
      if (stored == null) {
        stored = UUID.randomUUID().toString();
        database.putMetaAndWait(META_INSTALLATION_ID, stored);
      }
      return stored;
    }
  }

  /** The state directory, or empty when objects are kept in memory only. */
  public Optional<Path> stateDirectory() {
    return Optional.ofNullable(stateDirectory).map(StateDirectory::path);
  }

  /** The dispatcher, for tests of what the store keeps in memory. */
  EmbeddedDispatcher dispatcher() {
    return dispatcher;
  }

  /** The database, null in memory; for tests. */
  SqliteObjects database() {
    return database;
  }

  /**
   * Closes the client and stops the server; in durable mode commits what is queued, closes the
   * database and releases the state directory.
   */
  @Override
  public void close() {
    try {
      client.close();
    } finally {
      synchronized (this) {
        server.close();
      }
      dispatcher.stopDurable();
      if (database != null) {
        database.close();
      }
      if (stateDirectory != null) {
        stateDirectory.close();
      }
    }
  }
}
