package io.vera.operator.compute;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A Docker engine that answers its probe with 4 CPUs and 8 GiB, lists no containers, knows every
 * image, and refuses every container create with 400, as an engine does for a spec it cannot run (a
 * resource it cannot grant, a network it does not have): a machine that never starts. Plain HTTP on
 * loopback, as {@code tcp://host:port}.
 */
public final class RefusingDockerEngine implements AutoCloseable {
  static final String REFUSAL = "the test engine refuses every container";

  private final HttpServer server;
  private final ExecutorService threads = Executors.newCachedThreadPool();
  private final AtomicInteger creates = new AtomicInteger();

  public RefusingDockerEngine() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
    server.setExecutor(threads);
    server.createContext("/", this::handle);
    server.start();
  }

  public String url() {
    return "tcp://127.0.0.1:" + server.getAddress().getPort();
  }

  /** How many container creates the engine refused. */
  public int refusedCreates() {
    return creates.get();
  }

  private void handle(HttpExchange exchange) throws IOException {
    String path = exchange.getRequestURI().getPath();
    int status = 200;
    String body;
    if (path.endsWith("/version")) {
      body = "{\"Version\": \"27.0.0\", \"ApiVersion\": \"1.46\", \"Os\": \"linux\"}";
    } else if (path.endsWith("/info")) {
      body = "{\"NCPU\": 4, \"MemTotal\": 8589934592}";
    } else if (path.endsWith("/_ping")) {
      body = "OK";
    } else if (path.endsWith("/containers/json")) {
      body = "[]";
    } else if (path.contains("/images/") && path.endsWith("/json")) {
      body = "{\"Id\": \"sha256:0\", \"Config\": {\"Cmd\": [\"sh\"]}}";
    } else if (path.endsWith("/containers/create")) {
      creates.incrementAndGet();
      status = 400;
      body = "{\"message\": \"" + REFUSAL + "\"}";
    } else {
      status = 404;
      body = "{\"message\": \"no such thing: " + path + "\"}";
    }
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().add("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, bytes.length);
    exchange.getResponseBody().write(bytes);
    exchange.close();
  }

  @Override
  public void close() {
    server.stop(0);
    threads.shutdownNow();
  }
}
