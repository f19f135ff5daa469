package io.vera.operator.facade;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.websocket.WsConfig;
import io.javalin.websocket.WsContext;
import io.vera.operator.task.TaskEvent;
import io.vera.operator.task.TaskListener;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.eclipse.jetty.websocket.api.WriteCallback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The legacy WebSocket {@code ws/updates}: {@code initial_status} on connect, {@code status_update}
 * every two seconds, and one message per task transition. Sends are asynchronous; a client that
 * falls more than {@link #MAX_BACKLOG} messages behind is closed with code 1008 rather than
 * silently losing messages or slowing the dispatcher.
 *
 * <p>Task events are broadcast from a thread of the hub's own, not from the dispatcher's thread
 * that publishes them: a fan-out to many clients (each message is sent to every client) must not
 * delay the other listeners (metrics, Kubernetes Events, TTL expiry), nor pile the dispatcher's
 * events up in memory. When the fan-out falls more than {@link #MAX_PENDING_EVENTS} events behind,
 * every client is closed with 1013 (try again later) rather than left to miss events silently.
 */
final class UpdatesHub implements TaskListener, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(UpdatesHub.class);
  static final int MAX_BACKLOG = 1000;
  static final int MAX_INCOMING_MESSAGE_BYTES = 64 * 1024;
  static final int MAX_PENDING_EVENTS = 10_000;

  private final Map<WsContext, AtomicInteger> clients = new ConcurrentHashMap<>();
  private final Supplier<ObjectNode> statusSupplier;
  private final ScheduledExecutorService ticker =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "ws-status-updates");
            t.setDaemon(true);
            return t;
          });

  private final ExecutorService broadcaster =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "ws-task-events");
            t.setDaemon(true);
            return t;
          });
  private final AtomicInteger pendingEvents = new AtomicInteger();

  UpdatesHub(Supplier<ObjectNode> statusSupplier) {
    this.statusSupplier = statusSupplier;
    ticker.scheduleAtFixedRate(this::sendStatusUpdate, 2, 2, TimeUnit.SECONDS);
  }

  void configure(WsConfig ws) {
    ws.onConnect(
        ctx -> {
          ctx.session.getPolicy().setMaxTextMessageSize(MAX_INCOMING_MESSAGE_BYTES);
          ctx.session.getPolicy().setIdleTimeout(java.time.Duration.ofMinutes(10));
          clients.put(ctx, new AtomicInteger());
          send(ctx, message("initial_status", safeStatus()));
        });
    ws.onMessage(
        ctx -> {
          // Clients may ping with any text; answer so they can measure liveness.
          if ("ping".equalsIgnoreCase(ctx.message().trim())) {
            send(ctx, message("pong", JsonBody.MAPPER.createObjectNode()));
          }
        });
    ws.onClose(ctx -> clients.remove(ctx));
    ws.onError(ctx -> clients.remove(ctx));
  }

  int connected() {
    return clients.size();
  }

  @Override
  public void onTaskEvent(TaskEvent event) {
    if (clients.isEmpty()) {
      return;
    }
    if (pendingEvents.incrementAndGet() > MAX_PENDING_EVENTS) {
      pendingEvents.decrementAndGet();
      closeAllBehind();
      return;
    }
    try {
      broadcaster.execute(
          () -> {
            try {
              broadcast(message(event.type().legacyName(), TaskViews.view(event.task())));
            } finally {
              pendingEvents.decrementAndGet();
            }
          });
    } catch (RejectedExecutionException e) {
      pendingEvents.decrementAndGet(); // closing
    }
  }

  /** The fan-out cannot keep up: every client is told so, instead of missing events silently. */
  private void closeAllBehind() {
    List<WsContext> dropped = new ArrayList<>(clients.keySet());
    dropped.forEach(clients::remove);
    if (!dropped.isEmpty()) {
      LOG.warn(
          "closing {} WebSocket clients: task events fell more than {} behind",
          dropped.size(),
          MAX_PENDING_EVENTS);
    }
    for (WsContext ctx : dropped) {
      try {
        ctx.closeSession(
            1013, "server overloaded: task events fell behind; reconnect for a fresh status");
      } catch (RuntimeException e) {
        // already gone
      }
    }
  }

  private void sendStatusUpdate() {
    if (!clients.isEmpty()) {
      broadcast(message("status_update", safeStatus()));
    }
  }

  private ObjectNode safeStatus() {
    try {
      ObjectNode status = statusSupplier.get();
      TaskViews.epoch(status, "timestamp", java.time.Instant.now());
      return status;
    } catch (RuntimeException e) {
      ObjectNode status = JsonBody.MAPPER.createObjectNode();
      status.put("error", "status unavailable: " + e.getMessage());
      return status;
    }
  }

  private static String message(String type, ObjectNode data) {
    ObjectNode message = JsonBody.MAPPER.createObjectNode();
    message.put("type", type);
    message.set("data", data);
    return message.toString();
  }

  private void broadcast(String text) {
    clients.keySet().forEach(ctx -> send(ctx, text));
  }

  private void send(WsContext ctx, String text) {
    AtomicInteger backlog = clients.get(ctx);
    if (backlog == null || !ctx.session.isOpen()) {
      return;
    }
    if (backlog.incrementAndGet() > MAX_BACKLOG) {
      clients.remove(ctx);
      LOG.warn("closing a WebSocket client that fell {} messages behind", MAX_BACKLOG);
      ctx.closeSession(1008, "client too slow: more than " + MAX_BACKLOG + " messages behind");
      return;
    }
    ctx.session
        .getRemote()
        .sendString(
            text,
            new WriteCallback() {
              @Override
              public void writeSuccess() {
                backlog.decrementAndGet();
              }

              @Override
              public void writeFailed(Throwable x) {
                clients.remove(ctx);
              }
            });
  }

  @Override
  public void close() {
    ticker.shutdownNow();
    broadcaster.shutdownNow();
  }
}
