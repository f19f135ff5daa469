package io.vera.operator.compute.proxmox;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A guest's IPv4 address: a VM's as its QEMU guest agent reports it, a container's from its
 * interfaces. The first usable one counts (not loopback, not link-local). After a start it waits up
 * to the agent timeout, since the agent and DHCP come up some time after the guest runs.
 */
final class GuestAddresses {
  private static final Logger LOG = LoggerFactory.getLogger(GuestAddresses.class);

  private final ProxmoxClient client;
  private final Duration agentTimeout;
  private final Polls polls;

  GuestAddresses(ProxmoxClient client, Duration agentTimeout, Polls polls) {
    this.client = client;
    this.agentTimeout = agentTimeout;
    this.polls = polls;
  }

  /** Waits until the guest reports an address; null when the agent timeout passes first. */
  String await(Guest guest) throws ProxmoxException {
    return guest.lxc() ? awaitLxc(guest) : awaitVm(guest);
  }

  /** The address the guest reports now; null when it has none yet or its agent does not answer. */
  String now(Guest guest) throws ProxmoxException {
    try {
      return guest.lxc() ? lxcAddress(guest) : vmAddress(guest);
    } catch (ProxmoxException e) {
      if (!ProxmoxErrors.agentAbsent(e)) {
        throw e;
      }
      return null;
    }
  }

  private String awaitVm(Guest guest) throws ProxmoxException {
    Instant deadline = Instant.now().plus(agentTimeout);
    int polled = 0;
    while (true) {
      try {
        client.post(guest.path() + "/agent/ping", Params.of());
        String address = vmAddress(guest);
        if (address != null) {
          return address;
        }
      } catch (ProxmoxException e) {
        if (!ProxmoxErrors.agentAbsent(e)) {
          throw e;
        }
      }
      if (Instant.now().isAfter(deadline)) {
        LOG.info("guest agent of {} did not answer within {}", guest.id(), agentTimeout);
        return null;
      }
      polls.pause(polled++);
    }
  }

  /** First non-loopback IPv4 the guest agent reports, or null. */
  private String vmAddress(Guest guest) throws ProxmoxException {
    JsonNode answer = client.get(guest.path() + "/agent/network-get-interfaces", Params.of());
    for (JsonNode iface : answer.path("result")) {
      if ("lo".equals(Json.text(iface, "name"))) {
        continue;
      }
      for (JsonNode ip : iface.path("ip-addresses")) {
        String a = Json.text(ip, "ip-address");
        if ("ipv4".equals(Json.text(ip, "ip-address-type")) && usable(a)) {
          return a;
        }
      }
    }
    return null;
  }

  private String awaitLxc(Guest guest) throws ProxmoxException {
    Instant deadline = Instant.now().plus(agentTimeout);
    int polled = 0;
    while (true) {
      String address = lxcAddress(guest);
      if (address != null) {
        return address;
      }
      if (Instant.now().isAfter(deadline)) {
        LOG.info("container {} reported no IPv4 address within {}", guest.id(), agentTimeout);
        return null;
      }
      polls.pause(polled++);
    }
  }

  private String lxcAddress(Guest guest) throws ProxmoxException {
    JsonNode ifaces = client.get(guest.path() + "/interfaces", Params.of());
    if (ifaces == null || !ifaces.isArray()) {
      return null; // a stopped container has no interfaces to report
    }
    for (JsonNode iface : ifaces) {
      if ("lo".equals(Json.text(iface, "name"))) {
        continue;
      }
      String inet = Json.text(iface, "inet");
      if (inet != null) {
        String a = inet.contains("/") ? inet.substring(0, inet.indexOf('/')) : inet;
        if (usable(a)) {
          return a;
        }
      }
      for (JsonNode ip : iface.path("ip-addresses")) {
        String a = Json.text(ip, "ip-address");
        if ("inet".equals(Json.text(ip, "ip-address-type"))
            || "ipv4".equals(Json.text(ip, "ip-address-type"))) {
          if (usable(a)) {
            return a;
          }
        }
      }
    }
    return null;
  }

  private static boolean usable(String ipv4) {
    return ipv4 != null
        && !ipv4.isBlank()
        && !ipv4.startsWith("127.")
        && !ipv4.startsWith("169.254.")
        && ipv4.contains(".");
  }
}
