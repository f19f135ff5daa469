package io.vera.operator.compute.proxmox;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import javax.net.ssl.SSLException;
import okhttp3.FormBody;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How {@link ProxmoxClient} signs its calls: with an API token, or with a session ticket it logs in
 * for and renews. Nothing here logs or throws a secret, a password or a ticket.
 */
sealed interface ProxmoxAuth permits ProxmoxAuth.Token, ProxmoxAuth.Ticket {
  /** Adds the credentials to a request; {@code write} for any method but GET. */
  void sign(Request.Builder request, boolean write) throws ProxmoxException;

  /** Whether a 401 can be cured by logging in again. */
  boolean renewable();

  /** Forgets the session after a 401, so the next call logs in again. */
  void invalidate();

  /** {@code Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET}; no CSRF token needed. */
  final class Token implements ProxmoxAuth {
    private final String header;

    Token(String tokenId, String secret) throws ProxmoxException {
      if (!tokenId.contains("@") || !tokenId.contains("!")) {
        throw new ProxmoxException(
            ProxmoxException.Kind.HTTP,
            400,
            "tokenId must read USER@REALM!TOKENID (e.g. vera@pve!operator)",
            null);
      }
      String value = "PVEAPIToken=" + tokenId.strip() + "=" + secret.strip();
      for (int i = 0; i < value.length(); i++) {
        char c = value.charAt(i);
        if (c < 0x21 || c > 0x7e) {
          throw new ProxmoxException(
              ProxmoxException.Kind.HTTP,
              400,
              "tokenId or tokenSecret holds a character that cannot go in a header",
              null);
        }
      }
      this.header = value;
    }

    @Override
    public void sign(Request.Builder request, boolean write) {
      request.header("Authorization", header);
    }

    @Override
    public boolean renewable() {
      return false;
    }

    @Override
    public void invalidate() {}
  }

  /**
   * Ticket auth: {@code POST /access/ticket} with user and password, then the {@code PVEAuthCookie}
   * cookie, plus the {@code CSRFPreventionToken} header on writes. A ticket is renewed before it
   * expires and after a 401.
   */
  final class Ticket implements ProxmoxAuth {
    private static final Logger LOG = LoggerFactory.getLogger(Ticket.class);

    private final String username;
    private final String password;
    private final HttpUrl base;
    private final OkHttpClient http;
    private final Clock clock;
    private final Duration lifetime;
    private String ticket;
    private String csrf;
    private Instant issued;

    /**
     * @param base the API's base URL, where {@code access/ticket} is
     * @param lifetime a ticket older than this is renewed before use
     */
    Ticket(
        String username,
        String password,
        HttpUrl base,
        OkHttpClient http,
        Clock clock,
        Duration lifetime) {
      this.username = username;
      this.password = password;
      this.base = base;
      this.http = http;
      this.clock = clock;
      this.lifetime = lifetime;
    }

    @Override
    public void sign(Request.Builder request, boolean write) throws ProxmoxException {
      String[] current = current();
      request.header("Cookie", "PVEAuthCookie=" + current[0]);
      if (write) {
        request.header("CSRFPreventionToken", current[1]);
      }
    }

    private synchronized String[] current() throws ProxmoxException {
      if (ticket == null || !clock.instant().isBefore(issued.plus(lifetime))) {
        login();
      }
      return new String[] {ticket, csrf};
    }

    private void login() throws ProxmoxException {
      Request request =
          new Request.Builder()
              .url(base.newBuilder().addPathSegments("access/ticket").build())
              .post(
                  new FormBody.Builder()
                      .add("username", username)
                      .add("password", password)
                      .build())
              .header("Accept", "application/json")
              .build();
      try (Response response = http.newCall(request).execute()) {
        ResponseBody body = response.body();
        String text = body == null ? "" : body.string();
        if (!response.isSuccessful()) {
          ProxmoxException e =
              ProxmoxClient.httpError(
                  "POST", "access/ticket", response.code(), response.message(), text);
          // A failed login is not cured by logging in again.
          throw new ProxmoxException(
              ProxmoxException.Kind.HTTP,
              response.code() == 401 ? 403 : response.code(),
              "login as " + username + " failed: " + e.getMessage(),
              e.fieldErrors());
        }
        JsonNode data = ProxmoxClient.JSON.readTree(text).path("data");
        String t = Json.text(data, "ticket");
        String c = Json.text(data, "CSRFPreventionToken");
        if (t == null || c == null) {
          throw new ProxmoxException(
              ProxmoxException.Kind.HTTP, 502, "login answer carries no ticket", null);
        }
        ticket = t;
        csrf = c;
        issued = clock.instant();
        LOG.debug("logged in to {} as {}", base.host(), username);
      } catch (IOException e) {
        throw new ProxmoxException(
            e instanceof SSLException ? ProxmoxException.Kind.TLS : ProxmoxException.Kind.NETWORK,
            "login: " + e.getClass().getSimpleName() + ": " + e.getMessage(),
            e);
      }
    }

    @Override
    public boolean renewable() {
      return true;
    }

    @Override
    public synchronized void invalidate() {
      ticket = null;
      csrf = null;
    }
  }
}
