package io.vera.operator.kube;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.informers.cache.BasicItemStore;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import io.fabric8.kubernetes.client.informers.cache.ItemStore;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * An informer store that tells the operator when a resource leaves the cache. Lets a reconciler
 * release in-memory state of a deleted resource without putting a finalizer on every object.
 */
public final class DeletionAwareItemStore<T extends HasMetadata> implements ItemStore<T> {
  private final BasicItemStore<T> delegate = new BasicItemStore<>(Cache::metaNamespaceKeyFunc);
  private final Consumer<T> onRemoved;

  public DeletionAwareItemStore(Consumer<T> onRemoved) {
    this.onRemoved = onRemoved;
  }

  @Override
  public String getKey(T obj) {
    return delegate.getKey(obj);
  }

  @Override
  public T put(String key, T obj) {
    return delegate.put(key, obj);
  }

  @Override
  public T remove(String key) {
    T removed = delegate.remove(key);
    if (removed != null) {
      onRemoved.accept(removed);
    }
    return removed;
  }

  @Override
  public Stream<String> keySet() {
    return delegate.keySet();
  }

  @Override
  public Stream<T> values() {
    return delegate.values();
  }

  @Override
  public T get(String key) {
    return delegate.get(key);
  }

  @Override
  public int size() {
    return delegate.size();
  }
}
