package io.vera.operator.provider.endpoint;

import io.vera.operator.provider.ProviderClient;
import io.vera.operator.provider.ProviderException;
import io.vera.operator.provider.ProviderRequest;
import io.vera.operator.provider.ProviderResult;
import java.util.function.Consumer;

/**
 * What Lambda, RunPod and HTTP clients share: their answers arrive whole, so a "stream" is the call
 * followed by one chunk with the whole output.
 */
abstract class EndpointClient implements ProviderClient {
  final Upstream upstream;

  EndpointClient(Transport transport) {
    this.upstream = new Upstream(transport);
  }

  @Override
  public ProviderResult stream(ProviderRequest request, Consumer<String> onChunk)
      throws ProviderException {
    ProviderResult result = call(request);
    if (!result.output().isNull()) {
      onChunk.accept(Calls.text(result.output()));
    }
    return result;
  }
}
