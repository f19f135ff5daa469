package io.vera.operator.compute.docker;

import com.github.dockerjava.core.SSLConfig;
import com.github.dockerjava.core.util.CertificateUtils;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.provider.Credentials;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;

/**
 * The TLS context of a Docker host from the PEM values of its Secret: {@code ca.crt} (the CA that
 * signed the engine's certificate; the JVM's trust store when absent) and {@code tls.crt} with
 * {@code tls.key} (the client certificate the engine asks for). Key material stays in memory and
 * never reaches a message or a log: errors name the key, not its value.
 */
final class DockerTls {
  static final String CA = "ca.crt";
  static final String CERT = "tls.crt";
  static final String KEY = "tls.key";

  private DockerTls() {}

  /** Whether the Secret values hold anything TLS can use. */
  static boolean present(Credentials tls) {
    return tls != null
        && (tls.get(CA).isPresent() || tls.get(CERT).isPresent() || tls.get(KEY).isPresent());
  }

  /** An SSL context built once, now, so a bad Secret is an INVALID spec and not a late failure. */
  static SSLConfig sslConfig(Credentials tls) throws ComputeException {
    Optional<String> ca = tls.get(CA);
    Optional<String> cert = tls.get(CERT);
    Optional<String> key = tls.get(KEY);
    if (cert.isPresent() != key.isPresent()) {
      throw new ComputeException(
          Reason.INVALID,
          "the Docker TLS Secret needs both '" + CERT + "' and '" + KEY + "', or neither");
    }
    SSLContext context;
    try {
      KeyManager[] keyManagers = null;
      if (cert.isPresent()) {
        PrivateKey privateKey = CertificateUtils.loadPrivateKey(key.get());
        List<Certificate> chain = CertificateUtils.loadCertificates(cert.get());
        if (privateKey == null || chain.isEmpty()) {
          throw new ComputeException(
              Reason.INVALID,
              "the Docker TLS Secret's '"
                  + CERT
                  + "' or '"
                  + KEY
                  + "' holds no PEM certificate or key");
        }
        char[] password = new char[0];
        KeyStore keyStore = KeyStore.getInstance(KeyStore.getDefaultType());
        keyStore.load(null, null);
        keyStore.setKeyEntry("docker", privateKey, password, chain.toArray(Certificate[]::new));
        KeyManagerFactory kmf =
            KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keyStore, password);
        keyManagers = kmf.getKeyManagers();
      }
      TrustManager[] trustManagers = null;
      if (ca.isPresent()) {
        List<Certificate> cas = CertificateUtils.loadCertificates(ca.get());
        if (cas.isEmpty()) {
          throw new ComputeException(
              Reason.INVALID, "the Docker TLS Secret's '" + CA + "' holds no PEM certificate");
        }
        KeyStore trustStore = KeyStore.getInstance(KeyStore.getDefaultType());
        trustStore.load(null, null);
        for (int i = 0; i < cas.size(); i++) {
          trustStore.setCertificateEntry("ca-" + i, cas.get(i));
        }
        TrustManagerFactory tmf =
            TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trustStore);
        trustManagers = tmf.getTrustManagers();
      }
      context = SSLContext.getInstance("TLS");
      context.init(keyManagers, trustManagers, new SecureRandom());
    } catch (ComputeException e) {
      throw e;
    } catch (Exception e) {
      // The exception's own message may quote PEM content; say only what kind of failure it was.
      throw new ComputeException(
          Reason.INVALID,
          "the Docker TLS Secret's certificates or key cannot be read ("
              + e.getClass().getSimpleName()
              + ")");
    }
    return () -> context;
  }
}
