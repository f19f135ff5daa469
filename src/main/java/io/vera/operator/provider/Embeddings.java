package io.vera.operator.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;

/**
 * A client that answers OpenAI-shaped embeddings ({@code POST /v1/embeddings}), whatever its
 * upstream speaks: OpenAI and compatible servers take the body as it is, Gemini's {@code
 * batchEmbedContents} a translation of it.
 */
public interface Embeddings {
  /**
   * Embeds the caller's {@code body} ({@code input}, {@code dimensions}, {@code encoding_format},
   * ...) with {@code model}, within {@code timeout} and at most {@code retries} retries.
   *
   * @return the answer with {@code output} an OpenAI embeddings {@code list}, priced by its usage
   */
  ProviderResult embeddings(ObjectNode body, String model, Duration timeout, int retries)
      throws ProviderException;
}
