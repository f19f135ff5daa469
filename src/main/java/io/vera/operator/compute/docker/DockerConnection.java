package io.vera.operator.compute.docker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.core.SSLConfig;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import com.github.dockerjava.transport.DockerHttpClient;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.provider.Credentials;
import java.net.URI;
import java.time.Duration;
import java.util.Locale;

/**
 * The clients of one Docker engine: its URL checked ({@code unix:///path} or {@code
 * tcp://host:port}, TLS over tcp only), and two HTTP clients over it. One has the Provider's
 * response timeout, for every plain API call; the other has no read timeout, for the streams that
 * may stay silent for long (exec output, image pulls, stats), which are bounded by their own
 * deadlines instead.
 */
final class DockerConnection implements AutoCloseable {
  final String host;
  final Duration timeout;

  /** Image pulls: five times the timeout, at least five minutes. */
  final Duration pullTimeout;

  final DockerHttpClient apiHttp;
  final DockerHttpClient streamHttp;
  final DockerClient api;
  final DockerClient streams;

  private DockerConnection(String host, SSLConfig ssl, Duration timeout) {
    this.host = host;
    this.timeout = timeout;
    Duration pull = timeout.multipliedBy(5);
    this.pullTimeout = pull.compareTo(Duration.ofMinutes(5)) < 0 ? Duration.ofMinutes(5) : pull;
    URI uri = URI.create(host);
    DefaultDockerClientConfig config =
        DefaultDockerClientConfig.createDefaultConfigBuilder()
            .withDockerHost(host)
            .withDockerTlsVerify(ssl != null)
            .withCustomSslConfig(ssl)
            .build();
    this.apiHttp =
        new ApacheDockerHttpClient.Builder()
            .dockerHost(uri)
            .sslConfig(ssl)
            .maxConnections(64)
            .connectionTimeout(timeout)
            .responseTimeout(timeout)
            .build();
    this.streamHttp =
        new ApacheDockerHttpClient.Builder()
            .dockerHost(uri)
            .sslConfig(ssl)
            .maxConnections(64)
            .connectionTimeout(timeout)
            .build();
    this.api = DockerClientImpl.getInstance(config, apiHttp);
    this.streams = DockerClientImpl.getInstance(config, streamHttp);
  }

  /**
   * Clients for the engine at {@code host}; nothing is sent yet.
   *
   * @param tls {@code ca.crt} and/or {@code tls.crt} with {@code tls.key} for TLS over tcp; null or
   *     empty for plain tcp or a unix socket
   * @throws ComputeException INVALID when the URL or the TLS material cannot be used
   */
  static DockerConnection open(String host, Credentials tls, Duration timeout)
      throws ComputeException {
    URI uri;
    try {
      uri = URI.create(host);
    } catch (IllegalArgumentException e) {
      throw new ComputeException(Reason.INVALID, "the Docker host '" + host + "' is not a URL");
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    boolean withTls = DockerTls.present(tls);
    switch (scheme) {
      case "unix" -> {
        if (uri.getPath() == null || uri.getPath().isBlank()) {
          throw new ComputeException(
              Reason.INVALID, "the Docker host '" + host + "' names no socket path");
        }
        if (withTls) {
          throw new ComputeException(
              Reason.INVALID,
              "the Docker host '" + host + "' is a unix socket; a TLS Secret applies to tcp only");
        }
      }
      case "tcp" -> {
        if (uri.getHost() == null || uri.getPort() < 0) {
          throw new ComputeException(
              Reason.INVALID, "the Docker host '" + host + "' must be tcp://host:port");
        }
      }
      default ->
          throw new ComputeException(
              Reason.INVALID,
              "the Docker host '" + host + "' must be unix:///path or tcp://host:port");
    }
    SSLConfig ssl = withTls ? DockerTls.sslConfig(tls) : null;
    Duration pull = timeout.multipliedBy(5);
    return new DockerConnection(host, withTls ? DockerTls.sslConfig(tls) : null, timeout);
  }

  @Override
  public void close() {
    DockerErrors.closeQuietly(api);
    DockerErrors.closeQuietly(streams);
    DockerErrors.closeQuietly(apiHttp);
    DockerErrors.closeQuietly(streamHttp);
  }
}
