package io.vera.operator.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.management.OperatingSystemMXBean;
import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.retry.Backoff;
import io.vera.operator.task.TaskError;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.DoubleSupplier;
import okhttp3.Call;
import okhttp3.ConnectionPool;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker pod's side of the lease protocol: {@code concurrency} loops that long-poll the
 * operator for tasks of one pool, run each attempt with {@link TaskRunner} while renewing its
 * lease, and report the outcome. It survives the operator being away (retrying with backoff) and
 * drains on shutdown, so a rolling update or scale-down loses no work: a task leased as the worker
 * stops is handed back at once, and running attempts may finish within the drain, after which they
 * are interrupted and handed back too; neither counts against the task's retries.
 */
public final class RemoteWorker implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RemoteWorker.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final MediaType JSON_TYPE = MediaType.get("application/json");

  /** Seconds a lease request waits on the operator for a task. */
  static final int WAIT_SECONDS = 20;

  /** A 204 sooner than this did not really wait, so the next poll backs off. */
  private static final Duration MIN_EMPTY_POLL = Duration.ofSeconds(1);

  /**
   * How often a worker asks again when its pool does not exist (yet, e.g. while a restarted
   * operator rebuilds its pools) or its request is refused; each slot waits half to all of it.
   */
  private static final Duration REFUSED_RETRY = Duration.ofSeconds(10);

  /** How long to keep retrying a report while the operator is unreachable. */
  private static final Duration MAX_REPORT_RETRY = Duration.ofSeconds(30);

  /** How often to warn about an attempt that ignores its interruption. */
  private static final Duration STUCK_WARNING = Duration.ofSeconds(10);

  /**
   * Retries towards the operator: 100 ms doubling to 10 s, each wait in the upper half of its step,
   * so workers that lost the operator come back quickly at first, then rarely, and not all at once.
   */
  private static final Backoff RECONNECT =
      new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10), 0.5);

  private static final int MAX_ERROR_TYPE = 64;
  private static final int MAX_ERROR_MESSAGE = 16_000;

  /**
   * What a worker process serves.
   *
   * @param operatorUrl base URL of the operator's REST server
   * @param workerId reported with every lease; the pod name in a cluster
   * @param concurrency attempts run at once, one lease loop each
   * @param drain how long shutdown waits for running attempts before interrupting them
   */
  public record Settings(
      HttpUrl operatorUrl,
      String namespace,
      String pool,
      String workerId,
      int concurrency,
      Duration drain) {
    public Settings {
      if (concurrency < 1) {
        throw new IllegalArgumentException("concurrency must be at least 1, got " + concurrency);
      }
      if (drain.isNegative()) {
        throw new IllegalArgumentException("drain must not be negative, got " + drain);
      }
    }
  }

  private final Settings settings;
  private final TaskRunner runner;
  private final List<String> handlerNames;
  private final DoubleSupplier cpuPercent;
  private final OkHttpClient pollHttp;
  private final OkHttpClient http;
  private final HttpUrl leaseUrl;
  private final List<Slot> slots = new CopyOnWriteArrayList<>();
  private final CompletableFuture<Void> stopRequested = new CompletableFuture<>();
  private final AtomicBoolean operatorDown = new AtomicBoolean();
  private final AtomicBoolean poolMissing = new AtomicBoolean();
  private final AtomicBoolean interruptedAtShutdown = new AtomicBoolean();
  private volatile long drainDeadlineNanos;

  /** A worker that sends the pod's ServiceAccount token, when there is one. */
  public RemoteWorker(Settings settings, HandlerRegistry handlers) {
    this(settings, handlers, new ServiceAccountToken(ServiceAccountToken.DEFAULT_PATH));
  }

  /**
   * @param token sent as {@code Authorization: Bearer} on every request of the lease protocol
   */
  public RemoteWorker(Settings settings, HandlerRegistry handlers, ServiceAccountToken token) {
    this(settings, handlers, processCpuPercent(), token);
  }

  RemoteWorker(Settings settings, HandlerRegistry handlers, DoubleSupplier cpuPercent) {
    this(settings, handlers, cpuPercent, new ServiceAccountToken(ServiceAccountToken.DEFAULT_PATH));
  }

  RemoteWorker(
      Settings settings,
      HandlerRegistry handlers,
      DoubleSupplier cpuPercent,
      ServiceAccountToken token) {
    this.settings = settings;
    this.runner = new TaskRunner(handlers);
    this.handlerNames = List.copyOf(handlers.names());
    this.cpuPercent = cpuPercent;
    this.pollHttp =
        new OkHttpClient.Builder()
            .connectionPool(new ConnectionPool(2 * settings.concurrency(), 5, TimeUnit.MINUTES))
            .connectTimeout(Duration.ofSeconds(5))
            .writeTimeout(Duration.ofSeconds(10))
            .readTimeout(Duration.ofSeconds(WAIT_SECONDS + 15))
            .addInterceptor(
                chain -> {
                  Request request = chain.request();
                  Optional<String> bearer = token.get();
                  if (bearer.isPresent()) {
                    request =
                        request
                            .newBuilder()
                            .header("Authorization", "Bearer " + bearer.get())
                            .build();
                  }
                  Response response = chain.proceed(request);
                  if (response.code() == 401) {
                    token.invalidate();
                  }
                  return response;
                })
            .build();
    this.http = pollHttp.newBuilder().readTimeout(Duration.ofSeconds(10)).build();
    this.leaseUrl =
        api()
            .addPathSegment("namespaces")
            .addPathSegment(settings.namespace())
            .addPathSegment("pools")
            .addPathSegment(settings.pool())
            .addPathSegment("lease")
            .build();
  }

  /** Starts the lease loops; they run until {@link #shutdown()}, so after it this does nothing. */
  public synchronized RemoteWorker start() {
    if (!slots.isEmpty()) {
      throw new IllegalStateException("already started");
    }
    if (stopRequested.isDone()) {
      return this;
    }
    LOG.info(
        "worker {} serving pool {}/{} of {} with {} slot(s); handlers: {}",
        settings.workerId(),
        settings.namespace(),
        settings.pool(),
        settings.operatorUrl().redact(),
        settings.concurrency(),
        String.join(", ", handlerNames));
    for (int index = 0; index < settings.concurrency(); index++) {
      Slot slot = new Slot(index);
      slots.add(slot);
      slot.thread.start();
    }
    return this;
  }

  /**
   * Stops leasing and starts the drain: running attempts may finish until the drain ends, then they
   * are interrupted and handed back to the operator, which queues them again. Returns at once.
   */
  public void shutdown() {
    synchronized (this) {
      if (stopRequested.isDone()) {
        return;
      }
      drainDeadlineNanos = System.nanoTime() + settings.drain().toNanos();
      stopRequested.complete(null);
    }
    LOG.info("worker {} stopping; draining for up to {}", settings.workerId(), settings.drain());
    for (Slot slot : slots) {
      Call poll = slot.poll;
      // A poll already answered carries a grant: let it be read, so the task is handed back now
      // rather than when the operator gives up waiting for the lease to be confirmed.
      if (poll != null && !slot.answered) {
        poll.cancel();
      }
    }
  }

  /**
   * Waits until every lease loop has ended (after {@link #shutdown()}).
   *
   * @return true when every running attempt finished within the drain
   */
  public boolean awaitTermination() throws InterruptedException {
    for (Slot slot : slots) {
      slot.thread.join();
    }
    pollHttp.connectionPool().evictAll();
    boolean clean = !interruptedAtShutdown.get();
    LOG.info(
        "worker {} stopped{}",
        settings.workerId(),
        clean ? "" : "; attempts still running at the end of the drain were interrupted");
    return clean;
  }

  @Override
  public void close() {
    shutdown();
    try {
      awaitTermination();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- lease loop ----------------------------------------------------------------------------

  /** One lease loop and the lease request it is waiting on, which shutdown cancels. */
  private final class Slot implements Runnable {
    private final Thread thread;
    private volatile Call poll;
    private volatile boolean answered;

    Slot(int index) {
      thread = new Thread(this, "vera-worker-" + index);
    }

    @Override
    public void run() {
      Backoff.Sequence backoff = RECONNECT.sequence(Backoff.RANDOM);
      while (!stopRequested.isDone()) {
        Duration pause;
        try {
          long started = System.nanoTime();
          LeaseGrant grant = requestLease(this);
          operatorReachable();
          if (grant != null) {
            backoff.reset();
            if (stopRequested.isDone()) {
              // Leased as the worker stops: not started, so it goes back unharmed.
              handBack(grant, "before it started");
            } else {
              runLeased(grant);
            }
            continue;
          }
          if (System.nanoTime() - started >= MIN_EMPTY_POLL.toNanos()) {
            backoff.reset();
            continue;
          }
          pause = backoff.next();
        } catch (OperatorUnavailable e) {
          if (stopRequested.isDone()) {
            break;
          }
          operatorUnreachable(e);
          pause = backoff.next();
        } catch (OperatorRefused e) {
          operatorReachable();
          pause =
              Duration.ofMillis(
                  REFUSED_RETRY.toMillis() / 2
                      + ThreadLocalRandom.current().nextLong(REFUSED_RETRY.toMillis() / 2));
        } catch (InterruptedException e) {
          LOG.warn("lease loop {} interrupted; it stops", thread.getName());
          return;
        } catch (RuntimeException e) {
          LOG.error("lease loop {} failed; it goes on after a pause", thread.getName(), e);
          pause = backoff.next();
        }
        pauseUnlessStopped(pause);
      }
    }
  }

  /** Long-polls the operator; null when no task came within the wait. */
  private LeaseGrant requestLease(Slot slot) throws OperatorUnavailable, OperatorRefused {
    ObjectNode body = JSON.createObjectNode();
    body.put("worker_id", settings.workerId());
    handlerNames.forEach(body.putArray("handlers")::add);
    body.put("cpu_percent", Math.max(0, Math.min(100, cpuPercent.getAsDouble())));
    body.put("wait_seconds", WAIT_SECONDS);
    Call call = pollHttp.newCall(post(leaseUrl, body));
    slot.answered = false;
    slot.poll = call;
    if (stopRequested.isDone()) {
      call.cancel();
    }
    try (Response response = call.execute()) {
      slot.answered = true;
      switch (response.code()) {
        case 200 -> {
          poolMissing.set(false);
          return LeaseGrant.parse(JSON.readTree(response.body().byteStream()));
        }
        case 204 -> {
          poolMissing.set(false);
          return null;
        }
        case 404 -> {
          String detail = detail(response);
          if (poolMissing.compareAndSet(false, true)) {
            LOG.warn("{}; asking again within {}s", detail, REFUSED_RETRY.toSeconds());
          }
          throw new OperatorRefused();
        }
        default -> {
          if (response.code() >= 500) {
            throw new OperatorUnavailable("lease request answered " + status(response));
          }
          LOG.error(
              "operator refused the lease request: {}; asking again within {}s",
              status(response),
              REFUSED_RETRY.toSeconds());
          throw new OperatorRefused();
        }
      }
    } catch (IOException e) {
      throw new OperatorUnavailable("lease request failed: " + describe(e));
    } finally {
      slot.poll = null;
    }
  }

  /**
   * Runs one attempt on its own thread while this thread renews the lease and watches the deadline,
   * the drain and revocation; then reports the outcome unless the lease was revoked.
   */
  private void runLeased(LeaseGrant grant) throws InterruptedException {
    long start = System.nanoTime();
    long deadline = start + grant.timeout().toNanos();
    long renewEvery = grant.renewInterval().toNanos();
    // Renew at once: the operator counts the lease only once the worker confirms it this way.
    long nextRenew = start;
    Instant localDeadline = Instant.now().plus(grant.timeout());
    LOG.info("running task {} ({}), attempt {}", grant.taskId(), grant.handler(), grant.attempt());
    CompletableFuture<AttemptOutcome> outcome = new CompletableFuture<>();
    // The handler's latest progress report, sent with the next renewal.
    AtomicReference<ObjectNode> progress = new AtomicReference<>();
    Thread attempt =
        new Thread(
            () -> {
              try {
                outcome.complete(
                    runner.run(
                        null,
                        grant.taskId(),
                        grant.handler(),
                        grant.payload(),
                        grant.context(),
                        grant.attempt(),
                        localDeadline,
                        (fraction, message) -> {
                          ObjectNode report = JSON.createObjectNode();
                          if (Double.isNaN(fraction)) {
                            report.putNull("fraction");
                          } else {
                            report.put("fraction", fraction);
                          }
                          report.put("message", message);
                          progress.set(report);
                        }));
              } catch (Throwable t) {
                outcome.complete(
                    AttemptOutcome.failure(TaskError.HANDLER_ERROR, t.toString(), true));
              }
            },
            "vera-attempt-" + grant.taskId());
    attempt.setDaemon(true);
    attempt.start();
    Backoff.Sequence renewBackoff = RECONNECT.sequence(Backoff.RANDOM);
    while (true) {
      if (outcome.isDone()) {
        report(grant, outcome.join());
        return;
      }
      long now = System.nanoTime();
      boolean stopping = stopRequested.isDone();
      if (now - deadline >= 0) {
        attempt.interrupt();
        report(
            grant,
            AttemptOutcome.failure(
                TaskError.TIMEOUT,
                "attempt "
                    + grant.attempt()
                    + " exceeded its timeout of "
                    + grant.timeoutSeconds()
                    + "s on worker "
                    + settings.workerId(),
                true));
        awaitEnd(grant, outcome);
        return;
      }
      if (stopping && now - drainDeadlineNanos >= 0) {
        interruptedAtShutdown.set(true);
        attempt.interrupt();
        handBack(grant, "when the drain of " + settings.drain().toSeconds() + "s ended");
        return;
      }
      if (now - nextRenew >= 0) {
        switch (renew(grant, progress.getAndSet(null))) {
          case RENEWED -> {
            renewBackoff.reset();
            nextRenew = now + renewEvery;
          }
          case UNREACHABLE -> nextRenew = now + Math.min(renewEvery, renewBackoff.next().toNanos());
          case REVOKED -> {
            LOG.info(
                "lease of task {} was revoked (timed out, cancelled or expired); stopping the"
                    + " attempt and dropping its result",
                grant.taskId());
            attempt.interrupt();
            awaitEnd(grant, outcome);
            return;
          }
        }
        continue;
      }
      long wakeAt = earliest(nextRenew, deadline);
      if (stopping) {
        wakeAt = earliest(wakeAt, drainDeadlineNanos);
      }
      try {
        CompletableFuture.anyOf(outcome, stopping ? outcome : stopRequested)
            .get(Math.max(1, wakeAt - now), TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        // Time to renew, or the deadline or the end of the drain came.
      } catch (ExecutionException e) {
        throw new IllegalStateException("attempt futures never fail", e);
      }
    }
  }

  private static long earliest(long a, long b) {
    return a - b <= 0 ? a : b;
  }

  /**
   * Waits for an interrupted attempt to end, so this slot never runs two at once; a handler that
   * ignores interruption keeps its slot busy (with a warning) until it returns or the worker stops.
   */
  private void awaitEnd(LeaseGrant grant, CompletableFuture<AttemptOutcome> outcome)
      throws InterruptedException {
    while (!outcome.isDone() && !stopRequested.isDone()) {
      try {
        CompletableFuture.anyOf(outcome, stopRequested)
            .get(STUCK_WARNING.toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        LOG.warn(
            "the handler of task {} ({}) ignores interruption; its slot stays busy",
            grant.taskId(),
            grant.handler());
      } catch (ExecutionException e) {
        throw new IllegalStateException("attempt futures never fail", e);
      }
    }
  }

  // ---- renew and report ----------------------------------------------------------------------

  private enum Renewal {
    RENEWED,
    REVOKED,
    UNREACHABLE
  }

  private Renewal renew(LeaseGrant grant, ObjectNode progress) {
    ObjectNode body = JSON.createObjectNode();
    if (progress != null) {
      body.set("progress", progress);
    }
    try (Response response = http.newCall(post(leaseAction(grant, "renew"), body)).execute()) {
      if (response.isSuccessful()) {
        operatorReachable();
        return Renewal.RENEWED;
      }
      if (response.code() == 410) {
        return Renewal.REVOKED;
      }
      LOG.warn("renewing the lease of task {} failed: {}", grant.taskId(), status(response));
    } catch (IOException e) {
      operatorUnreachable(
          new OperatorUnavailable(
              "renewing the lease of task " + grant.taskId() + " failed: " + describe(e)));
    }
    return Renewal.UNREACHABLE;
  }

  /**
   * Reports an attempt's outcome, retrying while the operator is unreachable for as long as the
   * lease could still be held; 410 means the operator already settled the attempt.
   */
  private void report(LeaseGrant grant, AttemptOutcome outcome) {
    String action;
    ObjectNode body = JSON.createObjectNode();
    if (outcome.succeeded()) {
      action = "complete";
      body.set("result", outcome.result() == null ? JSON.nullNode() : outcome.result());
    } else {
      action = "fail";
      body.put("type", clip(outcome.error().type(), MAX_ERROR_TYPE));
      body.put("message", clip(outcome.error().message(), MAX_ERROR_MESSAGE));
      body.put("retryable", outcome.retryable());
    }
    Request request = post(leaseAction(grant, action), body);
    Duration retryFor =
        grant.leaseDuration().compareTo(MAX_REPORT_RETRY) < 0
            ? grant.leaseDuration()
            : MAX_REPORT_RETRY;
    long giveUpAt = System.nanoTime() + retryFor.toNanos();
    Backoff.Sequence backoff = RECONNECT.sequence(Backoff.RANDOM);
    while (true) {
      try (Response response = http.newCall(request).execute()) {
        int code = response.code();
        if (response.isSuccessful()) {
          operatorReachable();
          LOG.info(
              "task {} attempt {} {}",
              grant.taskId(),
              grant.attempt(),
              outcome.succeeded() ? "succeeded" : "failed: " + outcome.error().type());
          return;
        }
        if (code == 410) {
          LOG.info(
              "operator no longer holds the lease of task {} (timed out, cancelled or expired);"
                  + " its {} report was ignored",
              grant.taskId(),
              action);
          return;
        }
        if (code == 413 && outcome.succeeded()) {
          report(
              grant,
              AttemptOutcome.failure(
                  TaskError.RESULT_TOO_LARGE,
                  "the result is larger than the operator accepts in one request",
                  false));
          return;
        }
        if (code < 500) {
          LOG.error(
              "operator rejected the {} report of task {}: {}",
              action,
              grant.taskId(),
              status(response));
          return;
        }
        LOG.warn("{} report of task {} failed: {}", action, grant.taskId(), status(response));
      } catch (IOException e) {
        operatorUnreachable(
            new OperatorUnavailable(
                action + " report of task " + grant.taskId() + " failed: " + describe(e)));
      }
      Duration pause = backoff.next();
      if (System.nanoTime() + pause.toNanos() - giveUpAt > 0) {
        LOG.error(
            "gave up reporting task {} to the operator; its lease will expire and it will be"
                + " retried",
            grant.taskId());
        return;
      }
      sleep(pause);
    }
  }

  /**
   * Hands a leased task back to the operator, which queues it again without counting the attempt.
   * An operator without the release call (an older version) gets the attempt reported as failed
   * with WorkerShutdown instead, which its retries cover.
   */
  private void handBack(LeaseGrant grant, String when) {
    Request request = post(leaseAction(grant, "release"), JSON.createObjectNode());
    long giveUpAt = System.nanoTime() + MAX_REPORT_RETRY.toNanos();
    Backoff.Sequence backoff = RECONNECT.sequence(Backoff.RANDOM);
    while (true) {
      try (Response response = http.newCall(request).execute()) {
        int code = response.code();
        if (response.isSuccessful() || code == 410) {
          LOG.info(
              "worker {} stopping: handed task {} back {}{}",
              settings.workerId(),
              grant.taskId(),
              when,
              code == 410 ? " (the operator had already taken it back)" : "");
          return;
        }
        if (code == 404 || code == 405) {
          report(
              grant,
              AttemptOutcome.failure(
                  TaskError.WORKER_SHUTDOWN,
                  "worker "
                      + settings.workerId()
                      + " shut down before attempt "
                      + grant.attempt()
                      + " finished",
                  true));
          return;
        }
        if (code < 500) {
          LOG.error(
              "operator refused to take task {} back: {}; its lease will expire",
              grant.taskId(),
              status(response));
          return;
        }
        LOG.warn("handing task {} back failed: {}", grant.taskId(), status(response));
      } catch (IOException e) {
        operatorUnreachable(
            new OperatorUnavailable(
                "handing task " + grant.taskId() + " back failed: " + describe(e)));
      }
      Duration pause = backoff.next();
      if (System.nanoTime() + pause.toNanos() - giveUpAt > 0) {
        LOG.error(
            "gave up handing task {} back; its lease will expire and it will be retried",
            grant.taskId());
        return;
      }
      sleep(pause);
    }
  }

  // ---- helpers -------------------------------------------------------------------------------

  private HttpUrl.Builder api() {
    return settings.operatorUrl().newBuilder().addPathSegment("internal").addPathSegment("v1");
  }

  private HttpUrl leaseAction(LeaseGrant grant, String action) {
    return api()
        .addPathSegment("leases")
        .addPathSegment(grant.leaseId())
        .addPathSegment(action)
        .build();
  }

  private static Request post(HttpUrl url, JsonNode body) {
    try {
      return new Request.Builder()
          .url(url)
          .post(RequestBody.create(JSON.writeValueAsBytes(body), JSON_TYPE))
          .build();
    } catch (IOException e) {
      throw new IllegalStateException("cannot serialize a request body", e);
    }
  }

  /** Status code and the operator's {@code detail}, for logs. */
  private static String status(Response response) {
    return response.code() + " " + detail(response);
  }

  private static String detail(Response response) {
    try {
      ResponseBody body = response.body();
      String text = body.string();
      JsonNode json = text.isBlank() ? null : JSON.readTree(text);
      if (json != null && json.hasNonNull("detail")) {
        return json.get("detail").asText();
      }
      return clip(text, 500);
    } catch (IOException e) {
      return "(no readable body)";
    }
  }

  private static String describe(IOException e) {
    return e.getMessage() == null
        ? e.getClass().getSimpleName()
        : e.getClass().getSimpleName() + ": " + e.getMessage();
  }

  private static String clip(String text, int max) {
    return text == null || text.length() <= max ? text : text.substring(0, max);
  }

  private void operatorReachable() {
    if (operatorDown.compareAndSet(true, false)) {
      LOG.info("operator at {} is reachable again", settings.operatorUrl().redact());
    }
  }

  private void operatorUnreachable(OperatorUnavailable e) {
    if (operatorDown.compareAndSet(false, true)) {
      LOG.warn(
          "operator at {} unavailable ({}); retrying with backoff up to 10s",
          settings.operatorUrl().redact(),
          e.getMessage());
    } else {
      LOG.debug("operator still unavailable: {}", e.getMessage());
    }
  }

  /** Sleeps, but wakes as soon as shutdown is requested. */
  private void pauseUnlessStopped(Duration pause) {
    try {
      stopRequested.get(pause.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      // The pause is over.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException e) {
      throw new IllegalStateException("the stop signal never fails", e);
    }
  }

  private static void sleep(Duration pause) {
    try {
      Thread.sleep(pause.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** CPU use of this process in percent of the whole machine. */
  private static DoubleSupplier processCpuPercent() {
    OperatingSystemMXBean os = ManagementFactory.getPlatformMXBean(OperatingSystemMXBean.class);
    return () -> Math.max(0, os.getProcessCpuLoad() * 100.0);
  }

  /** The operator could not be reached or failed (5xx); worth retrying soon. */
  private static final class OperatorUnavailable extends Exception {
    OperatorUnavailable(String message) {
      super(message, null, false, false);
    }
  }

  /** The operator answered with a client error (already logged); retrying soon will not help. */
  private static final class OperatorRefused extends Exception {
    OperatorRefused() {
      super(null, null, false, false);
    }
  }
}
