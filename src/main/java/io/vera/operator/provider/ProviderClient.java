package io.vera.operator.provider;

import java.util.function.Consumer;

/**
 * One external system behind one interface: an LLM API, AWS Lambda, RunPod or a configured HTTP
 * endpoint. Implementations read usage from the wire (never estimate it), retry only what is safe
 * to retry, and never put credentials into exceptions, logs or results.
 */
public interface ProviderClient extends AutoCloseable {
  /** Makes one call and waits for its whole answer. */
  ProviderResult call(ProviderRequest request) throws ProviderException;

  /**
   * Makes one streaming call, handing each piece of output to {@code onChunk} as it arrives, and
   * returns the totals. A stream cut short returns what was received with {@code complete} false;
   * once a chunk was handed on, the call is never replayed.
   *
   * @throws ProviderException if the call failed before any chunk was handed on
   */
  ProviderResult stream(ProviderRequest request, Consumer<String> onChunk) throws ProviderException;

  /** A cheap live check that the endpoint answers and the credentials are accepted. */
  void probe() throws ProviderException;

  @Override
  default void close() {}
}
