package io.vera.operator.handler;

import java.util.Collection;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The handlers found on the classpath with {@link ServiceLoader}, by name. */
public final class HandlerRegistry {
  /** A handler with its metadata. */
  public record RegisteredHandler(HandlerMetadata metadata, TaskHandler handler) {}

  private final Map<String, RegisteredHandler> byName;

  private HandlerRegistry(Map<String, RegisteredHandler> byName) {
    this.byName = Collections.unmodifiableMap(byName);
  }

  /** Loads every handler visible to the given class loader; two handlers with one name fail. */
  public static HandlerRegistry load(ClassLoader classLoader) {
    Map<String, RegisteredHandler> found = new TreeMap<>();
    for (TaskHandler handler : ServiceLoader.load(TaskHandler.class, classLoader)) {
      HandlerInfo info = handler.getClass().getAnnotation(HandlerInfo.class);
      if (info == null) {
        throw new IllegalStateException(
            handler.getClass().getName() + " is listed as a TaskHandler but lacks @HandlerInfo");
      }
      RegisteredHandler previous =
          found.put(info.name(), new RegisteredHandler(HandlerMetadata.of(info), handler));
      if (previous != null) {
        throw new IllegalStateException(
            "two handlers are named '"
                + info.name()
                + "': "
                + previous.handler().getClass().getName()
                + " and "
                + handler.getClass().getName());
      }
    }
    return new HandlerRegistry(found);
  }

  public static HandlerRegistry loadDefault() {
    return load(HandlerRegistry.class.getClassLoader());
  }

  /**
   * This registry plus handlers built with the operator's own services (which ServiceLoader cannot
   * construct); they exist only in the operator, so only its embedded workers offer them.
   */
  public HandlerRegistry with(TaskHandler... handlers) {
    Map<String, RegisteredHandler> all = new TreeMap<>(byName);
    for (TaskHandler handler : handlers) {
      HandlerInfo info = handler.getClass().getAnnotation(HandlerInfo.class);
      if (info == null) {
        throw new IllegalStateException(handler.getClass().getName() + " lacks @HandlerInfo");
      }
      if (all.put(info.name(), new RegisteredHandler(HandlerMetadata.of(info), handler)) != null) {
        throw new IllegalStateException("two handlers are named '" + info.name() + "'");
      }
    }
    return new HandlerRegistry(all);
  }

  public Optional<RegisteredHandler> find(String name) {
    return Optional.ofNullable(byName.get(name));
  }

  public Collection<RegisteredHandler> all() {
    return byName.values();
  }

  public Collection<String> names() {
    return byName.keySet();
  }
}
