package io.vera.operator.facade.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;

/**
 * A provider API on 127.0.0.1 that answers the Ready probe (a GET) by itself and each call with the
 * next queued answer, in the wire format the test wrote, and keeps the calls it saw.
 */
final class FakeUpstream implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  final MockWebServer server = new MockWebServer();
  private final BlockingQueue<MockResponse> answers = new LinkedBlockingQueue<>();
  private final List<RecordedRequest> calls = new CopyOnWriteArrayList<>();

  FakeUpstream(String probeBody) throws IOException {
    server.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            if ("GET".equals(request.getMethod())) {
              return json(200, probeBody);
            }
            calls.add(request);
            MockResponse next = answers.poll();
            return next != null
                ? next
                : json(500, "{\"error\":{\"message\":\"the test queued no answer\"}}");
          }
        });
    server.start();
  }

  String url(String path) {
    return server.url(path).toString();
  }

  void answer(MockResponse response) {
    answers.add(response);
  }

  /** The body of the last call, parsed. */
  JsonNode lastBody() {
    try {
      return JSON.readTree(calls.get(calls.size() - 1).getBody().utf8());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  RecordedRequest lastCall() {
    return calls.get(calls.size() - 1);
  }

  int callCount() {
    return calls.size();
  }

  static MockResponse json(int code, String body) {
    return new MockResponse.Builder()
        .code(code)
        .addHeader("content-type", "application/json")
        .body(body)
        .build();
  }

  static MockResponse.Builder sse(String body) {
    return new MockResponse.Builder()
        .addHeader("content-type", "text/event-stream; charset=utf-8")
        .addHeader("cache-control", "no-cache")
        .body(body);
  }

  @Override
  public void close() {
    server.close();
  }
}
