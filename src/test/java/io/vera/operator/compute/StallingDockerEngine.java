package io.vera.operator.compute;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A Docker engine that answers its probe ({@code /version}, {@code /info}, {@code /_ping}) and then
 * hangs on every other call until closed: an engine that passes a health check and stalls while a
 * machine is being made. Plain HTTP on loopback, as {@code tcp://host:port}.
 */
public final class StallingDockerEngine implements AutoCloseable {
  private final HttpServer server;
  private final ExecutorService threads = Executors.newCachedThreadPool();
  private final CountDownLatch released = new CountDownLatch(1);

  public StallingDockerEngine() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
    server.setExecutor(threads);
    server.createContext("/", this::handle);
    server.start();
  }

  public String url() {
    return "tcp://127.0.0.1:" + server.getAddress().getPort();
  }

  private void handle(HttpExchange exchange) throws IOException {
    String path = exchange.getRequestURI().getPath();
    String body =
        path.endsWith("/version")
            ? "{\"Version\": \"27.0.0\", \"ApiVersion\": \"1.46\", \"Os\": \"linux\"}"
            : path.endsWith("/info")
                ? "{\"NCPU\": 2, \"MemTotal\": 2147483648}"
                : path.endsWith("/_ping") ? "OK" : null;
    if (body == null) {
      try {
        released.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      exchange.close();
      return;
    }
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().add("Content-Type", "application/json");
    exchange.sendResponseHeaders(200, bytes.length);
    exchange.getResponseBody().write(bytes);
    exchange.close();
  }

  @Override
  public void close() {
    released.countDown();
    server.stop(0);
    threads.shutdownNow();
  }
}
