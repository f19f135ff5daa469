package io.vera.operator.embedded;

import io.fabric8.kubernetes.client.server.mock.KubernetesAttributesExtractor;
import io.fabric8.mockwebserver.crud.Attribute;
import io.fabric8.mockwebserver.crud.AttributeSet;
import io.fabric8.mockwebserver.crud.AttributeType;
import io.fabric8.mockwebserver.crud.CrudDispatcher;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

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
 * <p>Thread safety: single operations are synchronized on this map, as {@link
 * java.util.Collections#synchronizedMap} is and as the mock expects ({@code synchronized (map)}).
 * Iterating a view is not; callers hold the dispatcher's lock, as they must with the mock's map.
 */
final class IndexedStore extends AbstractMap<AttributeSet, String> {

  private static final String PLURAL = KubernetesAttributesExtractor.PLURAL;
  private static final String NAMESPACE = KubernetesAttributesExtractor.NAMESPACE;
  private static final String NAME = KubernetesAttributesExtractor.NAME;
  private static final String WILDCARD = "*";

  /** The entries in the mock's order: insertion order, as the mock's {@link LinkedHashMap}. */
  private final LinkedHashMap<AttributeSet, String> entries = new LinkedHashMap<>();

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

  private record Bucket(Attribute plural, Attribute namespace, Attribute name) {}

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
  synchronized List<Map.Entry<AttributeSet, String>> matching(AttributeSet query) {
    Collection<AttributeSet> candidates = candidates(query);
    examinedKeys += candidates.size();
    List<Map.Entry<AttributeSet, String>> found = new ArrayList<>();
    for (AttributeSet key : candidates) {
      if (key.matches(query)) {
        found.add(new SimpleImmutableEntry<>(key, entries.get(key)));
      }
    }
    return found;
  }

  /** The first entry whose key matches a query, in the mock's order; null if none does. */
  synchronized Map.Entry<AttributeSet, String> first(AttributeSet query) {
    Collection<AttributeSet> candidates = candidates(query);
    for (AttributeSet key : candidates) {
      examinedKeys++;
      if (key.matches(query)) {
        return new SimpleImmutableEntry<>(key, entries.get(key));
      }
    }
    return null;
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

  @Override
  public synchronized int size() {
    return entries.size();
  }

  @Override
  public synchronized boolean containsKey(Object key) {
    return entries.containsKey(key);
  }

  @Override
  public synchronized String get(Object key) {
    return entries.get(key);
  }

  @Override
  public synchronized String put(AttributeSet key, String value) {
    lastPutKey = key;
    boolean added = !entries.containsKey(key);
    String previous = entries.put(key, value);
    if (added) {
      // A key already present keeps its place, in the map as in its buckets.
      index(key);
    }
    return previous;
  }

  /**
   * The key the latest {@link #put} stored under: the mock computes the key of a changed object
   * inside {@code processEvent} and keeps it to itself; its watch events need it.
   */
  synchronized AttributeSet lastPutKey() {
    return lastPutKey;
  }

  @Override
  public synchronized String remove(Object key) {
    if (!(key instanceof AttributeSet attributes) || !entries.containsKey(key)) {
      return null;
    }
    String previous = entries.remove(key);
    unindex(attributes);
    return previous;
  }

  @Override
  public synchronized void clear() {
    lastPutKey = null;
    entries.clear();
    buckets.clear();
    wildcardKeys = 0;
  }

  /**
   * A live view; iterating it goes through every entry and counts as a full scan. Callers must hold
   * the dispatcher's lock while iterating, as with the mock's own map.
   */
  @Override
  public Set<Map.Entry<AttributeSet, String>> entrySet() {
    return new AbstractSet<>() {
      @Override
      public int size() {
        return IndexedStore.this.size();
      }

      @Override
      public Iterator<Map.Entry<AttributeSet, String>> iterator() {
        synchronized (IndexedStore.this) {
          fullScans++;
        }
        Iterator<Map.Entry<AttributeSet, String>> iterator = entries.entrySet().iterator();
        return new Iterator<>() {
          private Map.Entry<AttributeSet, String> last;

          @Override
          public boolean hasNext() {
            return iterator.hasNext();
          }

          @Override
          public Map.Entry<AttributeSet, String> next() {
            last = iterator.next();
            return last;
          }

          @Override
          public void remove() {
            synchronized (IndexedStore.this) {
              iterator.remove();
              unindex(last.getKey());
            }
          }
        };
      }
    };
  }
}
