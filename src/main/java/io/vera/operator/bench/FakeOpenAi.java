package io.vera.operator.bench;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * An OpenAI-compatible upstream on 127.0.0.1 for {@code bench provider}: it answers every chat
 * completion after a fixed delay, in OpenAI's wire format (a JSON completion, or an SSE stream
 * whose first chunk is sent right after the delay), so a call straight to it and the same call
 * through the operator differ only by what the operator adds.
 */
final class FakeOpenAi implements AutoCloseable {
  static final String MODEL = "gpt-4o-mini";
  private static final byte[] MODELS =
      ("{\"object\":\"list\",\"data\":[{\"id\":\"" + MODEL + "\",\"object\":\"model\"}]}")
          .getBytes(StandardCharsets.UTF_8);
  private static final byte[] COMPLETION =
      ("{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1741570283,"
              + "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":"
              + "{\"role\":\"assistant\",\"content\":\"A fixed answer.\"},\"finish_reason\":"
              + "\"stop\"}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":4,"
              + "\"total_tokens\":16}}")
          .getBytes(StandardCharsets.UTF_8);
  private static final byte[] FIRST_CHUNK =
      ("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":"
              + "\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
              + "\"assistant\",\"content\":\"A\"},\"finish_reason\":null}]}\n\n")
          .getBytes(StandardCharsets.UTF_8);
  private static final byte[] REST_OF_STREAM =
      ("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":"
              + "\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
              + "\" fixed answer.\"},\"finish_reason\":\"stop\"}]}\n\n"
              + "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":"
              + "\"gpt-4o-mini-2024-07-18\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,"
              + "\"completion_tokens\":4,\"total_tokens\":16}}\n\n"
              + "data: [DONE]\n\n")
          .getBytes(StandardCharsets.UTF_8);

  private final HttpServer server;
  private final ExecutorService threads;
  private final long delayNanos;

  FakeOpenAi(long delayMillis, int threads) throws IOException {
    this.delayNanos = TimeUnit.MILLISECONDS.toNanos(delayMillis);
    // Without TCP_NODELAY the JDK server's separate header and body writes meet the client's
    // delayed ACK, adding ~40 ms to every answer.
    System.setProperty("sun.net.httpserver.nodelay", "true");
    this.server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 256);
    this.threads =
        Executors.newFixedThreadPool(
            threads,
            r -> {
              Thread t = new Thread(r, "fake-openai");
              t.setDaemon(true);
              return t;
            });
    server.setExecutor(this.threads);
    server.createContext("/v1/models", e -> answer(e, "application/json", MODELS));
    server.createContext("/v1/chat/completions", this::complete);
    server.start();
  }

  /** The base URL a client or Provider uses, e.g. {@code http://127.0.0.1:40123/v1}. */
  String baseUrl() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
  }

  private void complete(HttpExchange exchange) throws IOException {
    byte[] body;
    try (InputStream in = exchange.getRequestBody()) {
      body = in.readAllBytes();
    }
    boolean stream = new String(body, StandardCharsets.UTF_8).contains("\"stream\":true");
    pause();
    if (!stream) {
      answer(exchange, "application/json", COMPLETION);
      return;
    }
    exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
    exchange.sendResponseHeaders(200, 0);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(FIRST_CHUNK);
      out.flush();
      out.write(REST_OF_STREAM);
    }
  }

  /** Waits the fixed delay; its jitter is the same for calls made directly and via the operator. */
  private void pause() {
    long until = System.nanoTime() + delayNanos;
    long left;
    while ((left = until - System.nanoTime()) > 0 && !Thread.currentThread().isInterrupted()) {
      LockSupport.parkNanos(left);
    }
  }

  private static void answer(HttpExchange exchange, String type, byte[] body) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", type);
    exchange.sendResponseHeaders(200, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    threads.shutdownNow();
  }
}
