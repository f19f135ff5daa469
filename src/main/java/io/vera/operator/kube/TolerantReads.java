package io.vera.operator.kube;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonPointer;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.deser.BeanDeserializerModifier;
import com.fasterxml.jackson.databind.deser.DeserializationProblemHandler;
import com.fasterxml.jackson.databind.deser.std.DelegatingDeserializer;
import com.fasterxml.jackson.databind.module.SimpleModule;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.vera.operator.api.ComputeResource;
import io.vera.operator.api.Provider;
import io.vera.operator.api.VeraTask;
import io.vera.operator.api.WorkerPool;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Set;

/**
 * Reads Vera's kinds even when a stored object does not fit the model (a field of the wrong type,
 * an enum value this version does not know: bad data in a cluster, an object from an older or newer
 * version). Such an object would otherwise fail the whole list or watch event it came in, and the
 * informer with it: java-operator-sdk stops an informer on a deserialization error by design (its
 * ADR 002) and, with it, the operator.
 *
 * <p>Instead each field that cannot be read is left null (its default), and the object is marked
 * with the annotation {@link #UNREADABLE}, in memory only, naming the fields and why. The
 * controllers skip marked objects and report them ({@link UnreadableObjects}); everything else
 * still reads the rest of the object.
 *
 * <p>How: a {@link DeserializationProblemHandler} takes the problems Jackson lets a handler take
 * (unexpected token, a string or number that is not a valid value, an unknown field where unknown
 * fields fail), but only while one of Vera's kinds is being read, so every other type fails as
 * before; the kinds' deserializers are wrapped to open that scope and mark the result. Jackson
 * reads the stream once, so this costs nothing for objects that read cleanly.
 */
public final class TolerantReads {

  /** The in-memory annotation on an object read with fields it could not read, and why. */
  static final String UNREADABLE = "vera.io/unreadable";

  /** The kinds whose objects are read tolerantly: those the operator's controllers watch. */
  static final Set<Class<? extends HasMetadata>> KINDS =
      Set.of(VeraTask.class, WorkerPool.class, Provider.class, ComputeResource.class);

  private static final int MAX_MESSAGE_CHARS = 200;

  /** The problems of the objects being read on this thread, innermost last. */
  private static final ThreadLocal<Deque<Scope>> SCOPES = ThreadLocal.withInitial(ArrayDeque::new);

  private TolerantReads() {}

  /** fabric8's serialization with tolerant reading of {@link #KINDS}; give it to the client. */
  public static KubernetesSerialization serialization() {
    ObjectMapper mapper = new ObjectMapper();
    mapper.registerModule(
        new SimpleModule("vera-tolerant-reads")
            .setDeserializerModifier(
                new BeanDeserializerModifier() {
                  @Override
                  public JsonDeserializer<?> modifyDeserializer(
                      DeserializationConfig config,
                      BeanDescription description,
                      JsonDeserializer<?> deserializer) {
                    return KINDS.contains(description.getBeanClass())
                        ? new MarkingDeserializer(deserializer)
                        : deserializer;
                  }
                }));
    mapper.addHandler(new SkipUnreadableFields());
    return new KubernetesSerialization(mapper, true);
  }

  /** Why an object was read with fields left out; null when it was read whole. */
  public static String unreadable(HasMetadata object) {
    ObjectMeta metadata = object.getMetadata();
    return metadata == null || metadata.getAnnotations() == null
        ? null
        : metadata.getAnnotations().get(UNREADABLE);
  }

  /** The fields one object could not read, as paths from the object's root. */
  private record Scope(JsonPointer root, List<String> problems) {}

  /** Opens a scope per object of {@link #KINDS} and marks the object if a field was left out. */
  private static final class MarkingDeserializer extends DelegatingDeserializer {
    MarkingDeserializer(JsonDeserializer<?> delegate) {
      super(delegate);
    }

    @Override
    protected JsonDeserializer<?> newDelegatingInstance(JsonDeserializer<?> delegate) {
      return new MarkingDeserializer(delegate);
    }

    @Override
    public Object deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
      Deque<Scope> scopes = SCOPES.get();
      Scope scope = new Scope(p.getParsingContext().pathAsPointer(), new ArrayList<>());
      scopes.addLast(scope);
      Object value;
      try {
        value = _delegatee.deserialize(p, ctxt);
      } finally {
        scopes.removeLast();
      }
      if (!scope.problems().isEmpty() && value instanceof HasMetadata object) {
        mark(object, String.join("; ", scope.problems()));
      }
      return value;
    }

    private static void mark(HasMetadata object, String problems) {
      if (object.getMetadata() == null) {
        object.setMetadata(new ObjectMeta());
      }
      if (object.getMetadata().getAnnotations() == null) {
        object.getMetadata().setAnnotations(new HashMap<>());
      }
      object.getMetadata().getAnnotations().put(UNREADABLE, problems);
    }
  }

  /** Leaves a field that cannot be read null, inside a scope only; declines elsewhere. */
  private static final class SkipUnreadableFields extends DeserializationProblemHandler {

    private static boolean record(JsonParser p, String problem) {
      Scope scope = SCOPES.get().peekLast();
      if (scope == null) {
        return false;
      }
      String path = p.getParsingContext().pathAsPointer().toString();
      String root = scope.root().toString();
      if (path.startsWith(root)) {
        path = path.substring(root.length());
      }
      String field = path.isEmpty() ? "(object)" : path.substring(1).replace('/', '.');
      String message = problem == null ? "cannot be read" : problem.replace('\n', ' ');
      if (message.length() > MAX_MESSAGE_CHARS) {
        message = message.substring(0, MAX_MESSAGE_CHARS) + "...";
      }
      scope.problems().add(field + ": " + message);
      return true;
    }

    @Override
    public Object handleUnexpectedToken(
        DeserializationContext ctxt,
        JavaType targetType,
        JsonToken token,
        JsonParser p,
        String failureMsg)
        throws IOException {
      if (!record(p, failureMsg != null ? failureMsg : "not a " + targetType.getRawClass())) {
        return NOT_HANDLED;
      }
      p.skipChildren();
      return null;
    }

    @Override
    public Object handleWeirdStringValue(
        DeserializationContext ctxt, Class<?> targetType, String value, String failureMsg) {
      return record(ctxt.getParser(), "\"" + value + "\" is not a valid " + name(targetType))
          ? null
          : NOT_HANDLED;
    }

    @Override
    public Object handleWeirdNumberValue(
        DeserializationContext ctxt, Class<?> targetType, Number value, String failureMsg) {
      return record(ctxt.getParser(), value + " is not a valid " + name(targetType))
          ? null
          : NOT_HANDLED;
    }

    @Override
    public boolean handleUnknownProperty(
        DeserializationContext ctxt,
        JsonParser p,
        JsonDeserializer<?> deserializer,
        Object beanOrClass,
        String propertyName)
        throws IOException {
      if (!record(p, "unknown field")) {
        return false;
      }
      p.skipChildren();
      return true;
    }

    private static String name(Class<?> type) {
      return type.isEnum() ? "value of " + type.getSimpleName() : type.getSimpleName();
    }
  }
}
