package io.vera.operator.facade;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.websocket.WsConfig;
import io.javalin.websocket.WsContext;
import io.vera.operator.facade.legacy.TaskViews;
import io.vera.operator.task.TaskEvent;
import io.vera.operator.task.TaskListener;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.eclipse.jetty.websocket.api.BatchMode;
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
 *
 * <p>Every message leaves through that one thread, which takes all the messages waiting (up to
 * {@link #MAX_BATCH}) at once and hands each client its share as one write: frames are batched in
 * the connection's buffer and the last one of the round flushes them. With hundreds of clients the
 * socket writes, not the events, are what costs, so a busy hub writes a client once per round
 * rather than once per event.
 */
final class UpdatesHub implements TaskListener, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(UpdatesHub.class);
  static final int MAX_BACKLOG = 1000;
  static final int MAX_INCOMING_MESSAGE_BYTES = 64 * 1024;
  static final int MAX_PENDING_EVENTS = 10_000;
  static final int MAX_BATCH = 256;

  /**
   * A message on its way out: a task event or a text, to every client or to one ({@code to};
   * Javalin hands each callback a new context for the same session, so compare them with equals).
   * Task events become their JSON on the broadcaster thread, off the dispatcher's.
   */
  private record Outgoing(WsContext to, TaskEvent event, String text, boolean joins) {
    Outgoing(WsContext to, TaskEvent event, String text) {
      this(to, event, text, false);
    }

    String render() {
      return text != null ? text : message(event.type().legacyName(), TaskViews.view(event.task()));
    }
  }

  private final Map<WsContext, AtomicInteger> clients = new ConcurrentHashMap<>();
  private final Supplier<ObjectNode> statusSupplier;
  private final ScheduledExecutorService ticker =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "ws-status-updates");
            t.setDaemon(true);
            return t;
          });

  private final LinkedBlockingQueue<Outgoing> outgoing = new LinkedBlockingQueue<>();
  private final AtomicInteger pendingEvents = new AtomicInteger();
  private final Thread broadcaster = new Thread(this::broadcastLoop, "ws-task-events");
  private volatile boolean closed;

  UpdatesHub(Supplier<ObjectNode> statusSupplier) {
    this.statusSupplier = statusSupplier;
    ticker.scheduleAtFixedRate(this::sendStatusUpdate, 2, 2, TimeUnit.SECONDS);
    broadcaster.setDaemon(true);
    broadcaster.start();
  }

  void configure(WsConfig ws) {
    ws.onConnect(
        ctx -> {
          ctx.session.getPolicy().setMaxTextMessageSize(MAX_INCOMING_MESSAGE_BYTES);
          ctx.session.getPolicy().setIdleTimeout(java.time.Duration.ofMinutes(10));
          ctx.session.getRemote().setBatchMode(BatchMode.ON);
          clients.put(ctx, new AtomicInteger());
          outgoing.add(new Outgoing(ctx, null, message("initial_status", safeStatus()), true));
        });
    ws.onMessage(
        ctx -> {
          // Clients may ping with any text; answer so they can measure liveness.
          if ("ping".equalsIgnoreCase(ctx.message().trim())) {
            outgoing.add(
                new Outgoing(ctx, null, message("pong", JsonBody.MAPPER.createObjectNode())));
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
    if (clients.isEmpty() || closed) {
      return;
    }
    if (pendingEvents.incrementAndGet() > MAX_PENDING_EVENTS) {
      pendingEvents.decrementAndGet();
      closeAllBehind();
      return;
    }
    outgoing.add(new Outgoing(null, event, null));
  }

  /** The broadcaster: every message waiting goes out, one write per client per round. */
  private void broadcastLoop() {
    List<Outgoing> round = new ArrayList<>(MAX_BATCH);
    List<String> texts = new ArrayList<>(MAX_BATCH);
    List<String> mine = new ArrayList<>(MAX_BATCH);
    while (!closed) {
      try {
        round.add(outgoing.take());
      } catch (InterruptedException e) {
        return;
      }
      outgoing.drainTo(round, MAX_BATCH - 1);
      int events = 0;
      try {
        for (Outgoing message : round) {
          texts.add(message.render());
          events += message.event() == null ? 0 : 1;
        }
        for (WsContext ctx : clients.keySet()) {
          mine.clear();
          // A client that joined in this round gets its initial_status first and only what
          // follows it.
          int first = 0;
          for (int i = round.size() - 1; i >= 0; i--) {
            if (round.get(i).joins() && round.get(i).to().equals(ctx)) {
              first = i;
              break;
            }
          }
          for (int i = first; i < round.size(); i++) {
            WsContext to = round.get(i).to();
            if (to == null || to.equals(ctx)) {
              mine.add(texts.get(i));
            }
          }
          sendAll(ctx, mine);
        }
      } catch (RuntimeException e) {
        LOG.warn("broadcasting WebSocket messages failed", e);
      } finally {
        pendingEvents.addAndGet(-events);
        round.clear();
        texts.clear();
      }
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
      outgoing.add(new Outgoing(null, null, message("status_update", safeStatus())));
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

  /**
   * Queues the texts in the client's connection buffer and flushes with the last, so they leave in
   * one write. Only the broadcaster thread sends, so switching the batch mode is safe.
   */
  private void sendAll(WsContext ctx, List<String> texts) {
    for (int i = 0; i < texts.size(); i++) {
      boolean last = i == texts.size() - 1;
      if (last) {
        ctx.session.getRemote().setBatchMode(BatchMode.OFF);
      }
      try {
        if (!send(ctx, texts.get(i))) {
          return;
        }
      } finally {
        if (last) {
          ctx.session.getRemote().setBatchMode(BatchMode.ON);
        }
      }
    }
  }

  /** Sends one text; false when the client is gone or was closed for falling behind. */
  private boolean send(WsContext ctx, String text) {
    AtomicInteger backlog = clients.get(ctx);
    if (backlog == null || !ctx.session.isOpen()) {
      clients.remove(ctx);
      return false;
    }
    if (backlog.incrementAndGet() > MAX_BACKLOG) {
      clients.remove(ctx);
      LOG.warn("closing a WebSocket client that fell {} messages behind", MAX_BACKLOG);
      ctx.closeSession(1008, "client too slow: more than " + MAX_BACKLOG + " messages behind");
      return false;
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
    return true;
  }

  @Override
  public void close() {
    closed = true;
    ticker.shutdownNow();
    broadcaster.interrupt();
  }
}
