package io.vera.operator.compute.proxmox;

import java.io.StringWriter;
import java.math.BigInteger;
import java.net.InetAddress;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throwaway CA and a server certificate for 127.0.0.1 signed by it, made fresh for each
 * simulator, like the self-signed {@code pve-root-ca} every Proxmox install makes for itself.
 */
final class SimulatorTls {
  final String caPem;
  final SSLSocketFactory serverSocketFactory;

  private SimulatorTls(String caPem, SSLSocketFactory factory) {
    this.caPem = caPem;
    this.serverSocketFactory = factory;
  }

  static SimulatorTls create() throws Exception {
    KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
    gen.initialize(256);
    KeyPair caKeys = gen.generateKeyPair();
    KeyPair serverKeys = gen.generateKeyPair();
    Instant now = Instant.now();
    Date from = Date.from(now.minus(Duration.ofHours(1)));
    Date to = Date.from(now.plus(Duration.ofDays(2)));
    X500Name caName =
        new X500Name("CN=Proxmox Virtual Environment simulator CA, O=PVE Cluster Manager CA");
    X509v3CertificateBuilder ca =
        new JcaX509v3CertificateBuilder(
            caName, BigInteger.valueOf(now.toEpochMilli()), from, to, caName, caKeys.getPublic());
    ca.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
    ca.addExtension(
        Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    X509Certificate caCert =
        new JcaX509CertificateConverter()
            .getCertificate(
                ca.build(
                    new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate())));

    X509v3CertificateBuilder server =
        new JcaX509v3CertificateBuilder(
            caName,
            BigInteger.valueOf(now.toEpochMilli() + 1),
            from,
            to,
            new X500Name("CN=pve1.sim, O=Proxmox Virtual Environment"),
            serverKeys.getPublic());
    server.addExtension(
        Extension.subjectAlternativeName,
        false,
        new GeneralNames(
            new GeneralName[] {
              new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
              new GeneralName(GeneralName.dNSName, "localhost")
            }));
    server.addExtension(
        Extension.keyUsage,
        true,
        new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment | KeyUsage.keyAgreement));
    X509Certificate serverCert =
        new JcaX509CertificateConverter()
            .getCertificate(
                server.build(
                    new JcaContentSignerBuilder("SHA256withECDSA").build(caKeys.getPrivate())));

    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    char[] password = "sim".toCharArray();
    store.setKeyEntry(
        "server", serverKeys.getPrivate(), password, new X509Certificate[] {serverCert, caCert});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(store, password);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(kmf.getKeyManagers(), null, null);

    StringWriter pem = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(pem)) {
      w.writeObject(caCert);
    }
    InetAddress.getByName("127.0.0.1");
    return new SimulatorTls(pem.toString(), context.getSocketFactory());
  }
}
