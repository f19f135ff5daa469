package io.vera.operator.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import okhttp3.ConnectionPool;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okio.Buffer;
import okio.BufferedSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bench forwarder}: the floor {@code bench provider} is judged against. It serves the routes
 * that bench uses (the legacy ones, and {@code /v1/chat/completions} for {@code --api openai}) with
 * the operator's own HTTP stack (Javalin on Jetty, OkHttp to the upstream) and nothing else: it
 * reads the caller's JSON, sends OpenAI a chat completion and hands the answer or the stream back
 * byte for byte, with no limits, accounting, pricing or metrics. What it adds over calling the
 * upstream directly is what one forwarding hop costs on this machine.
 */
@Command(
    name = "forwarder",
    mixinStandardHelpOptions = true,
    description = {
      "Runs a bare forwarder with the operator's HTTP stack (Javalin/Jetty in, OkHttp out) that"
          + " serves the routes 'bench provider' calls: /orchestrator/external/initialize,"
          + " providers/openai/status, execute and execute/stream, and /v1/chat/completions."
          + " It parses the caller's JSON,"
          + " calls the OpenAI upstream that initialize named and returns its answer or stream"
          + " unchanged; no limits, usage, pricing or metrics.",
      "Point 'bench provider --url' at it, with the same options as for the operator, to measure"
          + " what one forwarding hop adds on this machine: the floor for the operator's figure.",
      "Runs until interrupted."
    })
public final class ForwarderBenchCommand implements Callable<Integer> {
  private static final String BASE = "/orchestrator/external";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final MediaType JSON_TYPE = MediaType.get("application/json; charset=utf-8");

  @Spec private CommandSpec spec;

  @Option(
      names = "--port",
      defaultValue = "8001",
      description = "Port on 127.0.0.1 to serve on (default: ${DEFAULT-VALUE}).")
  private int port;

  @Override
  public Integer call() throws InterruptedException {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(stopped::countDown));
    try (Forwarder forwarder = new Forwarder(port)) {
      spec.commandLine().getOut().println("bare forwarder on http://127.0.0.1:" + forwarder.port());
      spec.commandLine().getOut().flush();
      stopped.await();
    }
    return 0;
  }

  /** The forwarder itself, started on construction. */
  static final class Forwarder implements AutoCloseable {
    private final OkHttpClient http =
        new OkHttpClient.Builder()
            .readTimeout(Duration.ZERO)
            .connectionPool(new ConnectionPool(256, 5, TimeUnit.MINUTES))
            .build();
    private final Javalin app;
    private volatile HttpUrl completions;

    /** Serves on 127.0.0.1:{@code port}; 0 picks a free port. */
    Forwarder(int port) {
      app =
          Javalin.create(
              config -> {
                config.showJavalinBanner = false;
                config.useVirtualThreads = false;
              });
      app.exception(
          JsonProcessingException.class,
          (e, ctx) -> ctx.status(400).json(Map.of("detail", "the body is not JSON")));
      app.post("/v1/chat/completions", this::forwardChat);
      app.post(BASE + "/execute", ctx -> forward(ctx, false));
      app.post(BASE + "/execute/stream", ctx -> forward(ctx, true));
      app.post(BASE + "/initialize", this::initialize);
      app.get(
          BASE + "/providers/openai/status", ctx -> ctx.json(Map.of("ready", completions != null)));
      app.start("127.0.0.1", port);
    }

    int port() {
      return app.port();
    }

    @Override
    public void close() {
      app.stop();
      http.dispatcher().executorService().shutdown();
      http.connectionPool().evictAll();
    }

    private void initialize(Context ctx) throws IOException {
      HttpUrl base =
          HttpUrl.parse(JSON.readTree(ctx.bodyAsBytes()).path("openai").path("base_url").asText());
      if (base == null) {
        ctx.status(422).json(Map.of("detail", "openai.base_url must be an http(s) URL"));
        return;
      }
      completions = base.newBuilder().addPathSegments("chat/completions").build();
      ctx.json(Map.of("status", "success"));
    }

    private void forward(Context ctx, boolean stream) throws IOException {
      HttpUrl target = completions;
      if (target == null) {
        ctx.status(404).json(Map.of("detail", "not initialized"));
        return;
      }
      JsonNode call = JSON.readTree(ctx.bodyAsBytes());
      ObjectNode body = JSON.createObjectNode();
      body.put("model", call.path("model").asText("gpt-4o-mini"));
      body.putArray("messages")
          .addObject()
          .put("role", "user")
          .put("content", call.path("prompt").asText());
      if (stream) {
        body.put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
      }
      relay(ctx, target, body, stream);
    }

    /**
     * {@code /v1/chat/completions} as a bare OpenAI-compatible gateway: the caller's body passed on
     * with the {@code <provider>/} prefix taken off the model, the answer or stream relayed.
     */
    private void forwardChat(Context ctx) throws IOException {
      HttpUrl target = completions;
      if (target == null) {
        ctx.status(404).json(Map.of("detail", "not initialized"));
        return;
      }
      ObjectNode body = (ObjectNode) JSON.readTree(ctx.bodyAsBytes());
      String model = body.path("model").asText();
      body.put("model", model.substring(model.indexOf('/') + 1));
      relay(ctx, target, body, body.path("stream").asBoolean(false));
    }

    private void relay(Context ctx, HttpUrl target, ObjectNode body, boolean stream)
        throws IOException {
      Request request =
          new Request.Builder()
              .url(target)
              .header("Authorization", "Bearer bench-not-a-key")
              .post(RequestBody.create(JSON.writeValueAsBytes(body), JSON_TYPE))
              .build();
      try (Response response = http.newCall(request).execute()) {
        ctx.status(response.code());
        if (!stream) {
          ctx.contentType("application/json").result(response.body().bytes());
          return;
        }
        ctx.contentType("text/event-stream");
        OutputStream out = ctx.res().getOutputStream();
        BufferedSource source = response.body().source();
        Buffer event = new Buffer();
        String line;
        while ((line = source.readUtf8Line()) != null) {
          event.writeUtf8(line).writeByte('\n');
          if (line.isEmpty()) {
            out.write(event.readByteArray());
            out.flush();
          }
        }
        out.write(event.readByteArray());
        out.flush();
      }
    }
  }
}
