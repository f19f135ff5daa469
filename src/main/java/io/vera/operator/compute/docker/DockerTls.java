package io.vera.operator.compute.docker;

import com.github.dockerjava.core.SSLConfig;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.ComputeException.Reason;
import io.vera.operator.provider.Credentials;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;

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
        PrivateKey privateKey = privateKey(key.get());
        List<Certificate> chain = certificates(cert.get());
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
        List<Certificate> cas = certificates(ca.get());
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

  /** Every certificate in PEM text, parsed by the JDK. */
  static List<Certificate> certificates(String pem) throws GeneralSecurityException {
    return new ArrayList<>(
        CertificateFactory.getInstance("X.509")
            .generateCertificates(
                new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII))));
  }

  /**
   * The first private key in PEM text: PKCS#8 ({@code PRIVATE KEY}) or traditional RSA/EC ({@code
   * RSA PRIVATE KEY}, {@code EC PRIVATE KEY}); null when there is none.
   */
  static PrivateKey privateKey(String pem) throws IOException, GeneralSecurityException {
    try (PEMParser parser = new PEMParser(new StringReader(pem))) {
      for (Object object = parser.readObject(); object != null; object = parser.readObject()) {
        PrivateKeyInfo info =
            object instanceof PEMKeyPair pair
                ? pair.getPrivateKeyInfo()
                : object instanceof PrivateKeyInfo plain ? plain : null;
        if (info != null) {
          PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(info.getEncoded());
          GeneralSecurityException last = null;
          for (String algorithm : new String[] {"RSA", "EC", "Ed25519", "Ed448"}) {
            try {
              return KeyFactory.getInstance(algorithm).generatePrivate(spec);
            } catch (GeneralSecurityException e) {
              last = e;
            }
          }
          throw last;
        }
      }
    }
    return null;
  }
}
