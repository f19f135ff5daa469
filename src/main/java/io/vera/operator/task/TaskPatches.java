package io.vera.operator.task;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.vera.operator.api.VeraTask;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Sends the status writer's patches of VeraTasks through the Kubernetes client's own HTTP stack
 * (its authentication, TLS and retries), without its resource DSL. The DSL copies the object it is
 * given, parses a URL and deserialises the patched object the API server answers with, for every
 * patch; the status writer needs none of that (it knows what it wrote), and in a profile of the
 * cluster benchmark those steps were about a fifth of the operator's CPU per task.
 */
final class TaskPatches {
  static final String JSON_PATCH = "application/json-patch+json";
  static final String MERGE_PATCH = "application/merge-patch+json";

  /** A little over the request timeout, so the client's own deadline is the one that fires. */
  private static final long ANSWER_MARGIN_MILLIS = 5_000;

  private final HttpClient http;
  private final String tasksPrefix;
  private final long timeoutMillis;

  TaskPatches(KubernetesClient client) {
    this.http = client.getHttpClient();
    String master = client.getMasterUrl().toString();
    this.tasksPrefix =
        (master.endsWith("/") ? master : master + "/")
            + "apis/"
            + HasMetadata.getGroup(VeraTask.class)
            + "/"
            + HasMetadata.getVersion(VeraTask.class)
            + "/namespaces/";
    int requestTimeout = client.getConfiguration().getRequestTimeout();
    this.timeoutMillis = requestTimeout > 0 ? requestTimeout : 10_000;
  }

  /** Patches a task's status subresource. */
  void patchStatus(TaskKey key, String contentType, String patch) {
    send(url(key) + "/status", contentType, patch);
  }

  /** Patches the task resource itself (its metadata). */
  void patchResource(TaskKey key, String contentType, String patch) {
    send(url(key), contentType, patch);
  }

  private String url(TaskKey key) {
    // Namespaces and names of Kubernetes objects are DNS labels and subdomains: nothing to escape.
    return tasksPrefix
        + key.namespace()
        + "/"
        + HasMetadata.getPlural(VeraTask.class)
        + "/"
        + key.name();
  }

  private void send(String url, String contentType, String body) {
    HttpRequest request =
        http.newHttpRequestBuilder()
            .uri(url)
            .method("PATCH", contentType, body)
            .timeout(timeoutMillis, TimeUnit.MILLISECONDS)
            .build();
    HttpResponse<byte[]> response;
    try {
      response =
          http.sendAsync(request, byte[].class)
              .get(timeoutMillis + ANSWER_MARGIN_MILLIS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new KubernetesClientException("interrupted while patching " + url, e);
    } catch (ExecutionException e) {
      throw KubernetesClientException.launderThrowable(e.getCause());
    } catch (TimeoutException e) {
      throw new KubernetesClientException("no answer to PATCH " + url + " in time", e);
    }
    if (!response.isSuccessful()) {
      throw failure(url, response);
    }
  }

  /** The API server's refusal, as the resource DSL would raise it (code and Status). */
  private static KubernetesClientException failure(String url, HttpResponse<byte[]> response) {
    byte[] body = response.body();
    String text = body == null ? "" : new String(body, StandardCharsets.UTF_8);
    Status status = null;
    try {
      status = Serialization.unmarshal(text, Status.class);
    } catch (RuntimeException notAStatus) {
      // Not every failure comes with a Status (a proxy's answer, say): the code is enough.
    }
    String message =
        status != null && status.getMessage() != null ? status.getMessage() : text.strip();
    return new KubernetesClientException(
        "PATCH " + url + " answered " + response.code() + ": " + message, response.code(), status);
  }
}
