package io.vera.operator.compute.docker;

import com.github.dockerjava.api.async.ResultCallback;

/**
 * A docker-java stream callback (exec output, stats) that remembers how its stream failed, so the
 * thread that waited for the stream raises that failure after the wait.
 */
abstract class FailureKeepingCallback<T> extends ResultCallback.Adapter<T> {
  private volatile Throwable failure;

  @Override
  public void onError(Throwable throwable) {
    failure = throwable;
    super.onError(throwable);
  }

  /** Throws the stream's failure, if it had one: unchecked as it came, or wrapped. */
  void rethrow() {
    Throwable t = failure;
    if (t instanceof RuntimeException runtime) {
      throw runtime;
    }
    if (t != null) {
      throw new IllegalStateException(t.getMessage(), t);
    }
  }
}
