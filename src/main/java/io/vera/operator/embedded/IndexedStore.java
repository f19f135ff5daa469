package io.vera.operator.embedded;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.server.mock.KubernetesAttributesExtractor;
import io.fabric8.mockwebserver.crud.Attribute;
import io.fabric8.mockwebserver.crud.AttributeSet;
import io.fabric8.mockwebserver.crud.AttributeType;
import io.fabric8.mockwebserver.crud.CrudDispatcher;
import io.fabric8.mockwebserver.crud.Key;
import io.fabric8.mockwebserver.crud.Value;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The CRUD mock's store, {@code AttributeSet -> JSON}, with an index by plural, namespace and name.
 *
 * <p>fabric8's {@link CrudDispatcher} keeps every object in one map keyed by the object's
 * attributes (plural, api, version, namespace, name, labels, ...) and finds objects by testing
 * every key with {@link AttributeSet#matches}, so each request costs time in proportion to all
 * stored objects. This map holds the same entries, in the same order, and {@link
 * #matching(AttributeSet)} tests only the keys that can match a query: a key matches a query only
 * if it has each of the query's {@code WITH} attributes, so a query naming a plural (and perhaps a
 * namespace and a name) need only look at the keys filed under that plural (and namespace and
 * name). Those candidates are then tested with {@link AttributeSet#matches} as the mock does, so
 * the result is the mock's, in the mock's order.
 *
 * <p>Every change goes through {@link #put} and {@link #remove} (also the entry-set iterator's
 * remove and {@link #clear}), so the index cannot drift from the entries whoever changes them: this
 * map replaces the mock's own, see {@link #install}.
 *
 * <p>Durable mode ({@link #load}): every put and remove is also queued for {@link SqliteObjects},
 * whose sequence number the request waits for before it is answered (see {@link
 * IndexedCrudDispatcher}). Finished VeraTasks leave memory once their latest state is committed
 * ({@link #spill}); {@link #matching}, {@link #first}, {@link #page}, {@link #get} and {@link
 * #remove} then read them from the database, so the heap holds only the objects still at work. The
 * map's views ({@link #entrySet}, {@link #size} excepted) cover only what is in memory; every
 * lookup the dispatcher makes goes through the methods above.
 *
 * <p>Thread safety: single operations are synchronized on this map, as {@link
 * java.util.Collections#synchronizedMap} is and as the mock expects ({@code synchronized (map)}).
 * Iterating a view is not; callers hold the dispatcher's lock, as they must with the mock's map.
 */
final class IndexedStore extends AbstractMap<AttributeSet, String> {

  private static final String PLURAL = KubernetesAttributesExtractor.PLURAL;
  private static final String NAMESPACE = KubernetesAttributesExtractor.NAMESPACE;
  private static final String NAME = KubernetesAttributesExtractor.NAME;
  private static final String WILDCARD = "*";

  /** How the mock names a label's attribute in keys and queries. */
  private static final String LABEL_PREFIX = "labels:";

  /**
   * The entries in memory, in the mock's order: insertion order, as the mock's {@link
   * LinkedHashMap}.
   */
  private final LinkedHashMap<AttributeSet, Stored> entries = new LinkedHashMap<>();

  /**
   * Keys filed under plural, plural + namespace, plural + name and plural + namespace + name; a
   * null component means any. Each set keeps the keys in the order of {@link #entries}: keys are
   * added when they enter the map and removed when they leave it, as there.
   */
  private final Map<Bucket, Set<AttributeSet>> buckets = new HashMap<>();

  /**
   * Keys whose plural, namespace or name is {@code *}: {@code Value} treats {@code *} as equal to
   * anything, so such a key could match a query filed elsewhere. While there are any, every query
   * scans all entries. The API server accepts no such names; this keeps the mock's answer anyway.
   */
  private int wildcardKeys;

  private long examinedKeys;
  private long fullScans;

  /** The key of the latest {@link #put}, for the dispatcher's watch events. */
  private AttributeSet lastPutKey;

  /** The order of the latest new key: entries, in memory or on disk, are listed in this order. */
  private long lastOrd;

  /** The database behind this map; null for an in-memory store. */
  private SqliteObjects disk;

  /** The id (see {@link #idOf}) of each key in memory, durable mode only. */
  private final Map<String, AttributeSet> inMemory = new HashMap<>();

  /**
   * Finished objects that were on disk only and have been removed, with the sequence number of
   * their queued delete: until it is committed, the database still shows them.
   */
  private final Map<String, Long> removedFromDisk = new HashMap<>();

  /** Objects on disk only (finished, spilled). */
  private long onDiskOnly;

  /**
   * How long a finished object stays in memory after its finished state is committed: the writes
   * that follow a task's end (the operator marks it finished right after its status, the reconciler
   * looks at it once more) then find it in memory instead of reading it back from disk under the
   * exclusive lock. Memory grows by the tasks finished in this time, not by history.
   */
  static final long SPILL_GRACE_NANOS = 2_000_000_000L;

  /** A committed finished state waiting to leave memory, with the time of its commit. */
  private record Spillable(String id, long seq, long committedAtNanos) {}

  /** Finished states committed and not yet spilled, in commit order; and the latest commit. */
  private final ArrayDeque<Spillable> committedFinished = new ArrayDeque<>();

  private long committedSeq;

  /** While true, puts are not written to disk: the store is being filled from it. */
  private boolean loading;

  private record Bucket(Attribute plural, Attribute namespace, Attribute name) {}

  /** An entry in memory: its JSON, its order and the sequence number of its latest write. */
  private record Stored(String json, long ord, long seq) {}

  /** A lookup's result with its order, to merge memory and disk. */
  record Found(AttributeSet key, String json, long ord) {}

  /** A page of a list: the objects, and the order to continue after when there are more. */
  record Page(List<Found> items, long continueAfter) {
    boolean hasMore() {
      return continueAfter > 0;
    }
  }

  private IndexedStore() {}

  /**
   * Replaces the mock's store with an empty {@code IndexedStore}.
   *
   * <p>{@link CrudDispatcher} keeps its store in {@code protected final Map<AttributeSet, String>
   * map}, created in its constructor, and offers no way to supply another. This is the one place
   * that reaches into the mock: it sets that field, right after construction and before the
   * dispatcher is used or shared, and checks that it took.
   *
   * @throws IllegalStateException if the mock no longer has the field as described, or if the
   *     dispatcher already stores objects; embedded mode then fails at startup instead of running
   *     unindexed
   */
  static IndexedStore install(CrudDispatcher dispatcher) {
    IndexedStore store = new IndexedStore();
    try {
      Field field = CrudDispatcher.class.getDeclaredField("map");
      if (!Map.class.equals(field.getType()) || Modifier.isStatic(field.getModifiers())) {
        throw new IllegalStateException(
            "CrudDispatcher.map is no longer an instance field of type Map but "
                + field.getType().getName());
      }
      field.setAccessible(true);
      Object current = field.get(dispatcher);
      if (!(current instanceof Map<?, ?> map) || !map.isEmpty()) {
        throw new IllegalStateException("CrudDispatcher.map is not an empty map at installation");
      }
      field.set(dispatcher, store);
    } catch (NoSuchFieldException | IllegalAccessException | RuntimeException e) {
      throw new IllegalStateException(
          "Cannot index the embedded API server's store: fabric8's CrudDispatcher no longer keeps"
              + " its objects in the field 'map' this version expects ("
              + e.getMessage()
              + "). IndexedStore.install needs updating to the fabric8 mockwebserver in use.",
          e);
    }
    if (dispatcher.getMap() != store) {
      throw new IllegalStateException(
          "Cannot index the embedded API server's store: CrudDispatcher.getMap() does not return"
              + " the store set in CrudDispatcher.map");
    }
    return store;
  }

  /**
   * The entries whose keys match a query, in the mock's order, as the mock finds them by testing
   * every key; only the keys filed under the query's plural, namespace and name are tested.
   */
  List<Map.Entry<AttributeSet, String>> matching(AttributeSet query) {
    List<Map.Entry<AttributeSet, String>> found = new ArrayList<>();
    for (Found item : page(query, 0, Integer.MAX_VALUE).items()) {
      found.add(new SimpleImmutableEntry<>(item.key(), item.json()));
    }
    return found;
  }

  /**
   * At most {@code limit} of the entries matching a query, in order, after the one of order {@code
   * after} (0 for the first page); finished objects are read from disk a page at a time.
   */
  Page page(AttributeSet query, long after, int limit) {
    List<Found> inMemoryFound = new ArrayList<>();
    synchronized (this) {
      Collection<AttributeSet> candidates = candidates(query);
      examinedKeys += candidates.size();
      for (AttributeSet key : candidates) {
        Stored stored = entries.get(key);
        if (stored.ord() > after && key.matches(query)) {
          inMemoryFound.add(new Found(key, stored.json(), stored.ord()));
        }
      }
    }
    inMemoryFound.sort(Comparator.comparingLong(Found::ord));
    // An object found in memory by plural, namespace and name is the only one with that id.
    DiskPage disk =
        !inMemoryFound.isEmpty() && namesOneObject(query)
            ? DiskPage.NONE
            : onDisk(query, after, limit);
    List<Found> onDisk = disk.found();
    // A full disk page may be followed by more rows on disk: this page ends at its last row, so
    // that none of those is passed over for an object in memory further on.
    long bound = disk.full() ? disk.lastOrd() : Long.MAX_VALUE;
    List<Found> merged = new ArrayList<>(inMemoryFound.size() + onDisk.size());
    int i = 0;
    int j = 0;
    while (merged.size() < limit) {
      boolean memoryNext = i < inMemoryFound.size() && inMemoryFound.get(i).ord() <= bound;
      boolean diskNext = j < onDisk.size();
      if (memoryNext && (!diskNext || inMemoryFound.get(i).ord() < onDisk.get(j).ord())) {
        merged.add(inMemoryFound.get(i++));
      } else if (diskNext) {
        merged.add(onDisk.get(j++));
      } else {
        break;
      }
    }
    boolean more = i < inMemoryFound.size() || j < onDisk.size() || disk.full();
    long continueAfter;
    if (!more) {
      continueAfter = 0;
    } else if (merged.size() == limit || !disk.full()) {
      continueAfter = merged.get(merged.size() - 1).ord();
    } else {
      // Everything up to the disk page's last row was looked at: the rows skipped there (in
      // memory, or removed) must not end the list.
      continueAfter = disk.lastOrd();
    }
    return new Page(merged, continueAfter);
  }

  /** The first entry whose key matches a query, in the mock's order; null if none does. */
  Map.Entry<AttributeSet, String> first(AttributeSet query) {
    synchronized (this) {
      Collection<AttributeSet> candidates = candidates(query);
      for (AttributeSet key : candidates) {
        examinedKeys++;
        if (key.matches(query)) {
          return new SimpleImmutableEntry<>(key, entries.get(key).json());
        }
      }
    }
    List<Found> onDisk = onDisk(query, 0, 1).found();
    return onDisk.isEmpty()
        ? null
        : new SimpleImmutableEntry<>(onDisk.get(0).key(), onDisk.get(0).json());
  }

  /**
   * Whether a query names its object's plural, namespace and name, so that at most one object
   * matches it: found in memory, there is no need to look on disk.
   */
  private static boolean namesOneObject(AttributeSet query) {
    return indexable(query.getAttribute(PLURAL)) != null
        && indexable(query.getAttribute(NAMESPACE)) != null
        && indexable(query.getAttribute(NAME)) != null;
  }

  /**
   * Finished objects read from disk for one page: those that match, whether the read returned as
   * many rows as asked for (so there may be more), and the order number of its last row.
   */
  private record DiskPage(List<Found> found, boolean full, long lastOrd) {
    static final DiskPage NONE = new DiskPage(List.of(), false, 0);
  }

  /**
   * The finished objects on disk only that match a query, in order, after {@code after}; none when
   * the query names no plural whose objects are spilled. Called under the dispatcher's shared lock
   * by concurrent readers: what it found is all in its answer.
   */
  private DiskPage onDisk(AttributeSet query, long after, int limit) {
    Attribute plural = indexable(query.getAttribute(PLURAL));
    if (disk == null || plural == null) {
      return DiskPage.NONE;
    }
    String pluralValue = valueOf(plural);
    synchronized (this) {
      if (onDiskOnly <= 0 || !SqliteObjects.SPILLED_PLURALS.contains(pluralValue)) {
        return DiskPage.NONE;
      }
    }
    Attribute namespace = indexable(query.getAttribute(NAMESPACE));
    Attribute name = indexable(query.getAttribute(NAME));
    List<SqliteObjects.Row> rows =
        disk.finished(
            pluralValue,
            namespace == null ? null : valueOf(namespace),
            name == null ? null : valueOf(name),
            labelTests(query),
            after,
            limit);
    boolean full = limit != Integer.MAX_VALUE && rows.size() >= limit;
    List<Found> found = new ArrayList<>();
    synchronized (this) {
      for (SqliteObjects.Row row : rows) {
        if (inMemory.containsKey(row.id()) || removedFromDisk.containsKey(row.id())) {
          continue;
        }
        AttributeSet key = keyOf(row.attrs());
        examinedKeys++;
        if (key.matches(query)) {
          found.add(new Found(key, row.json(), row.ord()));
        }
      }
    }
    return new DiskPage(found, full, rows.isEmpty() ? after : rows.get(rows.size() - 1).ord());
  }

  /**
   * What a query asks of the labels the database indexes ({@link SqliteObjects#INDEXED_LABELS}), in
   * the terms of the mock's label selectors: {@code l=v} (WITH), {@code l} (EXISTS) and {@code !l}
   * (NOT_EXISTS). Other requirements are left to {@link AttributeSet#matches} alone.
   */
  private static Map<String, SqliteObjects.LabelTest> labelTests(AttributeSet query) {
    Map<String, SqliteObjects.LabelTest> tests = new HashMap<>();
    for (String label : SqliteObjects.INDEXED_LABELS.keySet()) {
      Attribute attribute = query.getAttribute(LABEL_PREFIX + label);
      if (attribute == null) {
        continue;
      }
      switch (attribute.getType()) {
        case WITH -> {
          if (attribute.getValues().size() == 1 && !hasWildcard(attribute)) {
            tests.put(label, SqliteObjects.LabelTest.equalTo(valueOf(attribute)));
          }
        }
        case EXISTS -> tests.put(label, SqliteObjects.LabelTest.PRESENT);
        case NOT_EXISTS -> tests.put(label, SqliteObjects.LabelTest.ABSENT);
        default -> {}
      }
    }
    return tests;
  }

  /** How many keys {@link #matching} and {@link #first} have tested against queries so far. */
  synchronized long examinedKeys() {
    return examinedKeys;
  }

  /**
   * How many times all entries have been gone through: by a query that names no plural, or by
   * iterating a view of this map (as the mock does when a watch opens).
   */
  synchronized long fullScans() {
    return fullScans;
  }

  private Collection<AttributeSet> candidates(AttributeSet query) {
    Attribute plural = indexable(query.getAttribute(PLURAL));
    if (plural == null || wildcardKeys > 0) {
      fullScans++;
      return entries.keySet();
    }
    Set<AttributeSet> keys =
        buckets.get(
            new Bucket(
                plural,
                indexable(query.getAttribute(NAMESPACE)),
                indexable(query.getAttribute(NAME))));
    return keys == null ? List.of() : keys;
  }

  /**
   * The attribute, if a key can match it only by having an equal attribute: a {@code WITH}
   * attribute without a wildcard value. Null otherwise, when it cannot narrow the search.
   */
  private static Attribute indexable(Attribute attribute) {
    if (attribute == null
        || attribute.getType() != AttributeType.WITH
        || attribute.getValues().isEmpty()
        || hasWildcard(attribute)) {
      return null;
    }
    return attribute;
  }

  private static boolean hasWildcard(Attribute attribute) {
    return attribute != null
        && attribute.getValues().stream().anyMatch(v -> WILDCARD.equals(String.valueOf(v)));
  }

  private static boolean isWildcardKey(AttributeSet key) {
    return hasWildcard(key.getAttribute(PLURAL))
        || hasWildcard(key.getAttribute(NAMESPACE))
        || hasWildcard(key.getAttribute(NAME));
  }

  /** The buckets a stored key is filed under; none if it has no plural, as no query can find it. */
  private static List<Bucket> bucketsOf(AttributeSet key) {
    Attribute plural = key.getAttribute(PLURAL);
    if (plural == null) {
      return List.of();
    }
    Attribute namespace = key.getAttribute(NAMESPACE);
    Attribute name = key.getAttribute(NAME);
    List<Bucket> result = new ArrayList<>(4);
    result.add(new Bucket(plural, null, null));
    if (namespace != null) {
      result.add(new Bucket(plural, namespace, null));
    }
    if (name != null) {
      result.add(new Bucket(plural, null, name));
    }
    if (namespace != null && name != null) {
      result.add(new Bucket(plural, namespace, name));
    }
    return result;
  }

  private void index(AttributeSet key) {
    if (isWildcardKey(key)) {
      wildcardKeys++;
    }
    for (Bucket bucket : bucketsOf(key)) {
      buckets.computeIfAbsent(bucket, b -> new LinkedHashSet<>()).add(key);
    }
  }

  private void unindex(AttributeSet key) {
    if (isWildcardKey(key)) {
      wildcardKeys--;
    }
    for (Bucket bucket : bucketsOf(key)) {
      Set<AttributeSet> keys = buckets.get(bucket);
      if (keys != null) {
        keys.remove(key);
        if (keys.isEmpty()) {
          buckets.remove(bucket);
        }
      }
    }
  }

  /** Entries in memory and, in durable mode, finished objects on disk only. */
  @Override
  public synchronized int size() {
    return (int) Math.min(Integer.MAX_VALUE, entries.size() + onDiskOnly);
  }

  /** Entries in memory only: the objects at work, not the finished ones kept on disk. */
  synchronized int sizeInMemory() {
    return entries.size();
  }

  @Override
  public boolean containsKey(Object key) {
    return get(key) != null;
  }

  @Override
  public String get(Object key) {
    synchronized (this) {
      Stored stored = entries.get(key);
      if (stored != null || disk == null || !(key instanceof AttributeSet attributes)) {
        return stored == null ? null : stored.json();
      }
      String id = idOf(attributes);
      if (onDiskOnly <= 0 || inMemory.containsKey(id) || removedFromDisk.containsKey(id)) {
        return null;
      }
    }
    return disk.finishedJson(idOf((AttributeSet) key));
  }

  @Override
  public synchronized String put(AttributeSet key, String value) {
    lastPutKey = key;
    Stored previous = entries.get(key);
    long ord = previous != null ? previous.ord() : ++lastOrd;
    long seq = 0;
    if (disk != null) {
      String id = idOf(key);
      inMemory.put(id, key);
      if (!loading) {
        seq =
            disk.put(
                id,
                valueOf(key.getAttribute(PLURAL)),
                valueOf(key.getAttribute(NAMESPACE)),
                valueOf(key.getAttribute(NAME)),
                ord,
                attrsOf(key),
                value);
      }
    }
    entries.put(key, new Stored(value, ord, seq));
    if (previous == null) {
      // A key already present keeps its place, in the map as in its buckets.
      index(key);
    }
    return previous == null ? null : previous.json();
  }

  /**
   * The key the latest {@link #put} stored under: the mock computes the key of a changed object
   * inside {@code processEvent} and keeps it to itself; its watch events need it.
   */
  synchronized AttributeSet lastPutKey() {
    return lastPutKey;
  }

  @Override
  public String remove(Object key) {
    if (!(key instanceof AttributeSet attributes)) {
      return null;
    }
    synchronized (this) {
      Stored previous = entries.remove(attributes);
      if (previous != null) {
        unindex(attributes);
        if (disk != null) {
          String id = idOf(attributes);
          if (attributes.equals(inMemory.get(id))) {
            inMemory.remove(id);
          }
          disk.delete(id);
        }
        return previous.json();
      }
    }
    String json = get(attributes);
    if (json == null) {
      return null;
    }
    synchronized (this) {
      String id = idOf(attributes);
      removedFromDisk.put(id, disk.delete(id));
      onDiskOnly--;
    }
    return json;
  }

  @Override
  public synchronized void clear() {
    if (disk != null) {
      throw new UnsupportedOperationException(
          "A durable embedded store is not cleared; start with an empty --state-dir instead");
    }
    lastPutKey = null;
    entries.clear();
    buckets.clear();
    wildcardKeys = 0;
  }

  // ---- durable mode --------------------------------------------------------------------------

  /**
   * Fills the store from the database: the objects kept in memory are put back with their keys and
   * order; custom resource definitions go to {@code definitions} instead, which stores them through
   * the mock so that it learns them again. Finished objects stay on disk.
   */
  void load(SqliteObjects database, Consumer<SqliteObjects.Row> definitions) {
    synchronized (this) {
      if (disk != null || !entries.isEmpty()) {
        throw new IllegalStateException("The embedded store is loaded once, before it is used");
      }
      disk = database;
      loading = true;
    }
    try {
      List<SqliteObjects.Row> crds = new ArrayList<>();
      disk.readUnfinished(
          row -> {
            AttributeSet key = keyOf(row.attrs());
            if ("customresourcedefinitions".equals(valueOf(key.getAttribute(PLURAL)))) {
              crds.add(row);
              return;
            }
            synchronized (this) {
              entries.put(key, new Stored(row.json(), row.ord(), 0));
              index(key);
              inMemory.put(row.id(), key);
            }
          });
      long finished = disk.countFinished();
      long maxOrd = disk.maxOrd();
      synchronized (this) {
        onDiskOnly = finished;
        lastOrd = Math.max(lastOrd, maxOrd);
      }
      crds.forEach(definitions);
    } finally {
      synchronized (this) {
        loading = false;
      }
    }
  }

  /** Told by the database after each commit (on its writer thread). */
  synchronized void committed(long seq, List<SqliteObjects.Finished> finished) {
    committedSeq = Math.max(committedSeq, seq);
    long now = System.nanoTime();
    for (SqliteObjects.Finished done : finished) {
      committedFinished.add(new Spillable(done.id(), done.seq(), now));
    }
  }

  /**
   * Drops from memory the finished objects whose latest state was committed at least {@code grace}
   * ago, and forgets removals the database has committed. Runs under the dispatcher's exclusive
   * lock, so that no lookup is between reading the database and reading memory meanwhile.
   *
   * @return how many objects left memory
   */
  synchronized int spill(long graceNanos) {
    long committed = committedSeq;
    removedFromDisk.values().removeIf(seq -> seq <= committed);
    int spilled = 0;
    long now = System.nanoTime();
    while (!committedFinished.isEmpty()
        && now - committedFinished.peekFirst().committedAtNanos() >= graceNanos) {
      Spillable finished = committedFinished.pollFirst();
      AttributeSet key = inMemory.get(finished.id());
      Stored stored = key == null ? null : entries.get(key);
      if (stored != null && stored.seq() == finished.seq()) {
        entries.remove(key);
        unindex(key);
        inMemory.remove(finished.id());
        onDiskOnly++;
        spilled++;
      }
    }
    return spilled;
  }

  /** Whether finished objects committed at least {@code graceNanos} ago wait to leave memory. */
  synchronized boolean hasSpillWork(long graceNanos) {
    return !removedFromDisk.isEmpty()
        || !committedFinished.isEmpty()
            && System.nanoTime() - committedFinished.peekFirst().committedAtNanos() >= graceNanos;
  }

  /** How many finished objects are on disk only, not in memory. */
  synchronized long onDiskOnly() {
    return onDiskOnly;
  }

  /**
   * The id of an object in the database: its API group, plural, namespace and name, which the
   * mock's key for it keeps whatever its labels.
   */
  static String idOf(AttributeSet key) {
    return valueOf(key.getAttribute(KubernetesAttributesExtractor.API))
        + "/"
        + valueOf(key.getAttribute(PLURAL))
        + "/"
        + valueOf(key.getAttribute(NAMESPACE))
        + "/"
        + valueOf(key.getAttribute(NAME));
  }

  private static String valueOf(Attribute attribute) {
    if (attribute == null || attribute.getValues().isEmpty()) {
      return "";
    }
    return String.valueOf(attribute.getValues().get(0));
  }

  private static final ObjectMapper ATTRS = new ObjectMapper();
  private static final TypeReference<List<List<String>>> ATTRS_TYPE = new TypeReference<>() {};

  /** A key as stored: one {@code [type, key, value...]} array per attribute. */
  static String attrsOf(AttributeSet key) {
    List<List<String>> attributes = new ArrayList<>();
    for (Attribute attribute : attributesOf(key)) {
      List<String> row = new ArrayList<>(2 + attribute.getValues().size());
      row.add(attribute.getType().name());
      row.add(attribute.getKey().toString());
      for (Value value : attribute.getValues()) {
        row.add(value.toString());
      }
      attributes.add(row);
    }
    try {
      return ATTRS.writeValueAsString(attributes);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("Cannot write an object's key: " + e.getMessage(), e);
    }
  }

  /**
   * {@code AttributeSet.attributes}: the mock offers no way to go through a key's attributes, which
   * storing a key needs. Read by reflection, like {@link #install}'s field, and checked once.
   */
  private static final Field ATTRIBUTES_FIELD = attributesField();

  private static Field attributesField() {
    try {
      Field field = AttributeSet.class.getDeclaredField("attributes");
      if (!Map.class.isAssignableFrom(field.getType())) {
        throw new IllegalStateException("AttributeSet.attributes is no longer a Map");
      }
      field.setAccessible(true);
      return field;
    } catch (NoSuchFieldException | RuntimeException e) {
      throw new IllegalStateException(
          "Cannot store the embedded API server's keys: fabric8's AttributeSet no longer keeps"
              + " its attributes in the field 'attributes' this version expects",
          e);
    }
  }

  private static Collection<Attribute> attributesOf(AttributeSet key) {
    try {
      return ((Map<?, Attribute>) ATTRIBUTES_FIELD.get(key)).values();
    } catch (IllegalAccessException e) {
      throw new IllegalStateException("Cannot read the attributes of " + key, e);
    }
  }

  /** The key {@link #attrsOf} stored. */
  static AttributeSet keyOf(String attrs) {
    List<List<String>> rows;
    try {
      rows = ATTRS.readValue(attrs, ATTRS_TYPE);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("Cannot read a stored object's key: " + e.getMessage(), e);
    }
    List<Attribute> attributes = new ArrayList<>(rows.size());
    for (List<String> row : rows) {
      List<Value> values = new ArrayList<>(row.size() - 2);
      for (String value : row.subList(2, row.size())) {
        values.add(new Value(value));
      }
      attributes.add(new Attribute(new Key(row.get(1)), values, AttributeType.valueOf(row.get(0))));
    }
    return new AttributeSet(attributes);
  }

  /**
   * A live view of the entries in memory; iterating it goes through every one and counts as a full
   * scan. Callers must hold the dispatcher's lock while iterating, as with the mock's own map.
   */
  @Override
  public Set<Map.Entry<AttributeSet, String>> entrySet() {
    return new AbstractSet<>() {
      @Override
      public int size() {
        return IndexedStore.this.sizeInMemory();
      }

      @Override
      public Iterator<Map.Entry<AttributeSet, String>> iterator() {
        synchronized (IndexedStore.this) {
          fullScans++;
        }
        Iterator<Map.Entry<AttributeSet, Stored>> iterator = entries.entrySet().iterator();
        return new Iterator<>() {
          private Map.Entry<AttributeSet, Stored> last;

          @Override
          public boolean hasNext() {
            return iterator.hasNext();
          }

          @Override
          public Map.Entry<AttributeSet, String> next() {
            last = iterator.next();
            return new SimpleImmutableEntry<>(last.getKey(), last.getValue().json());
          }

          @Override
          public void remove() {
            synchronized (IndexedStore.this) {
              iterator.remove();
              unindex(last.getKey());
              if (disk != null) {
                String id = idOf(last.getKey());
                inMemory.remove(id);
                disk.delete(id);
              }
            }
          }
        };
      }
    };
  }
}
