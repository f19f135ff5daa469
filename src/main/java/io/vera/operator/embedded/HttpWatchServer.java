package io.vera.operator.embedded;

import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import io.fabric8.mockwebserver.vertx.HttpServerRequestHandler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * The embedded API server's HTTP listener. Requests are answered by the dispatcher as the mock web
 * server answers them (fabric8's own request handler, WebSocket watches included), except watches
 * asked for over plain HTTP, as kubectl and client-go ask: those are streamed as kube-apiserver
 * streams them, one JSON event per chunk, until the client leaves or {@code timeoutSeconds} passes.
 * The mock web server cannot stream a response body, which is why this listener exists.
 */
final class HttpWatchServer implements AutoCloseable {

  private final Vertx vertx;
  private final HttpServer server;

  private HttpWatchServer(Vertx vertx, HttpServer server) {
    this.vertx = vertx;
    this.server = server;
  }

  /**
   * Listens on 127.0.0.1.
   *
   * @param answer the dispatcher; a watch's answer carries the store watch as its WebSocket
   *     listener
   * @throws IllegalStateException if the port cannot be bound
   */
  static HttpWatchServer listen(int port, Function<RecordedRequest, MockResponse> answer) {
    Vertx vertx = Vertx.vertx();
    HttpServerRequestHandler mock =
        new HttpServerRequestHandler(vertx) {
          @Override
          protected MockResponse onHttpRequest(RecordedRequest request) {
            return answer.apply(request);
          }
        };
    HttpServer server =
        vertx
            .createHttpServer(
                new HttpServerOptions()
                    .setHost("127.0.0.1")
                    .setPort(port)
                    // Plain HTTP/1.1 only, as a real API server's insecure port answers: Vert.x
                    // would otherwise accept an h2c upgrade (the JDK HttpClient asks for one on
                    // every http:// request), and a large answer over it could stall for good.
                    .setHttp2ClearTextEnabled(false)
                    .setHandle100ContinueAutomatically(true))
            .requestHandler(
                request -> {
                  if (isPlainHttpWatch(request)) {
                    streamWatch(vertx, request, answer);
                  } else {
                    mock.handle(request);
                  }
                });
    try {
      server.listen().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      vertx.close();
      throw new IllegalStateException(
          "Cannot listen on 127.0.0.1:" + port + ": " + rootMessage(e), e);
    }
    return new HttpWatchServer(vertx, server);
  }

  int port() {
    return server.actualPort();
  }

  /** Closes the port and every open connection, watches too. */
  @Override
  public void close() {
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      // Closing anyway; what is left are daemon threads of a server that no longer listens.
    }
  }

  private static boolean isPlainHttpWatch(HttpServerRequest request) {
    String upgrade = request.getHeader("Upgrade");
    String watch = request.getParam("watch");
    return request.method() == io.vertx.core.http.HttpMethod.GET
        && (upgrade == null || !upgrade.equalsIgnoreCase("websocket"))
        && ("true".equals(watch) || "1".equals(watch));
  }

  private static void streamWatch(
      Vertx vertx, HttpServerRequest request, Function<RecordedRequest, MockResponse> answer) {
    RecordedRequest recorded =
        new RecordedRequest(
            "HTTP/1.1",
            HttpMethod.GET,
            request.uri(),
            Headers.builder().addAll(request.headers()).build(),
            new Buffer());
    HttpServerResponse response = request.response();
    MockResponse answered;
    try {
      answered = answer.apply(recorded);
    } catch (RuntimeException e) {
      response.setStatusCode(500).end();
      return;
    }
    WebSocketListener watch = answered.getWebSocketListener();
    if (watch == null) {
      // Not a watch after all (404, 400): answered as any other request.
      response.setStatusCode(answered.code());
      answered
          .getHeaders()
          .toMultimap()
          .forEach((name, values) -> response.headers().add(name, values));
      byte[] body = answered.getBody() == null ? new byte[0] : answered.getBody().getBytes();
      response.end(io.vertx.core.buffer.Buffer.buffer(body));
      return;
    }
    response.setStatusCode(200).setChunked(true);
    response.putHeader("Content-Type", "application/json");
    response.putHeader("Cache-Control", "no-cache, private");
    ChunkedSocket socket = new ChunkedSocket(recorded, response);
    response.closeHandler(ignored -> watch.onClosed(socket, 1000, "client left"));
    String timeout = request.getParam("timeoutSeconds");
    if (timeout != null && timeout.matches("\\d{1,9}") && Long.parseLong(timeout) > 0) {
      vertx.setTimer(
          TimeUnit.SECONDS.toMillis(Long.parseLong(timeout)), id -> socket.close(1000, "timeout"));
    }
    // The API server answers a watch's headers at once; clients wait for them before reading.
    response.writeHead();
    // As the mock web server opens its WebSocket watches: on the event loop, under the store's
    // shared lock, so no write falls between the initial events and the live ones.
    watch.onOpen(socket, answered);
  }

  /** A watch's events written as chunks of one HTTP response, in the order they are sent. */
  private static final class ChunkedSocket implements WebSocket {
    /** Above this many unwritten bytes the client is too slow: the watch ends, as on a cluster. */
    private static final int MAX_QUEUED_BYTES = 8 * 1024 * 1024;

    private final RecordedRequest request;
    private final HttpServerResponse response;
    private final AtomicBoolean closed = new AtomicBoolean();

    ChunkedSocket(RecordedRequest request, HttpServerResponse response) {
      this.request = request;
      this.response = response;
      response.setWriteQueueMaxSize(MAX_QUEUED_BYTES);
    }

    @Override
    public RecordedRequest request() {
      return request;
    }

    @Override
    public synchronized boolean send(String event) {
      if (closed.get() || response.closed() || response.writeQueueFull()) {
        return false;
      }
      response.write(event + "\n");
      return true;
    }

    @Override
    public boolean send(byte[] bytes) {
      return send(new String(bytes, java.nio.charset.StandardCharsets.UTF_8));
    }

    @Override
    public synchronized boolean close(int code, String reason) {
      if (closed.compareAndSet(false, true) && !response.closed()) {
        response.end();
      }
      return true;
    }
  }

  private static String rootMessage(Throwable error) {
    Throwable cause = error;
    while (cause.getCause() != null) {
      cause = cause.getCause();
    }
    return String.valueOf(cause.getMessage());
  }
}
