package io.vera.operator.embedded;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.util.function.LongSupplier;
import java.util.function.UnaryOperator;

/**
 * A store watch (which, opened, sends every matching object as ADDED and then each change) made to
 * behave as kube-apiserver's watch from a {@code resourceVersion}, and filtered by a field selector
 * the mock cannot apply.
 *
 * <ul>
 *   <li>From resourceVersion {@code N} (not {@code 0}): objects unchanged since {@code N} are not
 *       sent again, those changed since are sent as MODIFIED (kube-apiserver would say ADDED for
 *       one created since; clients treat both alike).
 *   <li>The store keeps no history, so deletions since {@code N} cannot be replayed: when one
 *       happened, the watch answers kube-apiserver's {@code 410 Expired} ERROR event and closes,
 *       and the client lists again, as it does when a cluster's watch cache is past {@code N}.
 * </ul>
 */
final class ResumableWatch extends WebSocketListener {

  private static final ObjectMapper MAPPER = Serialization.jsonMapper();

  private final WebSocketListener store;
  private final long from;
  private final FieldSelector selector;
  private final LongSupplier lastDeletion;
  private final LongSupplier latest;
  private final UnaryOperator<JsonNode> presentation;

  /**
   * @param from the resourceVersion asked for; 0 for none (everything is sent as ADDED)
   * @param selector what to send, or null for everything
   * @param lastDeletion the resourceVersion of the latest deletion in the store
   * @param latest the store's latest resourceVersion, for the 410 message
   * @param presentation what each event's object is sent as: itself, or a server-side Table row for
   *     clients that asked for Tables (kubectl get -w prints printer columns from them), or null
   *     for the object itself
   */
  ResumableWatch(
      WebSocketListener store,
      long from,
      FieldSelector selector,
      LongSupplier lastDeletion,
      LongSupplier latest,
      UnaryOperator<JsonNode> presentation) {
    this.store = store;
    this.presentation = presentation;
    this.from = from;
    this.selector = selector;
    this.lastDeletion = lastDeletion;
    this.latest = latest;
  }

  /** The resourceVersion a watch request asks to start from; 0 when none or not a number. */
  static long from(String resourceVersion) {
    try {
      return resourceVersion == null || resourceVersion.isEmpty()
          ? 0
          : Long.parseLong(resourceVersion);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  @Override
  public void onOpen(WebSocket socket, Response response) {
    if (from > 0 && lastDeletion.getAsLong() > from) {
      socket.send(
          "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
              + "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: "
              + from
              + " ("
              + latest.getAsLong()
              + ")\",\"reason\":\"Expired\",\"code\":410}}");
      socket.close(1000, "too old resource version");
      return;
    }
    Filtering filtering = new Filtering(socket);
    filtering.opening = true;
    try {
      store.onOpen(filtering, response);
    } finally {
      filtering.opening = false;
    }
  }

  @Override
  public void onClosing(WebSocket socket, int code, String reason) {
    store.onClosing(socket, code, reason);
  }

  @Override
  public void onClosed(WebSocket socket, int code, String reason) {
    store.onClosed(socket, code, reason);
  }

  @Override
  public void onFailure(WebSocket socket, Throwable error, Response response) {
    store.onFailure(socket, error, response);
  }

  /** The socket the store watch writes to: drops, rewrites or passes each event. */
  private final class Filtering implements WebSocket {
    private final WebSocket socket;
    private volatile boolean opening;

    Filtering(WebSocket socket) {
      this.socket = socket;
    }

    @Override
    public RecordedRequest request() {
      return socket.request();
    }

    @Override
    public boolean send(String event) {
      if (selector == null && presentation == null && (!opening || from == 0)) {
        return socket.send(event);
      }
      JsonNode parsed;
      try {
        parsed = MAPPER.readTree(event);
      } catch (JsonProcessingException e) {
        return socket.send(event);
      }
      JsonNode object = parsed.path("object");
      if (selector != null && !selector.matches(object)) {
        return true;
      }
      String type = parsed.path("type").asText();
      if (opening && from > 0) {
        long version = from(object.path("metadata").path("resourceVersion").asText());
        if (version <= from) {
          return true;
        }
        type = "MODIFIED";
      }
      JsonNode shown = presentation == null ? object : presentation.apply(object);
      return socket.send("{\"type\":\"" + type + "\",\"object\":" + shown + "}");
    }

    @Override
    public boolean send(byte[] bytes) {
      return socket.send(bytes);
    }

    @Override
    public boolean close(int code, String reason) {
      return socket.close(code, reason);
    }
  }
}
