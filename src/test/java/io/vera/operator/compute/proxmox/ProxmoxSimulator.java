package io.vera.operator.compute.proxmox;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.HttpUrl;
import okhttp3.Protocol;

/**
 * A Proxmox VE API on 127.0.0.1 that behaves the way a real cluster does where it matters to a
 * client, for tests (this package's and the REST facade's):
 *
 * <ul>
 *   <li>HTTPS with a fresh self-signed CA ({@link #caPem()}), HTTP/1.1 only, errors in the reason
 *       phrase ({@code HTTP/1.1 500 VM is locked (clone)}) with {@code {"data":null}}, a 400
 *       "Parameter verification failed." with {@code errors} per parameter;
 *   <li>API-token auth and ticket auth ({@code /access/ticket}, cookie, {@code CSRFPreventionToken}
 *       checked on every write, tickets that expire);
 *   <li>every request checked against the official API schema (the committed subset): a request the
 *       real API would refuse gets its 400 and is listed in {@link #schemaViolations()};
 *   <li>tasks with UPIDs that run for a while ({@code running}, then {@code stopped} with {@code
 *       OK} or an error exit status and a log), guests locked while a clone or create runs, {@code
 *       /cluster/nextid} that reserves nothing, "already exists" for a taken VMID;
 *   <li>numbers as strings in some fields, as the real API sends them;
 *   <li>a QEMU guest agent that answers only some time after start, with addresses, {@code exec}
 *       and {@code exec-status} (see {@link SimulatedShell}); containers with interfaces that get
 *       an address after a while;
 *   <li>knobs to inject faults: {@link #failNext}, {@link #failNextTasks}, {@link #lockAfterClone},
 *       {@link #takeVmidOnNextCreate}, {@link #expireTickets}, {@link #addForeignGuest}.
 * </ul>
 *
 * <p>Nodes: {@code pve1} and {@code pve2} online, {@code pve3} offline. On {@code pve1}: template
 * VM {@value #TEMPLATE_VMID} named {@value #TEMPLATE_NAME} (2 cores, 2048 MiB, 8G disk, agent on),
 * storages {@code local} and {@code local-lvm}, pool {@value #POOL}, PCI mapping {@value
 * #GPU_MAPPING}, LXC template {@value #OSTEMPLATE}.
 */
public final class ProxmoxSimulator implements AutoCloseable {
  public static final String TOKEN_ID = "vera@pve!operator";
  public static final String USERNAME = "vera@pve";
  public static final String PASSWORD = "correct horse battery staple";
  public static final int TEMPLATE_VMID = 9000;
  public static final String TEMPLATE_NAME = "debian-12-cloud";
  public static final String OSTEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst";
  public static final String POOL = "vera";
  public static final String GPU_MAPPING = "gpu-a100";
  public static final String VERSION = "9.1.3";

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> STORAGES = Set.of("local", "local-lvm");

  /** Timings of the simulated cluster. */
  public static final class Options {
    public boolean tls = true;
    public Duration taskTime = Duration.ofMillis(60);
    public Duration cloneTime = Duration.ofMillis(250);
    public Duration agentDelay = Duration.ofMillis(300);
    public Duration containerNetDelay = Duration.ofMillis(150);
    public Duration ticketLifetime = Duration.ofHours(2);

    /** Cap of the agent's out-data/err-data, as QGA caps them (16 MiB on a real agent). */
    public int agentOutputCap = 64 * 1024;
  }

  /** One request as the client sent it. */
  public record Call(String method, String path, Map<String, List<String>> params, String auth) {}

  /** A guest as the simulator holds it, copied out for assertions. */
  public record GuestView(
      int vmid,
      String node,
      boolean lxc,
      boolean template,
      String status,
      Map<String, String> config,
      String pool,
      boolean foreign) {
    public String name() {
      return config.getOrDefault(lxc ? "hostname" : "name", null);
    }
  }

  private final Options options;
  private final MockWebServer server = new MockWebServer();
  private final PveApiSchema schema;
  private final String tokenSecret;
  private final String caPem;
  private final SecureRandom random = new SecureRandom();

  private final List<Call> calls = new CopyOnWriteArrayList<>();
  private final List<String> violations = new CopyOnWriteArrayList<>();
  private final List<Fault> faults = new ArrayList<>();
  private final Map<String, List<String>> taskFaults = new HashMap<>();
  private final Map<String, Ticket> tickets = new ConcurrentHashMap<>();

  // Cluster state, guarded by this.
  private final TreeMap<Integer, Guest> guests = new TreeMap<>();
  private final Map<String, Task> tasks = new LinkedHashMap<>();
  private final Map<Long, Process> processes = new HashMap<>();
  private final List<Long> killed = new ArrayList<>();
  private final List<Integer> purged = new ArrayList<>();
  private long nextPid = 4000;
  private Duration lockAfterClone = Duration.ZERO;
  private int takeVmidOnNextCreate;
  private boolean agentDisabled;

  private ProxmoxSimulator(Options options) throws Exception {
    this.options = options;
    try (InputStream in = getClass().getResourceAsStream("/proxmox/pve-api-subset.json")) {
      this.schema = PveApiSchema.load(in);
    }
    this.tokenSecret = java.util.UUID.randomUUID().toString();
    SimulatorTls tls = SimulatorTls.create();
    this.caPem = tls.caPem;
    if (options.tls) {
      server.useHttps(tls.serverSocketFactory);
    }
    server.setProtocols(List.of(Protocol.HTTP_1_1));
    server.setDispatcher(
        new Dispatcher() {
          @Override
          public MockResponse dispatch(RecordedRequest request) {
            return handle(request);
          }
        });
    Guest template = new Guest(TEMPLATE_VMID, "pve1", false);
    template.template = true;
    template.config.put("name", TEMPLATE_NAME);
    template.config.put("template", "1");
    template.config.put("cores", "2");
    template.config.put("sockets", "1");
    template.config.put("memory", "2048");
    template.config.put("agent", "1");
    template.config.put("ostype", "l26");
    template.config.put("scsihw", "virtio-scsi-single");
    template.config.put("boot", "order=scsi0;net0");
    template.config.put("scsi0", "local-lvm:base-9000-disk-0,size=8G");
    template.config.put("ide2", "local-lvm:vm-9000-cloudinit,media=cdrom");
    template.config.put("net0", "virtio=BC:24:11:00:90:00,bridge=vmbr0");
    template.config.put("tags", "template");
    guests.put(TEMPLATE_VMID, template);
    server.start(InetAddress.getByName("127.0.0.1"), 0);
  }

  public static ProxmoxSimulator start() throws Exception {
    return new ProxmoxSimulator(new Options());
  }

  public static ProxmoxSimulator start(Options options) throws Exception {
    return new ProxmoxSimulator(options);
  }

  /** {@code https://127.0.0.1:PORT} (a Provider's endpoint; the API is under /api2/json). */
  public String baseUrl() {
    return (options.tls ? "https" : "http") + "://127.0.0.1:" + server.getPort();
  }

  /** The simulator's CA certificate, PEM, as a Secret's {@code ca.crt} holds it. */
  public String caPem() {
    return caPem;
  }

  /** The values of a token Secret: {@code tokenId}, {@code tokenSecret}. */
  public Map<String, String> tokenSecret() {
    return Map.of("tokenId", TOKEN_ID, "tokenSecret", tokenSecret);
  }

  /** The values of a user Secret: {@code username}, {@code password}. */
  public Map<String, String> passwordSecret() {
    return Map.of("username", USERNAME, "password", PASSWORD);
  }

  /** The values of a {@code caSecretRef} Secret: {@code ca.crt}. */
  public Map<String, String> caSecret() {
    return Map.of("ca.crt", caPem);
  }

  // ------------------------------------------------------------------ knobs

  /** The next {@code times} requests matching method and path regex answer this error. */
  public synchronized void failNext(
      String method, String pathRegex, int status, String reason, int times) {
    faults.add(new Fault(method, Pattern.compile(pathRegex), status, reason, times));
  }

  /** The next {@code times} tasks of {@code type} (qmclone, qmstart, ...) stop with this status. */
  public synchronized void failNextTasks(String type, String exitStatus, int times) {
    List<String> queue = taskFaults.computeIfAbsent(type, k -> new ArrayList<>());
    for (int i = 0; i < times; i++) {
      queue.add(exitStatus);
    }
  }

  /** After a clone ends, the new VM stays locked ({@code backup}) this long, as by a backup job. */
  public synchronized void lockAfterClone(Duration d) {
    lockAfterClone = d;
  }

  /**
   * The next {@code n} creates or clones find their VMID just taken by another client (as happens
   * when two clients trust {@code /cluster/nextid}), and answer "already exists".
   */
  public synchronized void takeVmidOnNextCreate(int n) {
    takeVmidOnNextCreate = n;
  }

  /** A guest someone else made, without the operator's marks. */
  public synchronized void addForeignGuest(int vmid, String node, String name) {
    Guest g = new Guest(vmid, node, false);
    g.foreign = true;
    g.config.put("name", name);
    g.config.put("cores", "1");
    g.config.put("memory", "512");
    g.config.put("scsi0", "local-lvm:vm-" + vmid + "-disk-0,size=4G");
    guests.put(vmid, g);
  }

  /** Every ticket issued so far expires now. */
  public void expireTickets() {
    tickets.values().forEach(t -> t.expired = true);
  }

  /** The guest agent of every VM never answers. */
  public synchronized void disableAgents() {
    agentDisabled = true;
  }

  // ------------------------------------------------------------------ inspection

  public List<Call> calls() {
    return List.copyOf(calls);
  }

  public List<String> schemaViolations() {
    return List.copyOf(violations);
  }

  /** Guests that are neither templates nor foreign. */
  public synchronized List<GuestView> guests() {
    tick();
    List<GuestView> out = new ArrayList<>();
    for (Guest g : guests.values()) {
      if (!g.template && !g.foreign) {
        out.add(g.view());
      }
    }
    return out;
  }

  public synchronized GuestView guest(int vmid) {
    tick();
    Guest g = guests.get(vmid);
    return g == null ? null : g.view();
  }

  /** Pids killed through the agent, in order. */
  public synchronized List<Long> killedPids() {
    return List.copyOf(killed);
  }

  /** VMIDs deleted with {@code purge=1}. */
  public synchronized List<Integer> purged() {
    return List.copyOf(purged);
  }

  @Override
  public void close() throws IOException {
    server.close();
  }

  // ------------------------------------------------------------------ HTTP

  private MockResponse handle(RecordedRequest request) {
    try {
      return route(request);
    } catch (ApiError e) {
      return error(e.status, e.reason, e.errors);
    } catch (RuntimeException e) {
      return error(500, "simulator: " + e, null);
    }
  }

  private MockResponse route(RecordedRequest request) {
    HttpUrl url = request.getUrl();
    String method = request.getMethod();
    List<String> segs = url.pathSegments();
    if (segs.size() < 3 || !segs.get(0).equals("api2") || !segs.get(1).equals("json")) {
      throw new ApiError(501, "Not Implemented", null);
    }
    String path = "/" + String.join("/", segs.subList(2, segs.size()));
    Map<String, List<String>> params = new LinkedHashMap<>();
    for (String name : url.queryParameterNames()) {
      params.put(name, new ArrayList<>(url.queryParameterValues(name)));
    }
    if (method.equals("POST") || method.equals("PUT")) {
      String body = request.getBody() == null ? "" : request.getBody().utf8();
      String type = request.getHeaders().get("Content-Type");
      if (!body.isEmpty()
          && (type == null || !type.startsWith("application/x-www-form-urlencoded"))) {
        throw new ApiError(415, "Unsupported Media Type", null);
      }
      for (String pair : body.split("&")) {
        if (pair.isEmpty()) {
          continue;
        }
        int eq = pair.indexOf('=');
        String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
        String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
        params.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
      }
    }
    String auth = authenticate(request, method, path);
    calls.add(
        new Call(
            method,
            path,
            Map.copyOf(params),
            auth == null ? "none" : auth.startsWith("token") ? "token" : "ticket"));
    Map<String, String> errors = schema.check(method, path, params);
    if (!errors.isEmpty()) {
      violations.add(method + " " + path + " " + errors);
      if (errors.containsKey("(path)") || errors.containsKey("(method)")) {
        throw new ApiError(501, "Method '" + method + " " + path + "' not implemented", null);
      }
      throw new ApiError(400, "Parameter verification failed.", errors);
    }
    PveApiSchema.Match match = schema.match(path).orElseThrow();
    Map<String, String> p = new LinkedHashMap<>(match.pathParams());
    params.forEach((k, v) -> p.put(k, v.get(v.size() - 1)));
    synchronized (this) {
      tick();
      Fault fault = takeFault(method, path);
      if (fault != null) {
        throw new ApiError(fault.status, fault.reason, null);
      }
      String user = auth == null ? USERNAME : auth.substring(auth.indexOf(':') + 1);
      return ok(api(method, match.template(), p, params, user));
    }
  }

  /** The authenticated user ("token:" or "ticket:" and the user), null for the login call. */
  private String authenticate(RecordedRequest request, String method, String path) {
    if (method.equals("POST") && path.equals("/access/ticket")) {
      return null;
    }
    String authorization = request.getHeaders().get("Authorization");
    if (authorization != null) {
      if (authorization.equals("PVEAPIToken=" + TOKEN_ID + "=" + tokenSecret)) {
        return "token:" + TOKEN_ID;
      }
      throw new ApiError(401, "invalid token value!", null);
    }
    String cookie = request.getHeaders().get("Cookie");
    String ticket = null;
    if (cookie != null) {
      for (String part : cookie.split(";\\s*")) {
        if (part.startsWith("PVEAuthCookie=")) {
          // pveproxy un-escapes %XX only (uri_unescape): a '+' in a ticket stays a '+'
          ticket = percentDecode(part.substring("PVEAuthCookie=".length()));
        }
      }
    }
    if (ticket == null) {
      throw new ApiError(401, "No ticket", null);
    }
    Ticket t = tickets.get(ticket);
    if (t == null || t.expired || Instant.now().isAfter(t.issued.plus(options.ticketLifetime))) {
      throw new ApiError(401, "permission denied - invalid PVE ticket", null);
    }
    if (!method.equals("GET") && !t.csrf.equals(request.getHeaders().get("CSRFPreventionToken"))) {
      throw new ApiError(401, "Permission denied - invalid csrf token", null);
    }
    return "ticket:" + USERNAME;
  }

  private Fault takeFault(String method, String path) {
    for (Iterator<Fault> it = faults.iterator(); it.hasNext(); ) {
      Fault f = it.next();
      if (f.method.equals(method) && f.path.matcher(path).matches()) {
        if (--f.times <= 0) {
          it.remove();
        }
        return f;
      }
    }
    return null;
  }

  private MockResponse ok(Object data) {
    try {
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("data", data);
      return new MockResponse.Builder()
          .code(200)
          .addHeader("Content-Type", "application/json;charset=UTF-8")
          .addHeader("Cache-Control", "max-age=0")
          .body(JSON.writeValueAsString(body))
          .build();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static MockResponse error(int status, String reason, Map<String, String> errors) {
    Map<String, Object> body = new LinkedHashMap<>();
    if (errors != null) {
      body.put("errors", errors);
    }
    body.put("data", null);
    try {
      return new MockResponse.Builder()
          .status("HTTP/1.1 " + status + " " + reason.replace('\n', ' ').strip())
          .addHeader("Content-Type", "application/json;charset=UTF-8")
          .body(JSON.writeValueAsString(body))
          .build();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  // ------------------------------------------------------------------ API

  private Object api(
      String method,
      String template,
      Map<String, String> p,
      Map<String, List<String>> raw,
      String user) {
    String key = method + " " + template;
    switch (key) {
      case "POST /access/ticket":
        return login(p);
      case "GET /version":
        return Map.of("version", VERSION, "release", "9.1", "repoid", "7dbd8bd7ae0e1b8c");
      case "GET /nodes":
        return nodes();
      case "GET /nodes/{node}/status":
        return nodeStatus(p.get("node"));
      case "GET /cluster/resources":
        return resources(p.get("type"));
      case "GET /cluster/nextid":
        return nextId(p.get("vmid"));
      case "GET /nodes/{node}/tasks/{upid}/status":
        return task(p.get("upid")).status();
      case "GET /nodes/{node}/tasks/{upid}/log":
        return task(p.get("upid")).log();
      case "GET /nodes/{node}/qemu":
        return listQemu(p.get("node"));
      case "POST /nodes/{node}/qemu":
        return createVm(p, user);
      case "POST /nodes/{node}/qemu/{vmid}/clone":
        return clone(p, user);
      case "GET /nodes/{node}/qemu/{vmid}/config":
      case "GET /nodes/{node}/lxc/{vmid}/config":
        return config(guestOn(p), p);
      case "PUT /nodes/{node}/qemu/{vmid}/config":
      case "PUT /nodes/{node}/lxc/{vmid}/config":
        return setConfig(guestOn(p), p);
      case "PUT /nodes/{node}/qemu/{vmid}/resize":
      case "PUT /nodes/{node}/lxc/{vmid}/resize":
        return resize(guestOn(p), p, user);
      case "GET /nodes/{node}/qemu/{vmid}/status/current":
      case "GET /nodes/{node}/lxc/{vmid}/status/current":
        return current(guestOn(p));
      case "POST /nodes/{node}/qemu/{vmid}/status/start":
      case "POST /nodes/{node}/lxc/{vmid}/status/start":
        return startGuest(guestOn(p), user);
      case "POST /nodes/{node}/qemu/{vmid}/status/stop":
      case "POST /nodes/{node}/lxc/{vmid}/status/stop":
        return stopGuest(guestOn(p), user);
      case "DELETE /nodes/{node}/qemu/{vmid}":
      case "DELETE /nodes/{node}/lxc/{vmid}":
        return destroy(guestOn(p), p, user);
      case "POST /nodes/{node}/qemu/{vmid}/agent/ping":
        agent(guestOn(p));
        return Map.of("result", Map.of());
      case "GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces":
        return Map.of("result", vmInterfaces(agent(guestOn(p))));
      case "POST /nodes/{node}/qemu/{vmid}/agent/exec":
        return exec(agent(guestOn(p)), raw.get("command"));
      case "GET /nodes/{node}/qemu/{vmid}/agent/exec-status":
        return execStatus(agent(guestOn(p)), Long.parseLong(p.get("pid")));
      case "POST /nodes/{node}/lxc":
        return createContainer(p, user);
      case "GET /nodes/{node}/lxc/{vmid}/interfaces":
        return containerInterfaces(guestOn(p));
      default:
        throw new ApiError(501, "Method '" + key + "' not implemented in the simulator", null);
    }
  }

  private Object login(Map<String, String> p) {
    if (!USERNAME.equals(p.get("username")) || !PASSWORD.equals(p.get("password"))) {
      throw new ApiError(401, "authentication failure", null);
    }
    byte[] sig = new byte[48];
    random.nextBytes(sig);
    String ticket =
        "PVE:"
            + USERNAME
            + ":"
            + Long.toHexString(Instant.now().getEpochSecond()).toUpperCase()
            + "::"
            + Base64.getEncoder().encodeToString(sig);
    byte[] c = new byte[24];
    random.nextBytes(c);
    String csrf =
        Long.toHexString(Instant.now().getEpochSecond()).toUpperCase()
            + ":"
            + Base64.getEncoder().withoutPadding().encodeToString(c);
    tickets.put(ticket, new Ticket(csrf, Instant.now()));
    return Map.of(
        "username", USERNAME, "ticket", ticket, "CSRFPreventionToken", csrf, "cap", Map.of());
  }

  private List<Object> nodes() {
    List<Object> out = new ArrayList<>();
    for (String node : List.of("pve1", "pve2")) {
      Map<String, Object> n = new LinkedHashMap<>();
      n.put("node", node);
      n.put("id", "node/" + node);
      n.put("type", "node");
      n.put("status", "online");
      n.put("maxcpu", 32);
      n.put("cpu", 0.0512);
      n.put("maxmem", Long.toString(128L << 30)); // a string, as some versions send it
      n.put("mem", 20L << 30);
      n.put("maxdisk", "100861726720");
      n.put("disk", 6442450944L);
      n.put("uptime", 123456);
      n.put("level", "");
      out.add(n);
    }
    out.add(Map.of("node", "pve3", "id", "node/pve3", "type", "node", "status", "offline"));
    return out;
  }

  private Object nodeStatus(String node) {
    if (node.equals("pve3")) {
      throw new ApiError(595, "Connection refused", null);
    }
    requireNode(node);
    long used = 20L << 30;
    for (Guest g : guests.values()) {
      if (g.node.equals(node) && g.status.equals("running")) {
        used += memoryMb(g) << 20;
      }
    }
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("cpu", 0.0512);
    s.put("cpuinfo", Map.of("cpus", 32, "cores", 16, "sockets", 1, "model", "AMD EPYC 7313P"));
    s.put(
        "memory",
        Map.of("total", 128L << 30, "used", used, "free", Long.toString((128L << 30) - used)));
    s.put(
        "rootfs",
        Map.of(
            "total",
            100861726720L,
            "used",
            6442450944L,
            "free",
            94419275776L,
            "avail",
            "89269604352"));
    s.put("uptime", 123456);
    s.put("pveversion", "pve-manager/" + VERSION + "/7dbd8bd7ae0e1b8c");
    return s;
  }

  private void requireNode(String node) {
    if (!node.equals("pve1") && !node.equals("pve2")) {
      throw new ApiError(
          500,
          "hostname lookup '"
              + node
              + "' failed - failed to get address info for: "
              + node
              + ": Name or service not known",
          null);
    }
  }

  private List<Object> resources(String type) {
    List<Object> out = new ArrayList<>();
    if (type == null || type.equals("vm")) {
      for (Guest g : guests.values()) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("id", (g.lxc ? "lxc/" : "qemu/") + g.vmid);
        r.put("type", g.lxc ? "lxc" : "qemu");
        // vmid is a number, but maxmem and mem arrive as strings from some nodes
        r.put("vmid", g.vmid % 2 == 0 ? g.vmid : Integer.toString(g.vmid));
        r.put("node", g.node);
        r.put("status", g.status);
        String name = g.config.get(g.lxc ? "hostname" : "name");
        if (name != null) {
          r.put("name", name);
        }
        if (g.config.containsKey("tags")) {
          r.put("tags", g.config.get("tags"));
        }
        if (g.config.containsKey("lock")) {
          r.put("lock", g.config.get("lock"));
        }
        r.put("template", g.template ? 1 : 0);
        r.put("maxcpu", Integer.parseInt(g.config.getOrDefault("cores", "1")));
        r.put("maxmem", Long.toString(memoryMb(g) << 20));
        r.put("mem", g.status.equals("running") ? Long.toString(300L << 20) : "0");
        r.put("maxdisk", 8L << 30);
        r.put("cpu", g.status.equals("running") ? 0.0213 : 0);
        if (g.pool != null) {
          r.put("pool", g.pool);
        }
        out.add(r);
      }
    }
    if (type == null || type.equals("node")) {
      out.addAll(nodes());
    }
    return out;
  }

  private Object nextId(String vmid) {
    if (vmid != null) {
      if (guests.containsKey(Integer.parseInt(vmid))) {
        throw new ApiError(
            400,
            "Parameter verification failed.",
            Map.of("vmid", "VM " + vmid + " already exists"));
      }
      return vmid;
    }
    int id = 100;
    while (guests.containsKey(id)) {
      id++;
    }
    return Integer.toString(id); // the real API answers a string
  }

  private Task task(String upid) {
    Task t = tasks.get(upid);
    if (t == null) {
      throw new ApiError(500, "unable to parse worker upid '" + upid + "'", null);
    }
    return t;
  }

  private List<Object> listQemu(String node) {
    requireNode(node);
    List<Object> out = new ArrayList<>();
    for (Guest g : guests.values()) {
      if (g.node.equals(node) && !g.lxc) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("vmid", g.vmid);
        r.put("status", g.status);
        if (g.config.containsKey("name")) {
          r.put("name", g.config.get("name"));
        }
        if (g.template) {
          r.put("template", 1);
        }
        r.put("cpus", Integer.parseInt(g.config.getOrDefault("cores", "1")));
        r.put("maxmem", memoryMb(g) << 20);
        out.add(r);
      }
    }
    return out;
  }

  private Guest guestOn(Map<String, String> p) {
    String node = p.get("node");
    requireNode(node);
    int vmid = Integer.parseInt(p.get("vmid"));
    Guest g = guests.get(vmid);
    if (g == null || !g.node.equals(node)) {
      String dir = g != null && g.lxc ? "lxc" : "qemu-server";
      throw new ApiError(
          500,
          "Configuration file 'nodes/" + node + "/" + dir + "/" + vmid + ".conf' does not exist",
          null);
    }
    return g;
  }

  private static void checkLock(Guest g) {
    String lock = g.config.get("lock");
    if (lock != null) {
      throw new ApiError(500, (g.lxc ? "CT" : "VM") + " is locked (" + lock + ")", null);
    }
  }

  private void claimVmid(int vmid, String node, boolean lxc) {
    if (takeVmidOnNextCreate > 0 && !guests.containsKey(vmid)) {
      takeVmidOnNextCreate--;
      addForeignGuest(vmid, "pve2", "someone-else-" + vmid);
    }
    Guest existing = guests.get(vmid);
    if (existing != null) {
      if (lxc) {
        throw new ApiError(
            500, "CT " + vmid + " already exists on node '" + existing.node + "'", null);
      }
      throw new ApiError(
          500,
          "unable to create VM "
              + vmid
              + " - VM "
              + vmid
              + " already exists on node '"
              + existing.node
              + "'",
          null);
    }
  }

  private void checkStorage(String storage) {
    if (storage != null && !STORAGES.contains(storage)) {
      throw new ApiError(500, "storage '" + storage + "' does not exist", null);
    }
  }

  private void checkPool(String pool) {
    if (pool != null && !pool.equals(POOL)) {
      throw new ApiError(500, "pool '" + pool + "' does not exist", null);
    }
  }

  private Object clone(Map<String, String> p, String user) {
    Guest source = guestOn(p);
    int newid = Integer.parseInt(p.get("newid"));
    boolean full = p.containsKey("full") ? bool(p.get("full")) : !source.template;
    if (!full && !source.template) {
      throw new ApiError(500, "Linked clone feature is not supported for drive 'scsi0'", null);
    }
    if (!full && p.containsKey("storage")) {
      throw new ApiError(500, "parameter 'storage' not allowed for linked clones", null);
    }
    checkStorage(p.get("storage"));
    checkPool(p.get("pool"));
    claimVmid(newid, source.node, false);
    Guest g = new Guest(newid, source.node, false);
    g.config.put("lock", "clone");
    guests.put(newid, g);
    String storage = p.getOrDefault("storage", "local-lvm");
    return startTask(
        source.node,
        "qmclone",
        Integer.toString(source.vmid),
        user,
        options.cloneTime,
        () -> {
          if (!guests.containsKey(newid)) {
            return "clone target vanished";
          }
          for (Map.Entry<String, String> e : source.config.entrySet()) {
            if (!e.getKey().equals("template")) {
              g.config.put(e.getKey(), e.getValue());
            }
          }
          g.config.put("name", p.getOrDefault("name", "Copy-of-VM-" + source.config.get("name")));
          if (p.containsKey("description")) {
            g.config.put("description", p.get("description"));
          }
          g.config.put(
              "scsi0",
              (full
                      ? storage + ":vm-" + newid + "-disk-0"
                      : "local-lvm:base-" + source.vmid + "-disk-0/vm-" + newid + "-disk-0")
                  + ",size="
                  + sizeOf(source.config.get("scsi0"))
                  + "G");
          g.config.put("net0", "virtio=BC:24:11:" + mac(newid) + ",bridge=vmbr0");
          g.pool = p.get("pool");
          g.config.remove("lock");
          if (!lockAfterClone.isZero()) {
            g.config.put("lock", "backup");
            g.lockUntil = Instant.now().plus(lockAfterClone);
          }
          return null;
        },
        () -> guests.remove(newid));
  }

  private Object createVm(Map<String, String> p, String user) {
    String node = p.get("node");
    requireNode(node);
    int vmid = Integer.parseInt(p.get("vmid"));
    checkPool(p.get("pool"));
    String scsi0 = p.get("scsi0");
    if (scsi0 != null) {
      checkStorage(scsi0.substring(0, scsi0.indexOf(':')));
    }
    claimVmid(vmid, node, false);
    Guest g = new Guest(vmid, node, false);
    g.config.put("lock", "create");
    guests.put(vmid, g);
    return startTask(
        node,
        "qmcreate",
        Integer.toString(vmid),
        user,
        options.taskTime,
        () -> {
          for (Map.Entry<String, String> e : p.entrySet()) {
            if (!Set.of("node", "vmid", "pool").contains(e.getKey())) {
              g.config.put(e.getKey(), e.getValue());
            }
          }
          if (scsi0 != null && scsi0.matches("[^:]+:\\d+")) {
            String[] parts = scsi0.split(":");
            g.config.put("scsi0", parts[0] + ":vm-" + vmid + "-disk-0,size=" + parts[1] + "G");
          }
          g.pool = p.get("pool");
          g.config.remove("lock");
          return null;
        },
        () -> guests.remove(vmid));
  }

  private Object createContainer(Map<String, String> p, String user) {
    String node = p.get("node");
    requireNode(node);
    int vmid = Integer.parseInt(p.get("vmid"));
    if (!OSTEMPLATE.equals(p.get("ostemplate"))) {
      throw new ApiError(500, "volume '" + p.get("ostemplate") + "' does not exist", null);
    }
    checkPool(p.get("pool"));
    String rootfs = p.getOrDefault("rootfs", "local:4");
    Matcher m = Pattern.compile("([^:,]+):(\\d+)").matcher(rootfs);
    if (!m.matches()) {
      throw new ApiError(500, "unable to parse rootfs '" + rootfs + "'", null);
    }
    checkStorage(m.group(1));
    claimVmid(vmid, node, true);
    Guest g = new Guest(vmid, node, true);
    g.config.put("lock", "create");
    guests.put(vmid, g);
    return startTask(
        node,
        "vzcreate",
        Integer.toString(vmid),
        user,
        options.taskTime,
        () -> {
          for (Map.Entry<String, String> e : p.entrySet()) {
            if (!Set.of("node", "vmid", "pool", "ostemplate", "rootfs", "storage", "start")
                .contains(e.getKey())) {
              g.config.put(e.getKey(), e.getValue());
            }
          }
          g.config.put("rootfs", m.group(1) + ":vm-" + vmid + "-disk-0,size=" + m.group(2) + "G");
          g.config.put("ostype", "debian");
          g.config.put("arch", "amd64");
          g.config.putIfAbsent("cores", "1");
          g.config.putIfAbsent("memory", "512");
          g.pool = p.get("pool");
          g.config.remove("lock");
          return null;
        },
        () -> guests.remove(vmid));
  }

  private Object config(Guest g, Map<String, String> p) {
    Map<String, Object> c = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : g.config.entrySet()) {
      String k = e.getKey();
      // cores and sockets come as numbers, memory as a string: as the real API does
      c.put(
          k,
          (k.equals("cores") || k.equals("sockets")) && e.getValue().matches("\\d+")
              ? Integer.parseInt(e.getValue())
              : e.getValue());
    }
    c.put("digest", Integer.toHexString(g.config.hashCode()));
    return c;
  }

  private Object setConfig(Guest g, Map<String, String> p) {
    checkLock(g);
    for (Map.Entry<String, String> e : p.entrySet()) {
      String k = e.getKey();
      if (Set.of("node", "vmid", "digest", "delete").contains(k)) {
        continue;
      }
      g.config.put(k, e.getValue());
    }
    if (p.containsKey("delete")) {
      for (String k : p.get("delete").split("[,;\\s]+")) {
        g.config.remove(k);
      }
    }
    return null;
  }

  private Object resize(Guest g, Map<String, String> p, String user) {
    checkLock(g);
    String disk = p.get("disk");
    String value = g.config.get(disk);
    if (value == null) {
      throw new ApiError(500, "disk '" + disk + "' does not exist", null);
    }
    String size = p.get("size");
    long current = sizeOf(value);
    long wanted;
    Matcher m = Pattern.compile("(\\+?)(\\d+)G").matcher(size);
    if (!m.matches()) {
      throw new ApiError(500, "the simulator only resizes in whole GiB, got '" + size + "'", null);
    }
    wanted =
        m.group(1).isEmpty() ? Long.parseLong(m.group(2)) : current + Long.parseLong(m.group(2));
    if (wanted < current) {
      throw new ApiError(500, "shrinking disks is not supported", null);
    }
    return startTask(
        g.node,
        "resize",
        Integer.toString(g.vmid),
        user,
        options.taskTime,
        () -> {
          g.config.put(disk, value.replaceAll("size=\\d+G", "size=" + wanted + "G"));
          return null;
        },
        null);
  }

  private Object current(Guest g) {
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("vmid", g.vmid);
    s.put("status", g.status);
    s.put("name", g.config.getOrDefault(g.lxc ? "hostname" : "name", ""));
    s.put("cpus", Integer.parseInt(g.config.getOrDefault("cores", "1")));
    s.put("maxmem", memoryMb(g) << 20);
    boolean running = g.status.equals("running");
    s.put("mem", running ? Long.toString(300L << 20) : "0");
    s.put("cpu", running ? 0.0213 : 0);
    s.put("netin", running ? "123456" : "0");
    s.put("netout", running ? 65432 : 0);
    s.put("uptime", running ? Duration.between(g.startedAt, Instant.now()).toSeconds() : 0);
    if (!g.lxc) {
      s.put("qmpstatus", g.status);
      if (HostAgent.enabled(g)) {
        s.put("agent", 1);
      }
    } else {
      s.put("type", "lxc");
    }
    if (g.config.containsKey("lock")) {
      s.put("lock", g.config.get("lock"));
    }
    return s;
  }

  private Object startGuest(Guest g, String user) {
    checkLock(g);
    return startTask(
        g.node,
        g.lxc ? "vzstart" : "qmstart",
        Integer.toString(g.vmid),
        user,
        options.taskTime,
        () -> {
          if (g.status.equals("running")) {
            return (g.lxc ? "CT " : "VM ") + g.vmid + " already running";
          }
          for (Map.Entry<String, String> e : g.config.entrySet()) {
            Matcher m = Pattern.compile("(?:^|,)mapping=([^,]+)").matcher(e.getValue());
            if (e.getKey().startsWith("hostpci") && m.find() && !m.group(1).equals(GPU_MAPPING)) {
              return "PCI device mapping '" + m.group(1) + "' not found on node '" + g.node + "'";
            }
          }
          g.status = "running";
          g.startedAt = Instant.now();
          g.agentAt = Instant.now().plus(options.agentDelay);
          g.netAt = Instant.now().plus(options.containerNetDelay);
          return null;
        },
        null);
  }

  private Object stopGuest(Guest g, String user) {
    checkLock(g);
    return startTask(
        g.node,
        g.lxc ? "vzstop" : "qmstop",
        Integer.toString(g.vmid),
        user,
        options.taskTime,
        () -> {
          g.status = "stopped";
          processes.values().removeIf(pr -> pr.vmid == g.vmid);
          return null;
        },
        null);
  }

  private Object destroy(Guest g, Map<String, String> p, String user) {
    checkLock(g);
    if (g.status.equals("running")) {
      throw new ApiError(
          500, (g.lxc ? "CT " : "VM ") + g.vmid + " is running - destroy failed", null);
    }
    if (g.template && !g.foreign) {
      throw new ApiError(500, "simulator: refusing to delete the template", null);
    }
    g.config.put("lock", "destroyed");
    boolean purge = bool(p.getOrDefault("purge", "0"));
    return startTask(
        g.node,
        g.lxc ? "vzdestroy" : "qmdestroy",
        Integer.toString(g.vmid),
        user,
        options.taskTime,
        () -> {
          guests.remove(g.vmid);
          if (purge) {
            purged.add(g.vmid);
          }
          return null;
        },
        null);
  }

  /** The guest, if its agent answers now. */
  private Guest agent(Guest g) {
    if (g.lxc) {
      throw new ApiError(500, "simulator: no agent in a container", null);
    }
    if (!g.status.equals("running")) {
      throw new ApiError(500, "VM " + g.vmid + " is not running", null);
    }
    if (!HostAgent.enabled(g)) {
      throw new ApiError(500, "No QEMU guest agent configured", null);
    }
    if (agentDisabled || g.agentAt == null || Instant.now().isBefore(g.agentAt)) {
      throw new ApiError(500, "QEMU guest agent is not running", null);
    }
    return g;
  }

  private List<Object> vmInterfaces(Guest g) {
    return List.of(
        Map.of(
            "name", "lo",
            "hardware-address", "00:00:00:00:00:00",
            "ip-addresses",
                List.of(
                    Map.of("ip-address-type", "ipv4", "ip-address", "127.0.0.1", "prefix", 8),
                    Map.of("ip-address-type", "ipv6", "ip-address", "::1", "prefix", 128))),
        Map.of(
            "name",
            "eth0",
            "hardware-address",
            "bc:24:11:" + mac(g.vmid).toLowerCase(),
            "ip-addresses",
            List.of(
                Map.of(
                    "ip-address-type",
                    "ipv6",
                    "ip-address",
                    "fe80::be24:11ff:fe00:" + Integer.toHexString(g.vmid),
                    "prefix",
                    64),
                Map.of("ip-address-type", "ipv4", "ip-address", ip(g.vmid), "prefix", 24)),
            "statistics",
            Map.of("rx-bytes", 1234, "tx-bytes", 5678)));
  }

  private Object exec(Guest g, List<String> command) {
    SimulatedShell.Outcome o;
    try {
      o = SimulatedShell.run(command);
    } catch (SimulatedShell.NoSuchProgram e) {
      throw new ApiError(
          500,
          "Agent error: Failed to execute child process \u201c"
              + e.getMessage()
              + "\u201d (No such file or directory)",
          null);
    }
    long pid = nextPid++;
    if (o.kills() != null) {
      Process victim = processes.get(o.kills());
      if (victim != null && victim.vmid == g.vmid && victim.signal == null) {
        victim.signal = 9;
        victim.endsAt = Instant.now();
        killed.add(o.kills());
      }
    }
    processes.put(pid, new Process(g.vmid, o, Instant.now().plus(o.runtime())));
    return Map.of("pid", pid);
  }

  private Object execStatus(Guest g, long pid) {
    Process pr = processes.get(pid);
    if (pr == null || pr.vmid != g.vmid) {
      throw new ApiError(500, "Agent error: Invalid parameter 'pid'", null);
    }
    if (Instant.now().isBefore(pr.endsAt)) {
      return Map.of("exited", 0);
    }
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("exited", 1);
    if (pr.signal != null) {
      s.put("signal", pr.signal);
      return s;
    }
    s.put("exitcode", pr.outcome.exitCode());
    putCapped(s, "out", pr.outcome.out());
    putCapped(s, "err", pr.outcome.err());
    return s;
  }

  private void putCapped(Map<String, Object> s, String stream, String data) {
    if (data.isEmpty()) {
      return;
    }
    if (data.length() > options.agentOutputCap) {
      s.put(stream + "-data", data.substring(0, options.agentOutputCap));
      s.put(stream + "-truncated", 1);
    } else {
      s.put(stream + "-data", data);
    }
  }

  private Object containerInterfaces(Guest g) {
    if (!g.status.equals("running")) {
      return null; // a stopped container reports nothing
    }
    List<Object> out = new ArrayList<>();
    out.add(
        Map.of(
            "name",
            "lo",
            "hwaddr",
            "00:00:00:00:00:00",
            "hardware-address",
            "00:00:00:00:00:00",
            "inet",
            "127.0.0.1/8",
            "inet6",
            "::1/128",
            "ip-addresses",
            List.of()));
    Map<String, Object> eth0 = new LinkedHashMap<>();
    eth0.put("name", "eth0");
    eth0.put("hwaddr", "bc:24:11:" + mac(g.vmid).toLowerCase());
    eth0.put("hardware-address", "bc:24:11:" + mac(g.vmid).toLowerCase());
    eth0.put("inet6", "fe80::be24:11ff:fe00:1/64");
    if (!Instant.now().isBefore(g.netAt)) {
      eth0.put("inet", ip(g.vmid) + "/24");
    }
    eth0.put("ip-addresses", List.of());
    out.add(eth0);
    return out;
  }

  // ------------------------------------------------------------------ tasks

  private interface TaskBody {
    /** Null for OK, else the exit status. */
    String finish();
  }

  private String startTask(
      String node,
      String type,
      String id,
      String user,
      Duration d,
      TaskBody body,
      Runnable onFailure) {
    long now = Instant.now().getEpochSecond();
    String upid =
        String.format(
            "UPID:%s:%08X:%08X:%08X:%s:%s:%s:",
            node, 100000 + tasks.size(), random.nextInt(1 << 24), now, type, id, user);
    Task t = new Task(upid, node, type, id, user, Instant.now().plus(d), body, onFailure);
    List<String> fault = taskFaults.get(type);
    if (fault != null && !fault.isEmpty()) {
      t.injected = fault.remove(0);
    }
    tasks.put(upid, t);
    return upid;
  }

  /** Finishes every task whose time has come and lifts expired locks. */
  private void tick() {
    Instant now = Instant.now();
    for (Task t : tasks.values()) {
      if (t.exitStatus == null && !now.isBefore(t.endsAt)) {
        String failure = t.injected != null ? t.injected : t.body.finish();
        if (failure == null) {
          t.exitStatus = "OK";
          t.lines.add("TASK OK");
        } else {
          if (t.onFailure != null) {
            t.onFailure.run();
          }
          t.exitStatus = failure;
          t.lines.add(failure);
          t.lines.add("TASK ERROR: " + failure);
        }
      }
    }
    for (Guest g : guests.values()) {
      if (g.lockUntil != null && !now.isBefore(g.lockUntil)) {
        g.config.remove("lock");
        g.lockUntil = null;
      }
    }
  }

  private static final class Task {
    final String upid;
    final String node;
    final String type;
    final String id;
    final String user;
    final Instant started = Instant.now();
    final Instant endsAt;
    final TaskBody body;
    final Runnable onFailure;
    final List<String> lines = new ArrayList<>();
    String injected;
    String exitStatus;

    Task(
        String upid,
        String node,
        String type,
        String id,
        String user,
        Instant endsAt,
        TaskBody body,
        Runnable onFailure) {
      this.upid = upid;
      this.node = node;
      this.type = type;
      this.id = id;
      this.user = user;
      this.endsAt = endsAt;
      this.body = body;
      this.onFailure = onFailure;
      lines.add("starting " + type + " " + id);
    }

    Map<String, Object> status() {
      Map<String, Object> s = new LinkedHashMap<>();
      s.put("upid", upid);
      s.put("node", node);
      s.put("pid", 100000);
      s.put("pstart", "12345678"); // a string: numbers do arrive as strings
      s.put("starttime", started.getEpochSecond());
      s.put("type", type);
      s.put("id", id);
      s.put("user", user);
      s.put("status", exitStatus == null ? "running" : "stopped");
      if (exitStatus != null) {
        s.put("exitstatus", exitStatus);
      }
      return s;
    }

    List<Object> log() {
      List<Object> out = new ArrayList<>();
      for (int i = 0; i < lines.size(); i++) {
        out.add(Map.of("n", i + 1, "t", lines.get(i)));
      }
      return out;
    }
  }

  // ------------------------------------------------------------------ model

  private static final class Guest {
    final int vmid;
    final String node;
    final boolean lxc;
    boolean template;
    boolean foreign;
    final Map<String, String> config = new LinkedHashMap<>();
    String status = "stopped";
    String pool;
    Instant startedAt = Instant.now();
    Instant agentAt;
    Instant netAt = Instant.MAX;
    Instant lockUntil;

    Guest(int vmid, String node, boolean lxc) {
      this.vmid = vmid;
      this.node = node;
      this.lxc = lxc;
    }

    GuestView view() {
      return new GuestView(vmid, node, lxc, template, status, Map.copyOf(config), pool, foreign);
    }
  }

  private static final class HostAgent {
    static boolean enabled(Guest g) {
      String a = g.config.get("agent");
      return a != null && (a.equals("1") || a.startsWith("1,") || a.contains("enabled=1"));
    }
  }

  private static final class Process {
    final int vmid;
    final SimulatedShell.Outcome outcome;
    Instant endsAt;
    Integer signal;

    Process(int vmid, SimulatedShell.Outcome outcome, Instant endsAt) {
      this.vmid = vmid;
      this.outcome = outcome;
      this.endsAt = endsAt;
    }
  }

  private static final class Fault {
    final String method;
    final Pattern path;
    final int status;
    final String reason;
    int times;

    Fault(String method, Pattern path, int status, String reason, int times) {
      this.method = method;
      this.path = path;
      this.status = status;
      this.reason = reason;
      this.times = times;
    }
  }

  private static final class Ticket {
    final String csrf;
    final Instant issued;
    volatile boolean expired;

    Ticket(String csrf, Instant issued) {
      this.csrf = csrf;
      this.issued = issued;
    }
  }

  private static final class ApiError extends RuntimeException {
    final int status;
    final String reason;
    final Map<String, String> errors;

    ApiError(int status, String reason, Map<String, String> errors) {
      super(reason);
      this.status = status;
      this.reason = reason;
      this.errors = errors;
    }
  }

  private static long memoryMb(Guest g) {
    String m = g.config.getOrDefault("memory", "512");
    Matcher matcher = Pattern.compile("(?:current=)?(\\d+)").matcher(m);
    return matcher.find() ? Long.parseLong(matcher.group(1)) : 512;
  }

  private static long sizeOf(String disk) {
    Matcher m = Pattern.compile("size=(\\d+)G").matcher(disk == null ? "" : disk);
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  private static boolean bool(String v) {
    return v.equals("1")
        || v.equalsIgnoreCase("true")
        || v.equalsIgnoreCase("yes")
        || v.equalsIgnoreCase("on");
  }

  private static String mac(int vmid) {
    return String.format("%02X:%02X:%02X", (vmid >> 16) & 0xff, (vmid >> 8) & 0xff, vmid & 0xff);
  }

  /** The IPv4 address a guest with this VMID gets. */
  public static String ip(int vmid) {
    return "10.42." + ((vmid >> 8) & 0xff) + "." + (vmid & 0xff);
  }

  private static String percentDecode(String s) {
    return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }
}
