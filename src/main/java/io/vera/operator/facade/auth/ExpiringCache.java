package io.vera.operator.facade.auth;

import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * A small bounded cache whose entries live for a fixed time. Concurrent misses of one key share a
 * single load, so a burst of requests with a new token sends one review, not one per request. A
 * load that throws is not cached: the next request tries again.
 */
final class ExpiringCache<K, V> {
  private record Entry<V>(V value, long expiresAtNanos) {}

  private final long ttlNanos;
  private final int maxEntries;
  private final LongSupplier nanoTime;
  private final LinkedHashMap<K, Entry<V>> entries = new LinkedHashMap<>(16, 0.75f, true);
  private final Map<K, CompletableFuture<V>> loading = new ConcurrentHashMap<>();

  ExpiringCache(Duration ttl, int maxEntries, LongSupplier nanoTime) {
    if (maxEntries < 1) {
      throw new IllegalArgumentException("maxEntries must be at least 1, got " + maxEntries);
    }
    this.ttlNanos = ttl.toNanos();
    this.maxEntries = maxEntries;
    this.nanoTime = nanoTime;
  }

  V get(K key, Function<K, V> load) {
    if (ttlNanos > 0) {
      synchronized (entries) {
        Entry<V> entry = entries.get(key);
        if (entry != null) {
          if (entry.expiresAtNanos - nanoTime.getAsLong() > 0) {
            return entry.value;
          }
          entries.remove(key);
        }
      }
    }
    CompletableFuture<V> mine = new CompletableFuture<>();
    CompletableFuture<V> running = loading.putIfAbsent(key, mine);
    if (running != null) {
      try {
        return running.join();
      } catch (CompletionException e) {
        if (e.getCause() instanceof RuntimeException cause) {
          throw cause;
        }
        throw e;
      }
    }
    try {
      V value = load.apply(key);
      if (ttlNanos > 0) {
        put(key, value);
      }
      mine.complete(value);
      return value;
    } catch (RuntimeException | Error e) {
      mine.completeExceptionally(e);
      throw e;
    } finally {
      loading.remove(key, mine);
    }
  }

  private void put(K key, V value) {
    long now = nanoTime.getAsLong();
    synchronized (entries) {
      entries.put(key, new Entry<>(value, now + ttlNanos));
      if (entries.size() > maxEntries) {
        // Expired entries go first; then the least recently used.
        entries.values().removeIf(e -> e.expiresAtNanos - now <= 0);
        Iterator<K> oldest = entries.keySet().iterator();
        while (entries.size() > maxEntries && oldest.hasNext()) {
          oldest.next();
          oldest.remove();
        }
      }
    }
  }

  int size() {
    synchronized (entries) {
      return entries.size();
    }
  }
}
