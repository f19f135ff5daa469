package io.vera.operator.provider;

import java.util.function.Consumer;

/**
 * A client that answers OpenAI-shaped chat completions, whatever its upstream speaks: the
 * OpenAI-compatible gateway calls every LLM Provider through this, under the same deadline,
 * retries, usage reading and pricing as the legacy calls.
 */
public interface ChatCompletions {
  /**
   * Makes one call and waits for its whole answer.
   *
   * @return the answer with {@code output} an OpenAI {@code chat.completion} object
   */
  ProviderResult chat(ChatRequest request) throws ProviderException;

  /** Whether calls to {@code model} (null for the client's default) can be priced. */
  boolean prices(String model);

  /** The cost of {@code usage} with {@code model} (null for the default), or null if unpriced. */
  Double cost(String model, TokenUsage usage);

  /**
   * Makes one streaming call, handing each OpenAI {@code chat.completion.chunk} (its JSON, without
   * the SSE framing) to {@code onChunk} as it is ready. Failures before the first chunk are thrown
   * (so the call can go elsewhere); after it, the stream ends with {@code complete} false and is
   * never replayed.
   */
  ProviderResult chatStream(ChatRequest request, Consumer<String> onChunk) throws ProviderException;
}
