package io.vera.operator.compute.docker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vera.operator.api.ProviderSpec;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.provider.Credentials;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.StringWriter;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HashMap;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * How {@link DockerHost#connect} reads a Provider: host URLs, timeouts and TLS. The TLS cases run
 * against the real engine behind a mutual-TLS proxy on loopback that forwards to its unix socket.
 */
class DockerConnectTest {
  @RegisterExtension static final DockerTestEngine docker = new DockerTestEngine();

  @Test
  void hostUrlsThatCannotNameAnEngineAreInvalid() {
    assertInvalid("http://127.0.0.1:2375", null, "must be unix:///path or tcp://host:port");
    assertInvalid("tcp://127.0.0.1", null, "must be tcp://host:port");
    assertInvalid("unix://", null, "");
    assertInvalid("not a url at all", null, "");
    assertInvalid(
        "unix:///var/run/docker.sock",
        new Credentials(Map.of("ca.crt", "x")),
        "a TLS Secret applies to tcp only");
  }

  @Test
  void badTlsMaterialIsInvalidAndNeverQuoted() {
    assertInvalid(
        "tcp://127.0.0.1:2376",
        new Credentials(Map.of("tls.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n")),
        "needs both 'tls.crt' and 'tls.key'");
    String secret = "c2VjcmV0LWtleS1tYXRlcmlhbA==";
    assertThatThrownBy(
            () ->
                DockerHost.connect(
                    "tcp://127.0.0.1:2376",
                    new Credentials(
                        Map.of(
                            "tls.crt",
                            "-----BEGIN CERTIFICATE-----\n"
                                + secret
                                + "\n-----END CERTIFICATE-----\n",
                            "tls.key",
                            "-----BEGIN PRIVATE KEY-----\n"
                                + secret
                                + "\n-----END PRIVATE KEY-----\n")),
                    Duration.ofSeconds(2),
                    new InstanceId("any")))
        .isInstanceOfSatisfying(
            ComputeException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reason.INVALID);
              assertThat(e.getMessage()).doesNotContain(secret);
              assertThat(e.getCause()).isNull();
            });
  }

  @Test
  void providerSpecDefaultsToTheLocalSocketAndHonoursItsTimeout() throws Exception {
    ProviderSpec spec = new ProviderSpec();
    spec.type = ProviderSpec.Type.Docker;
    try (DockerHost host = DockerHost.connect(spec, null, docker.instance())) {
      assertThat(host.host()).isEqualTo(DockerHost.DEFAULT_HOST);
    }
    spec.docker = new ProviderSpec.DockerHost();
    spec.docker.host = DockerTestEngine.engineUrl();
    spec.timeoutSeconds = 5;
    try (DockerHost host = DockerHost.connect(spec, new Credentials(Map.of()), docker.instance())) {
      assertThat(host.probe().version()).isNotBlank();
    }
  }

  @Test
  void tcpWithMutualTlsReachesTheEngineAndWithoutTheClientCertificateDoesNot() throws Exception {
    Pki pki = new Pki();
    try (TlsProxy proxy = new TlsProxy(pki)) {
      String url = "tcp://127.0.0.1:" + proxy.port();
      Map<String, String> values = new HashMap<>();
      values.put("ca.crt", pki.caPem);
      values.put("tls.crt", pki.clientCertPem);
      values.put("tls.key", pki.clientKeyPem);
      try (DockerHost host =
          DockerHost.connect(
              url, new Credentials(values), Duration.ofSeconds(10), docker.instance())) {
        assertThat(host.probe().version())
            .isEqualTo(docker.client().versionCmd().exec().getVersion());
        assertThat(host.listOwned()).isNotNull();
      }

      try (DockerHost noClientCert =
          DockerHost.connect(
              url,
              new Credentials(Map.of("ca.crt", pki.caPem)),
              Duration.ofSeconds(5),
              docker.instance())) {
        assertThatThrownBy(noClientCert::probe)
            .isInstanceOfSatisfying(
                ComputeException.class, e -> assertThat(e.reason()).isEqualTo(Reason.UNAVAILABLE));
      }

      Pki stranger = new Pki();
      values.put("ca.crt", stranger.caPem);
      try (DockerHost wrongCa =
          DockerHost.connect(
              url, new Credentials(values), Duration.ofSeconds(5), docker.instance())) {
        assertThatThrownBy(wrongCa::probe)
            .isInstanceOfSatisfying(
                ComputeException.class, e -> assertThat(e.reason()).isEqualTo(Reason.UNAVAILABLE));
      }
    }
  }

  @Test
  void gpusComeFromGenericResourcesElseFromNvidiaRuntimes() throws Exception {
    com.fasterxml.jackson.databind.ObjectMapper json =
        new com.fasterxml.jackson.databind.ObjectMapper();
    assertThat(DockerHost.gpuCount(json.readTree("{\"Runtimes\":{\"runc\":{}}}"))).isZero();
    assertThat(DockerHost.gpuCount(json.readTree("{\"Runtimes\":{\"runc\":{},\"nvidia\":{}}}")))
        .isEqualTo(1);
    assertThat(
            DockerHost.gpuCount(
                json.readTree(
                    "{\"Runtimes\":{\"nvidia\":{}},\"GenericResources\":["
                        + "{\"DiscreteResourceSpec\":{\"Kind\":\"NVIDIA-GPU\",\"Value\":4}},"
                        + "{\"NamedResourceSpec\":{\"Kind\":\"gpu\",\"Value\":\"GPU-1\"}}]}")))
        .isEqualTo(5);
  }

  private static void assertInvalid(String url, Credentials tls, String message) {
    assertThatThrownBy(
            () -> DockerHost.connect(url, tls, Duration.ofSeconds(2), new InstanceId("any")))
        .isInstanceOfSatisfying(
            ComputeException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reason.INVALID);
              assertThat(e.getMessage()).contains(message);
            });
  }

  /** A CA, a server certificate for 127.0.0.1 and a client certificate, all PEM. */
  static final class Pki {
    final KeyPair caKeys = keys();
    final X509Certificate ca;
    final KeyPair serverKeys = keys();
    final X509Certificate server;
    final KeyPair clientKeys = keys();
    final X509Certificate client;
    final String caPem;
    final String clientCertPem;
    final String clientKeyPem;

    Pki() throws Exception {
      ca = certificate("CN=vera-test-ca", caKeys, "CN=vera-test-ca", caKeys, true, false);
      server = certificate("CN=127.0.0.1", serverKeys, "CN=vera-test-ca", caKeys, false, true);
      client = certificate("CN=vera-client", clientKeys, "CN=vera-test-ca", caKeys, false, false);
      caPem = pem(ca);
      clientCertPem = pem(client);
      // PKCS#8, as openssl genpkey writes it.
      clientKeyPem =
          "-----BEGIN PRIVATE KEY-----\n"
              + java.util.Base64.getMimeEncoder(
                      64, "\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII))
                  .encodeToString(clientKeys.getPrivate().getEncoded())
              + "\n-----END PRIVATE KEY-----\n";
    }

    private static KeyPair keys() {
      try {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(256);
        return generator.generateKeyPair();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }

    private static X509Certificate certificate(
        String subject,
        KeyPair subjectKeys,
        String issuer,
        KeyPair issuerKeys,
        boolean isCa,
        boolean loopback)
        throws Exception {
      Instant now = Instant.now();
      X509v3CertificateBuilder builder =
          new JcaX509v3CertificateBuilder(
              new X500Name(issuer),
              BigInteger.valueOf(now.toEpochMilli()).add(BigInteger.valueOf(System.nanoTime())),
              Date.from(now.minusSeconds(3600)),
              Date.from(now.plusSeconds(3600)),
              new X500Name(subject),
              subjectKeys.getPublic());
      builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(isCa));
      if (loopback) {
        builder.addExtension(
            Extension.subjectAlternativeName,
            false,
            new GeneralNames(new GeneralName(GeneralName.iPAddress, "127.0.0.1")));
      }
      return new JcaX509CertificateConverter()
          .getCertificate(
              builder.build(
                  new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKeys.getPrivate())));
    }

    private static String pem(Object object) throws IOException {
      StringWriter text = new StringWriter();
      try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
        writer.writeObject(object);
      }
      return text.toString();
    }

    SSLContext serverContext() throws Exception {
      KeyStore keyStore = KeyStore.getInstance(KeyStore.getDefaultType());
      keyStore.load(null, null);
      keyStore.setKeyEntry(
          "server", serverKeys.getPrivate(), new char[0], new X509Certificate[] {server, ca});
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keyStore, new char[0]);
      KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
      trust.load(null, null);
      trust.setCertificateEntry("ca", ca);
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return context;
    }
  }

  /** Mutual TLS on 127.0.0.1, each connection forwarded to the engine's unix socket. */
  static final class TlsProxy implements AutoCloseable {
    private final SSLServerSocket server;
    private final Thread acceptor;

    TlsProxy(Pki pki) throws Exception {
      server =
          (SSLServerSocket)
              pki.serverContext()
                  .getServerSocketFactory()
                  .createServerSocket(0, 50, InetAddress.getLoopbackAddress());
      server.setNeedClientAuth(true);
      String socketPath = java.net.URI.create(DockerTestEngine.engineUrl()).getPath();
      acceptor =
          new Thread(
              () -> {
                while (!server.isClosed()) {
                  try {
                    Socket client = server.accept();
                    SocketChannel engine = SocketChannel.open(StandardProtocolFamily.UNIX);
                    engine.connect(UnixDomainSocketAddress.of(socketPath));
                    // Raw channel reads and writes: Channels.newInputStream/newOutputStream share
                    // one lock on a blocking channel, so a pending read would block every write.
                    InputStream fromClient = client.getInputStream();
                    OutputStream toClient = client.getOutputStream();
                    pump(
                        () -> {
                          byte[] buffer = new byte[16384];
                          for (int n; (n = fromClient.read(buffer)) >= 0; ) {
                            ByteBuffer chunk = ByteBuffer.wrap(buffer, 0, n);
                            while (chunk.hasRemaining()) {
                              engine.write(chunk);
                            }
                          }
                        },
                        client,
                        engine);
                    pump(
                        () -> {
                          ByteBuffer buffer = ByteBuffer.allocate(16384);
                          while (engine.read(buffer) >= 0) {
                            toClient.write(buffer.array(), 0, buffer.position());
                            toClient.flush();
                            buffer.clear();
                          }
                        },
                        client,
                        engine);
                  } catch (IOException e) {
                    // closed, or a client that failed the handshake
                  }
                }
              },
              "tls-proxy");
      acceptor.setDaemon(true);
      acceptor.start();
    }

    interface Copy {
      void run() throws IOException;
    }

    private static void pump(Copy copy, Socket client, SocketChannel engine) {
      Thread thread =
          new Thread(
              () -> {
                try {
                  copy.run();
                } catch (IOException e) {
                  // either side went away
                } finally {
                  try {
                    client.close();
                    engine.close();
                  } catch (IOException ignored) {
                    // closing anyway
                  }
                }
              },
              "tls-proxy-pump");
      thread.setDaemon(true);
      thread.start();
    }

    int port() {
      return server.getLocalPort();
    }

    @Override
    public void close() throws IOException {
      server.close();
    }
  }
}
