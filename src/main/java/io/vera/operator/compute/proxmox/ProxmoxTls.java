package io.vera.operator.compute.proxmox;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import okhttp3.OkHttpClient;

/**
 * How the client trusts the Proxmox API's certificate: the JVM's CAs (default), only the CA(s) of
 * the Provider's {@code caSecretRef} ({@code ca.crt}, PEM; Proxmox's own {@code pve-root-ca.pem}),
 * or nothing at all when {@code verifyTls: false} asks for it.
 */
final class ProxmoxTls {
  private ProxmoxTls() {}

  /** Applies the trust decision to {@code builder}. */
  static void configure(OkHttpClient.Builder builder, boolean verify, String caPem)
      throws GeneralSecurityException {
    if (!verify) {
      X509TrustManager trustAll = new TrustAllManager();
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, new TrustManager[] {trustAll}, null);
      builder.sslSocketFactory(context.getSocketFactory(), trustAll);
      builder.hostnameVerifier((host, session) -> true);
      return;
    }
    if (caPem == null || caPem.isBlank()) {
      return;
    }
    CertificateFactory factory = CertificateFactory.getInstance("X.509");
    Collection<? extends Certificate> certificates =
        factory.generateCertificates(
            new ByteArrayInputStream(caPem.getBytes(StandardCharsets.US_ASCII)));
    if (certificates.isEmpty()) {
      throw new GeneralSecurityException("ca.crt holds no PEM certificate");
    }
    KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
    try {
      store.load(null, null);
    } catch (java.io.IOException e) {
      throw new GeneralSecurityException(e);
    }
    int i = 0;
    for (Certificate certificate : certificates) {
      store.setCertificateEntry("ca-" + i++, certificate);
    }
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(store);
    X509TrustManager trust = (X509TrustManager) tmf.getTrustManagers()[0];
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, new TrustManager[] {trust}, null);
    builder.sslSocketFactory(context.getSocketFactory(), trust);
  }

  /** Accepts every certificate; used only when a Provider sets {@code verifyTls: false}. */
  private static final class TrustAllManager implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
