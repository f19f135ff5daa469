package io.vera.operator.embedded;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.vera.operator.task.FinishedTaskLabels;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded API server's objects in a SQLite database: one row per object (its stored JSON and
 * the attributes the mock files it under), written by one thread that commits every write queued
 * since its last commit in one transaction (group commit).
 *
 * <p>Durability: a writer gets a sequence number from {@link #put} or {@link #delete} and must not
 * answer its client before {@link #awaitCommitted} returns for it. The database runs in WAL mode;
 * with {@link Sync#NORMAL} (the default) a commit is in the operating system's hands when it
 * returns, so it survives the process being killed at any moment; a power loss or kernel crash can
 * lose the commits since the last WAL checkpoint but never corrupts the database. {@link Sync#FULL}
 * syncs the WAL on every commit, so nothing answered is lost to a power loss either, at the cost of
 * one disk sync per group commit.
 *
 * <p>Finished objects (VeraTasks whose phase is Succeeded, Failed or Cancelled) are flagged in
 * their row so that {@link IndexedStore} can drop them from memory and read them back from here;
 * {@link #finished} and {@link #finishedJson} serve those reads on a small pool of read
 * connections, which WAL lets run beside the writer.
 *
 * <p>Space: the database is created with {@code auto_vacuum=INCREMENTAL}; the writer returns free
 * pages to the file system once there are enough of them (deleted tasks), a bounded number per
 * step, between commits. The WAL is truncated back to {@link #JOURNAL_SIZE_LIMIT} after
 * checkpoints.
 */
final class SqliteObjects implements AutoCloseable {

  /** How a commit reaches the disk; see the class comment. */
  enum Sync {
    NORMAL,
    FULL
  }

  /** A change queued for the writer, and the order in which it was queued. */
  record Change(
      long seq,
      String id,
      String plural,
      String namespace,
      String name,
      long ord,
      String attrs,
      String json) {
    boolean isDelete() {
      return json == null;
    }
  }

  /** A stored object as read back. */
  record Row(String id, long ord, String attrs, String json) {}

  /**
   * What a query asks of one of the {@link #INDEXED_LABELS}: nothing, that the label is absent,
   * present, or has a value. The database narrows finished objects by it through an index; the
   * caller still tests each row against its whole query.
   */
  record LabelTest(Presence presence, String value) {
    enum Presence {
      ANY,
      ABSENT,
      PRESENT,
      EQUAL
    }

    static final LabelTest ANY = new LabelTest(Presence.ANY, null);
    static final LabelTest ABSENT = new LabelTest(Presence.ABSENT, null);
    static final LabelTest PRESENT = new LabelTest(Presence.PRESENT, null);

    static LabelTest equalTo(String value) {
      return new LabelTest(Presence.EQUAL, value);
    }

    /** Appends this test of a column to a WHERE clause, and its value to the parameters. */
    void appendTo(StringBuilder sql, String column, List<String> parameters) {
      switch (presence) {
        case ANY -> {}
        case ABSENT -> sql.append(" AND ").append(column).append(" IS NULL");
        case PRESENT -> sql.append(" AND ").append(column).append(" IS NOT NULL");
        case EQUAL -> {
          sql.append(" AND ").append(column).append(" = ?");
          parameters.add(value);
        }
      }
    }
  }

  /**
   * The labels kept as columns of their own, derived from each object's JSON by the database
   * (virtual generated columns, indexed): the operator's task informers watch {@code
   * !vera.io/finished}, history and the TTL sweep list {@code vera.io/finished=true} and {@code
   * vera.io/expires-at=<second>}. Without them every such query read every finished task from disk
   * to test its labels, which made a restart with 100,000 finished tasks take minutes.
   */
  static final Map<String, String> INDEXED_LABELS =
      Map.of(
          FinishedTaskLabels.FINISHED, "finished_label",
          FinishedTaskLabels.EXPIRES_AT, "expires_at");

  /** A committed write that left its object finished, so it may leave memory. */
  record Finished(String id, long seq) {}

  /** Told, on the writer thread, after each commit. */
  interface CommitListener {
    void committed(long seq, List<Finished> finished);
  }

  private static final Logger LOG = LoggerFactory.getLogger(SqliteObjects.class);
  private static final JsonFactory JSON = new JsonFactory();
  private static final long JOURNAL_SIZE_LIMIT = 64L * 1024 * 1024;
  private static final int READERS = 3;

  /** Free pages that make a vacuum step worthwhile, and how many one step returns. */
  private static final int VACUUM_MIN_FREE_PAGES = 1024;

  private static final int VACUUM_STEP_PAGES = 4096;
  private static final long VACUUM_INTERVAL_NANOS = 10_000_000_000L;

  /** Plurals whose finished objects leave memory. */
  static final Set<String> SPILLED_PLURALS = Set.of("veratasks");

  private final Path file;
  private final Connection writer;
  private final PreparedStatement upsert;
  private final PreparedStatement remove;
  private final PreparedStatement putMeta;
  private final BlockingQueue<Connection> readers = new ArrayBlockingQueue<>(READERS);
  private final Thread writerThread;

  private final Object queueLock = new Object();
  private LinkedHashMap<String, Change> queued = new LinkedHashMap<>();
  private long queuedSeq;
  private int openSections;
  private boolean closing;
  private boolean vacuumRequested;

  private final Object commitLock = new Object();
  private long committedSeq;
  private volatile RuntimeException failure;
  private long vacuumSteps;

  private volatile CommitListener listener = (seq, finished) -> {};
  private volatile Supplier<Map<String, String>> metaOnCommit = Map::of;
  private long lastVacuumCheck = System.nanoTime();
  private long transactions;
  private long writes;

  private SqliteObjects(Path file, Connection writer) throws SQLException {
    this.file = file;
    this.writer = writer;
    this.upsert =
        writer.prepareStatement(
            "INSERT INTO objects(id, plural, namespace, name, ord, finished, attrs, json)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
                + " plural = excluded.plural, namespace = excluded.namespace,"
                + " name = excluded.name, ord = excluded.ord, finished = excluded.finished,"
                + " attrs = excluded.attrs, json = excluded.json");
    this.remove = writer.prepareStatement("DELETE FROM objects WHERE id = ?");
    this.putMeta =
        writer.prepareStatement(
            "INSERT INTO meta(key, value) VALUES (?, ?)"
                + " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    this.writerThread = new Thread(this::writeLoop, "embedded-store-writer");
    this.writerThread.setDaemon(true);
  }

  /**
   * Opens (creating if needed) the database and starts its writer.
   *
   * @throws IllegalStateException when the file cannot be opened or written, with the reason
   */
  static SqliteObjects open(Path file, Sync sync) {
    String url = "jdbc:sqlite:" + file.toAbsolutePath();
    Connection writer = null;
    try {
      writer = DriverManager.getConnection(url);
      try (Statement s = writer.createStatement()) {
        // auto_vacuum takes effect only before the first table is created.
        s.execute("PRAGMA auto_vacuum = INCREMENTAL");
        s.execute("PRAGMA journal_mode = WAL");
        s.execute("PRAGMA synchronous = " + sync.name());
        s.execute("PRAGMA journal_size_limit = " + JOURNAL_SIZE_LIMIT);
        s.execute("PRAGMA busy_timeout = 5000");
        s.execute(
            "CREATE TABLE IF NOT EXISTS objects ("
                + " id TEXT PRIMARY KEY, plural TEXT NOT NULL, namespace TEXT NOT NULL,"
                + " name TEXT NOT NULL, ord INTEGER NOT NULL, finished INTEGER NOT NULL,"
                + " attrs TEXT NOT NULL, json TEXT NOT NULL)");
        addLabelColumns(s);
        s.execute("CREATE INDEX IF NOT EXISTS objects_by_name ON objects(plural, namespace, name)");
        s.execute("CREATE INDEX IF NOT EXISTS objects_in_order ON objects(plural, finished, ord)");
        s.execute(
            "CREATE INDEX IF NOT EXISTS objects_by_finished_label"
                + " ON objects(plural, finished, finished_label, ord)");
        s.execute(
            "CREATE INDEX IF NOT EXISTS objects_by_expiry"
                + " ON objects(plural, finished, expires_at, ord)");
        s.execute(
            "CREATE INDEX IF NOT EXISTS objects_unfinished ON objects(ord) WHERE finished = 0");
        s.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
      }
      writer.setAutoCommit(false);
      writer.commit();
      SqliteObjects objects = new SqliteObjects(file, writer);
      for (int i = 0; i < READERS; i++) {
        Connection reader = DriverManager.getConnection(url);
        try (Statement s = reader.createStatement()) {
          s.execute("PRAGMA busy_timeout = 5000");
        }
        objects.readers.add(reader);
      }
      objects.writerThread.start();
      return objects;
    } catch (SQLException e) {
      if (writer != null) {
        try {
          writer.close();
        } catch (SQLException ignored) {
          // Reported below.
        }
      }
      throw new IllegalStateException(
          "Cannot open the state database " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Adds the {@link #INDEXED_LABELS} columns to a database that lacks them: every database made
   * before they existed. They are virtual columns computed from each row's JSON, so nothing is
   * copied; creating their indexes right after reads every row once, on the first start of this
   * version only.
   */
  private static void addLabelColumns(Statement s) throws SQLException {
    List<String> columns = new ArrayList<>();
    try (ResultSet r = s.executeQuery("PRAGMA table_xinfo(objects)")) {
      while (r.next()) {
        columns.add(r.getString("name"));
      }
    }
    for (Map.Entry<String, String> label : INDEXED_LABELS.entrySet()) {
      if (!columns.contains(label.getValue())) {
        s.execute(
            "ALTER TABLE objects ADD COLUMN "
                + label.getValue()
                + " TEXT GENERATED ALWAYS AS (json_extract(json, '$.metadata.labels.\""
                + label.getKey()
                + "\"')) VIRTUAL");
      }
    }
  }

  /** Who is told of commits; set before the first write. */
  void onCommit(CommitListener listener) {
    this.listener = listener;
  }

  /** Values written to the meta table in every transaction (the latest resourceVersion, ...). */
  void metaOnCommit(Supplier<Map<String, String>> meta) {
    this.metaOnCommit = meta;
  }

  // ---- reading at start --------------------------------------------------------------------

  /** Every object that is kept in memory (not finished), in the order they were stored. */
  void readUnfinished(Consumer<Row> rows) {
    read(
        "SELECT id, ord, attrs, json FROM objects WHERE finished = 0 ORDER BY ord",
        statement -> {},
        rows);
  }

  /** How many finished objects the database holds. */
  long countFinished() {
    return withReader(
        c -> {
          try (Statement s = c.createStatement();
              ResultSet r = s.executeQuery("SELECT count(*) FROM objects WHERE finished = 1")) {
            return r.next() ? r.getLong(1) : 0L;
          }
        });
  }

  /** The highest order number stored, 0 when none. */
  long maxOrd() {
    return withReader(
        c -> {
          try (Statement s = c.createStatement();
              ResultSet r = s.executeQuery("SELECT coalesce(max(ord), 0) FROM objects")) {
            return r.next() ? r.getLong(1) : 0L;
          }
        });
  }

  /** The database's size in pages and how many of them are free, for tests and figures. */
  long[] pages() {
    return withReader(
        c -> {
          try (Statement s = c.createStatement()) {
            long[] pages = new long[2];
            try (ResultSet r = s.executeQuery("PRAGMA page_count")) {
              pages[0] = r.next() ? r.getLong(1) : 0;
            }
            try (ResultSet r = s.executeQuery("PRAGMA freelist_count")) {
              pages[1] = r.next() ? r.getLong(1) : 0;
            }
            return pages;
          }
        });
  }

  /** A value of the meta table; null when absent. */
  String meta(String key) {
    return withReader(
        c -> {
          try (PreparedStatement s = c.prepareStatement("SELECT value FROM meta WHERE key = ?")) {
            s.setString(1, key);
            try (ResultSet r = s.executeQuery()) {
              return r.next() ? r.getString(1) : null;
            }
          }
        });
  }

  /** Writes a meta value and waits until it is committed. */
  void putMetaAndWait(String key, String value) {
    long seq;
    synchronized (queueLock) {
      seq = ++queuedSeq;
      queued.put("\0meta:" + key, new Change(seq, key, null, null, null, 0, null, value));
      queueLock.notifyAll();
    }
    awaitCommitted(seq);
  }

  // ---- finished objects, read from disk ----------------------------------------------------

  /**
   * At most {@code limit} finished objects of a plural with an order above {@code after}, in order;
   * narrowed to a namespace and a name when they are not null, and by the tests of {@link
   * #INDEXED_LABELS} given (absent from the map: any).
   */
  List<Row> finished(
      String plural,
      String namespace,
      String name,
      Map<String, LabelTest> labels,
      long after,
      int limit) {
    LabelTest finishedLabel = labels.getOrDefault(FinishedTaskLabels.FINISHED, LabelTest.ANY);
    LabelTest expiresAt = labels.getOrDefault(FinishedTaskLabels.EXPIRES_AT, LabelTest.ANY);
    // Left to itself, SQLite may take the index in stored order (for the ORDER BY ... LIMIT) and
    // read every finished object of the plural to find the few asked for; so the index that
    // narrows the query most is named.
    String index;
    if (name != null) {
      index = " INDEXED BY objects_by_name";
    } else if (expiresAt.presence() == LabelTest.Presence.EQUAL) {
      index = " INDEXED BY objects_by_expiry";
    } else if (finishedLabel.presence() == LabelTest.Presence.EQUAL
        || finishedLabel.presence() == LabelTest.Presence.ABSENT) {
      index = " INDEXED BY objects_by_finished_label";
    } else {
      index = "";
    }
    StringBuilder sql =
        new StringBuilder("SELECT id, ord, attrs, json FROM objects")
            .append(index)
            .append(" WHERE plural = ? AND finished = 1");
    List<String> parameters = new ArrayList<>();
    parameters.add(plural);
    if (namespace != null) {
      sql.append(" AND namespace = ?");
      parameters.add(namespace);
    }
    if (name != null) {
      sql.append(" AND name = ?");
      parameters.add(name);
    }
    finishedLabel.appendTo(sql, INDEXED_LABELS.get(FinishedTaskLabels.FINISHED), parameters);
    expiresAt.appendTo(sql, INDEXED_LABELS.get(FinishedTaskLabels.EXPIRES_AT), parameters);
    if (after > 0) {
      sql.append(" AND ord > ?");
    }
    sql.append(" ORDER BY ord");
    if (limit != Integer.MAX_VALUE) {
      sql.append(" LIMIT ").append(limit);
    }
    List<Row> rows = new ArrayList<>();
    read(
        sql.toString(),
        statement -> {
          int i = 1;
          for (String parameter : parameters) {
            statement.setString(i++, parameter);
          }
          if (after > 0) {
            statement.setLong(i, after);
          }
        },
        rows::add);
    return rows;
  }

  /** The JSON of a finished object; null when there is none under that id. */
  String finishedJson(String id) {
    return withReader(
        c -> {
          try (PreparedStatement s =
              c.prepareStatement("SELECT json FROM objects WHERE id = ? AND finished = 1")) {
            s.setString(1, id);
            try (ResultSet r = s.executeQuery()) {
              return r.next() ? r.getString(1) : null;
            }
          }
        });
  }

  private interface Binder {
    void bind(PreparedStatement statement) throws SQLException;
  }

  private interface ReadWork<T> {
    T run(Connection connection) throws SQLException;
  }

  private void read(String sql, Binder binder, Consumer<Row> rows) {
    withReader(
        c -> {
          try (PreparedStatement s = c.prepareStatement(sql)) {
            binder.bind(s);
            try (ResultSet r = s.executeQuery()) {
              while (r.next()) {
                rows.accept(new Row(r.getString(1), r.getLong(2), r.getString(3), r.getString(4)));
              }
            }
          }
          return null;
        });
  }

  private <T> T withReader(ReadWork<T> work) {
    Connection connection;
    try {
      connection = readers.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("Interrupted while waiting for the state database", e);
    }
    try {
      return work.run(connection);
    } catch (SQLException e) {
      throw new IllegalStateException(
          "Cannot read the state database " + file + ": " + e.getMessage(), e);
    } finally {
      readers.add(connection);
    }
  }

  // ---- writing -----------------------------------------------------------------------------

  /** Queues an object's new state; returns the sequence number to wait for. */
  long put(
      String id,
      String plural,
      String namespace,
      String name,
      long ord,
      String attrs,
      String json) {
    synchronized (queueLock) {
      long seq = ++queuedSeq;
      queued.put(id, new Change(seq, id, plural, namespace, name, ord, attrs, json));
      queueLock.notifyAll();
      return seq;
    }
  }

  /** Queues an object's removal; returns the sequence number to wait for. */
  long delete(String id) {
    synchronized (queueLock) {
      long seq = ++queuedSeq;
      queued.put(id, new Change(seq, id, null, null, null, 0, null, null));
      queueLock.notifyAll();
      return seq;
    }
  }

  /**
   * Opens a write section: the changes queued until {@link #closeSection} go into one transaction
   * (with others perhaps), never split across two. The mock stores an update as the removal of the
   * old object followed by the put of the new one; committed apart, a kill in between would lose an
   * object whose creation was answered long ago.
   */
  void openSection() {
    synchronized (queueLock) {
      openSections++;
    }
  }

  /** Closes the section {@link #openSection} opened. */
  void closeSection() {
    synchronized (queueLock) {
      if (--openSections == 0) {
        queueLock.notifyAll();
      }
    }
  }

  /** The sequence number of the latest queued change. */
  long queuedSeq() {
    synchronized (queueLock) {
      return queuedSeq;
    }
  }

  /**
   * Waits until the change with this sequence number, and all before it, are committed.
   *
   * @throws IllegalStateException when the database can no longer be written
   */
  void awaitCommitted(long seq) {
    synchronized (commitLock) {
      while (committedSeq < seq) {
        if (failure != null) {
          throw failure;
        }
        try {
          commitLock.wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("Interrupted while waiting for a commit", e);
        }
      }
    }
  }

  /** The failure that stopped the writer, or null while it writes. */
  RuntimeException failure() {
    return failure;
  }

  /** Transactions and writes committed so far, for tests and figures. */
  synchronized long[] counts() {
    return new long[] {transactions, writes};
  }

  private void writeLoop() {
    while (true) {
      LinkedHashMap<String, Change> batch = null;
      long batchSeq = 0;
      boolean vacuum;
      synchronized (queueLock) {
        boolean ready = !queued.isEmpty() && openSections == 0;
        boolean closed = closing && openSections == 0;
        if (!ready && !closed && !vacuumRequested) {
          try {
            queueLock.wait(1000);
          } catch (InterruptedException e) {
            return;
          }
        }
        if (!queued.isEmpty() && openSections == 0) {
          batch = queued;
          batchSeq = queuedSeq;
          queued = new LinkedHashMap<>();
        } else if (closing && openSections == 0) {
          return;
        }
        vacuum = vacuumRequested || System.nanoTime() - lastVacuumCheck > VACUUM_INTERVAL_NANOS;
        vacuumRequested = false;
      }
      if (batch != null && !commitBatch(batch, batchSeq)) {
        return;
      }
      if (vacuum) {
        vacuumStep();
        synchronized (commitLock) {
          vacuumSteps++;
          commitLock.notifyAll();
        }
      }
    }
  }

  /** Commits a batch and releases its waiters; false when the database failed. */
  private boolean commitBatch(Map<String, Change> batch, long batchSeq) {
    List<Finished> finished;
    try {
      finished = commit(batch);
    } catch (SQLException | RuntimeException e) {
      failure =
          new IllegalStateException(
              "The state database " + file + " cannot be written: " + e.getMessage(), e);
      LOG.error("{}; writes are refused from now on", failure.getMessage());
      synchronized (commitLock) {
        commitLock.notifyAll();
      }
      return false;
    }
    synchronized (commitLock) {
      committedSeq = batchSeq;
      commitLock.notifyAll();
    }
    try {
      listener.committed(batchSeq, finished);
    } catch (RuntimeException e) {
      LOG.warn("after-commit work failed: {}", e.toString());
    }
    return true;
  }

  private List<Finished> commit(Map<String, Change> batch) throws SQLException {
    List<Finished> finished = new ArrayList<>();
    try {
      for (Change change : batch.values()) {
        if (change.plural() == null && change.json() != null) {
          putMeta.setString(1, change.id());
          putMeta.setString(2, change.json());
          putMeta.executeUpdate();
        } else if (change.isDelete()) {
          remove.setString(1, change.id());
          remove.executeUpdate();
        } else {
          boolean done = SPILLED_PLURALS.contains(change.plural()) && isFinishedTask(change.json());
          upsert.setString(1, change.id());
          upsert.setString(2, change.plural());
          upsert.setString(3, change.namespace());
          upsert.setString(4, change.name());
          upsert.setLong(5, change.ord());
          upsert.setInt(6, done ? 1 : 0);
          upsert.setString(7, change.attrs());
          upsert.setString(8, change.json());
          upsert.executeUpdate();
          if (done) {
            finished.add(new Finished(change.id(), change.seq()));
          }
        }
      }
      for (Map.Entry<String, String> meta : metaOnCommit.get().entrySet()) {
        putMeta.setString(1, meta.getKey());
        putMeta.setString(2, meta.getValue());
        putMeta.executeUpdate();
      }
      writer.commit();
    } catch (SQLException | RuntimeException e) {
      try {
        writer.rollback();
      } catch (SQLException ignored) {
        // The commit failure is what matters.
      }
      throw e;
    }
    synchronized (this) {
      transactions++;
      writes += batch.size();
    }
    return finished;
  }

  /**
   * Returns free pages to the file system when enough have piled up: a bounded step, so a large
   * delete does not hold the writer for long.
   */
  private void vacuumStep() {
    lastVacuumCheck = System.nanoTime();
    try (Statement s = writer.createStatement()) {
      long free;
      try (ResultSet r = s.executeQuery("PRAGMA freelist_count")) {
        free = r.next() ? r.getLong(1) : 0;
      }
      if (free >= VACUUM_MIN_FREE_PAGES) {
        // The pragma frees one page per step of its statement and answers rows without columns,
        // which the driver's executeQuery refuses and its execute steps only once: so one page
        // per statement, each stepped once.
        long pages = Math.min(free, VACUUM_STEP_PAGES);
        for (long i = 0; i < pages; i++) {
          try (Statement step = writer.createStatement()) {
            step.execute("PRAGMA incremental_vacuum(1)");
          }
        }
        writer.commit();
        LOG.debug("returned up to {} of {} free pages to the file system", VACUUM_STEP_PAGES, free);
      }
    } catch (SQLException e) {
      LOG.warn("incremental vacuum of {} failed: {}", file, e.getMessage());
    }
  }

  /** Has the writer run a vacuum step now and waits for it, for tests of space reclamation. */
  void vacuumNow() {
    long before;
    synchronized (commitLock) {
      before = vacuumSteps;
    }
    synchronized (queueLock) {
      vacuumRequested = true;
      queueLock.notifyAll();
    }
    synchronized (commitLock) {
      while (vacuumSteps == before && failure == null) {
        try {
          commitLock.wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  /** Whether a VeraTask's JSON has a finished phase; reads only as far as {@code status.phase}. */
  static boolean isFinishedTask(String json) {
    try (JsonParser parser = JSON.createParser(json)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return false;
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        if ("status".equals(field) && value == JsonToken.START_OBJECT) {
          while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String statusField = parser.currentName();
            JsonToken statusValue = parser.nextToken();
            if ("phase".equals(statusField)) {
              if (statusValue != JsonToken.VALUE_STRING) {
                return false;
              }
              String phase = parser.getText();
              return phase.equals("Succeeded")
                  || phase.equals("Failed")
                  || phase.equals("Cancelled");
            }
            parser.skipChildren();
          }
          return false;
        }
        parser.skipChildren();
      }
      return false;
    } catch (IOException e) {
      return false;
    }
  }

  /** Commits what is queued, stops the writer and closes the database. */
  @Override
  public void close() {
    synchronized (queueLock) {
      closing = true;
      queueLock.notifyAll();
    }
    try {
      writerThread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    List<Connection> all = new ArrayList<>();
    readers.drainTo(all);
    all.add(writer);
    for (Connection connection : all) {
      try {
        connection.close();
      } catch (SQLException e) {
        LOG.debug("closing {}: {}", file, e.getMessage());
      }
    }
  }
}
