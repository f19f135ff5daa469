package io.vera.operator.embedded;

import io.fabric8.kubernetes.client.http.AsyncBody;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.http.StandardHttpClient;
import io.fabric8.kubernetes.client.http.StandardHttpClientBuilder;
import io.fabric8.kubernetes.client.http.StandardHttpHeaders;
import io.fabric8.kubernetes.client.http.StandardHttpRequest;
import io.fabric8.kubernetes.client.http.StandardWebSocketBuilder;
import io.fabric8.kubernetes.client.http.WebSocket;
import io.fabric8.kubernetes.client.http.WebSocketResponse;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The operator's HTTP client for its own embedded API server: requests are answered by calling the
 * server's dispatcher on the calling thread instead of going through a loopback connection, the JDK
 * HTTP client and the server's single event loop. Per task that HTTP round trip cost more CPU than
 * the work it carried (encoding, parsing and three thread hand-offs on each side).
 *
 * <p>Everything a client can observe stays as over HTTP: the same dispatcher answers with the same
 * status, headers and body, fabric8's interceptors and retries run as usual, and a suspended server
 * refuses the connection. Watches still go over the network (the mock streams them on its own
 * WebSockets), through a JDK HTTP client this one owns; so does anything the dispatcher would
 * answer with a protocol upgrade.
 */
final class InProcessHttpClient
    extends StandardHttpClient<
        InProcessHttpClient, InProcessHttpClient.Factory, InProcessHttpClient.Builder> {

  /** What answers requests in-process; {@link EmbeddedApiServer} implements it. */
  interface Server {
    /**
     * @throws ConnectException when the server is not serving, as a closed port would refuse
     */
    MockResponse answer(RecordedRequest request) throws ConnectException;
  }

  /** Builds clients of one embedded server; pass it to {@code KubernetesClientBuilder}. */
  static final class Factory implements HttpClient.Factory {
    private final Server server;
    private final JdkHttpClientFactory network = new JdkHttpClientFactory();

    Factory(Server server) {
      this.server = server;
    }

    @Override
    public Builder newBuilder() {
      return new Builder(this);
    }
  }

  /** fabric8's builder contract; derived clients share their parent's network client. */
  static final class Builder
      extends StandardHttpClientBuilder<InProcessHttpClient, Factory, Builder> {
    Builder(Factory factory) {
      super(factory);
    }

    @Override
    public InProcessHttpClient build() {
      if (client != null) {
        return new InProcessHttpClient(this, client.getClosed(), client.network, false);
      }
      return new InProcessHttpClient(this, new AtomicBoolean(), networkClient(), true);
    }

    /** A JDK client configured as this one, without interceptors: those run before either path. */
    private StandardHttpClient<?, ?, ?> networkClient() {
      HttpClient.Builder network = clientFactory.network.newBuilder();
      if (connectTimeout != null) {
        network.connectTimeout(connectTimeout.toMillis(), TimeUnit.MILLISECONDS);
      }
      if (sslContext != null) {
        network.sslContext(keyManagers, trustManagers);
      }
      if (preferHttp11) {
        network.preferHttp11();
      }
      if (tlsVersions != null) {
        network.tlsVersions(tlsVersions);
      }
      if (followRedirects) {
        network.followAllRedirects();
      }
      if (proxyAddress != null) {
        network.proxyAddress(proxyAddress).proxyType(proxyType);
        if (proxyAuthorization != null) {
          network.proxyAuthorization(proxyAuthorization);
        }
      }
      return (StandardHttpClient<?, ?, ?>) network.build();
    }

    @Override
    protected Builder newInstance(Factory factory) {
      return new Builder(factory);
    }
  }

  private final StandardHttpClient<?, ?, ?> network;
  private final boolean ownsNetwork;

  private InProcessHttpClient(
      Builder builder,
      AtomicBoolean closed,
      StandardHttpClient<?, ?, ?> network,
      boolean ownsNetwork) {
    super(builder, closed);
    this.network = network;
    this.ownsNetwork = ownsNetwork;
  }

  @Override
  public CompletableFuture<HttpResponse<AsyncBody>> consumeBytesDirect(
      StandardHttpRequest request, AsyncBody.Consumer<List<ByteBuffer>> consumer) {
    if (IndexedCrudDispatcher.isWatch(pathAndQuery(request.uri()))) {
      return network.consumeBytesDirect(request, consumer);
    }
    MockResponse answer;
    try {
      answer = builder.getClientFactory().server.answer(recorded(request));
    } catch (IOException e) {
      return CompletableFuture.failedFuture(e);
    }
    if (answer.getWebSocketListener() != null) {
      return CompletableFuture.failedFuture(
          new IOException("the embedded API server upgraded a plain request: " + request.uri()));
    }
    return CompletableFuture.completedFuture(new Answer(request, answer, consumer));
  }

  @Override
  public CompletableFuture<WebSocketResponse> buildWebSocketDirect(
      StandardWebSocketBuilder builder, WebSocket.Listener listener) {
    return network.buildWebSocketDirect(builder, listener);
  }

  @Override
  protected void doClose() {
    if (ownsNetwork) {
      network.close();
    }
  }

  private static RecordedRequest recorded(StandardHttpRequest request) throws IOException {
    Headers.Builder headers = Headers.builder();
    request.headers().forEach((name, values) -> values.forEach(value -> headers.add(name, value)));
    byte[] body = body(request.body());
    if (body != null && request.header(StandardHttpHeaders.CONTENT_TYPE) == null) {
      headers.add(StandardHttpHeaders.CONTENT_TYPE, request.getContentType());
    }
    return new RecordedRequest(
        "HTTP/1.1",
        HttpMethod.valueOf(request.method().toUpperCase(Locale.ROOT)),
        pathAndQuery(request.uri()),
        headers.build(),
        new Buffer(body));
  }

  private static byte[] body(StandardHttpRequest.BodyContent content) throws IOException {
    if (content == null) {
      return null;
    }
    if (content instanceof StandardHttpRequest.StringBodyContent text) {
      return text.getContent().getBytes(StandardCharsets.UTF_8);
    }
    if (content instanceof StandardHttpRequest.ByteArrayBodyContent bytes) {
      return bytes.getContent();
    }
    if (content instanceof StandardHttpRequest.InputStreamBodyContent stream) {
      try (InputStream in = stream.getContent()) {
        return in.readAllBytes();
      }
    }
    throw new IOException("unsupported request body " + content.getClass().getName());
  }

  private static String pathAndQuery(URI uri) {
    String query = uri.getRawQuery();
    return query == null ? uri.getRawPath() : uri.getRawPath() + "?" + query;
  }

  /** A dispatcher's answer as fabric8 reads a response: headers now, the body when consumed. */
  private static final class Answer implements HttpResponse<AsyncBody> {
    private final HttpRequest request;
    private final int code;
    private final StandardHttpHeaders headers;
    private final AsyncBody body;

    Answer(
        HttpRequest request, MockResponse answer, AsyncBody.Consumer<List<ByteBuffer>> consumer) {
      this.request = request;
      this.code = answer.code();
      this.headers = new StandardHttpHeaders(answer.getHeaders().toMultimap());
      this.body = new Body(answer.getBody(), consumer);
    }

    @Override
    public int code() {
      return code;
    }

    @Override
    public AsyncBody body() {
      return body;
    }

    @Override
    public HttpRequest request() {
      return request;
    }

    @Override
    public Optional<HttpResponse<?>> previousResponse() {
      return Optional.empty();
    }

    @Override
    public List<String> headers(String name) {
      return headers.headers(name);
    }

    @Override
    public Map<String, List<String>> headers() {
      return headers.headers();
    }
  }

  /** The whole body in one piece, handed over on the first {@link #consume()}. */
  private static final class Body implements AsyncBody {
    private final byte[] bytes;
    private final AsyncBody.Consumer<List<ByteBuffer>> consumer;
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    private final AtomicBoolean consumed = new AtomicBoolean();

    Body(Buffer body, AsyncBody.Consumer<List<ByteBuffer>> consumer) {
      this.bytes = body == null ? new byte[0] : body.getBytes();
      this.consumer = consumer;
    }

    @Override
    public void consume() {
      if (done.isDone() || !consumed.compareAndSet(false, true)) {
        return;
      }
      try {
        if (bytes.length > 0) {
          consumer.consume(List.of(ByteBuffer.wrap(bytes)), this);
        }
        done.complete(null);
      } catch (Exception e) {
        done.completeExceptionally(e);
      }
    }

    @Override
    public CompletableFuture<Void> done() {
      return done;
    }

    @Override
    public void cancel() {
      done.cancel(false);
    }
  }
}
