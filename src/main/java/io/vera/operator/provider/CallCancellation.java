package io.vera.operator.provider;

import java.io.IOException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import okhttp3.Call;
import okhttp3.Interceptor;
import okhttp3.Response;

/**
 * Lets the thread that runs a provider call abort it from outside. A blocked socket read ignores
 * {@link Thread#interrupt()}, so a task that is cancelled or revoked mid-call cancels the HTTP
 * calls its thread has in flight: every provider HTTP client carries {@link #INTERCEPTOR}, which
 * enrols each call made inside {@link #run} with that attempt's scope.
 */
public final class CallCancellation {
  private static final ThreadLocal<CallCancellation> CURRENT = new ThreadLocal<>();

  /** Enrols calls made on a thread inside {@link #run}; does nothing elsewhere. */
  public static final Interceptor INTERCEPTOR =
      new Interceptor() {
        @Override
        public Response intercept(Chain chain) throws IOException {
          CallCancellation scope = CURRENT.get();
          if (scope != null) {
            scope.inFlight.add(chain.call());
          }
          return chain.proceed(chain.request());
        }
      };

  private final Set<Call> inFlight = ConcurrentHashMap.newKeySet();

  /** Something that may throw a provider failure. */
  @FunctionalInterface
  public interface Action<T> {
    T run() throws ProviderException;
  }

  /** Runs {@code action} on this thread with its HTTP calls enrolled in this scope. */
  public <T> T run(Action<T> action) throws ProviderException {
    CallCancellation outer = CURRENT.get();
    CURRENT.set(this);
    try {
      return action.run();
    } finally {
      if (outer == null) {
        CURRENT.remove();
      } else {
        CURRENT.set(outer);
      }
      inFlight.clear();
    }
  }

  /**
   * Cancels the calls in flight now. Calls made afterwards go ahead, so a client can still tell the
   * upstream to stop a job (RunPod's {@code cancel}) once its wait was cut short.
   */
  public void cancel() {
    for (Call call : inFlight) {
      call.cancel();
    }
    inFlight.clear();
  }
}
