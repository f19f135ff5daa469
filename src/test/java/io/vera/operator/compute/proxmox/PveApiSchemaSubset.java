package io.vera.operator.compute.proxmox;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Cuts the part of the official Proxmox VE API schema that the client and the simulator use out of
 * {@code ../shared/proxmox/pve-api-schema.json} into {@code
 * src/test/resources/proxmox/pve-api-subset.json}: the same node shape ({@code path, text, info:
 * {METHOD: ...}}), only the methods in {@link #USED}, without {@code returns} and {@code
 * permissions}. Regenerate after adding a call to the client:
 *
 * <pre>
 * ./mvnw -o -q test -Dtest=ProxmoxSchemaTest -Dproxmox.schema.regenerate=true
 * </pre>
 *
 * ({@code ProxmoxSchemaTest} also fails when the committed subset differs from what this produces.)
 */
final class PveApiSchemaSubset {
  static final Path FULL = Path.of("..", "shared", "proxmox", "pve-api-schema.json");
  static final Path COMMITTED =
      Path.of("src", "test", "resources", "proxmox", "pve-api-subset.json");

  /** Every path and method the client sends, and so the simulator serves. */
  static final Map<String, List<String>> USED = used();

  private static Map<String, List<String>> used() {
    Map<String, List<String>> m = new LinkedHashMap<>();
    m.put("/access/ticket", List.of("POST"));
    m.put("/version", List.of("GET"));
    m.put("/nodes", List.of("GET"));
    m.put("/nodes/{node}/status", List.of("GET"));
    m.put("/cluster/resources", List.of("GET"));
    m.put("/cluster/nextid", List.of("GET"));
    m.put("/nodes/{node}/tasks/{upid}/status", List.of("GET"));
    m.put("/nodes/{node}/tasks/{upid}/log", List.of("GET"));
    m.put("/nodes/{node}/qemu", List.of("GET", "POST"));
    m.put("/nodes/{node}/qemu/{vmid}", List.of("DELETE"));
    m.put("/nodes/{node}/qemu/{vmid}/clone", List.of("POST"));
    m.put("/nodes/{node}/qemu/{vmid}/config", List.of("GET", "PUT"));
    m.put("/nodes/{node}/qemu/{vmid}/resize", List.of("PUT"));
    m.put("/nodes/{node}/qemu/{vmid}/status/current", List.of("GET"));
    m.put("/nodes/{node}/qemu/{vmid}/status/start", List.of("POST"));
    m.put("/nodes/{node}/qemu/{vmid}/status/stop", List.of("POST"));
    m.put("/nodes/{node}/qemu/{vmid}/agent/ping", List.of("POST"));
    m.put("/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces", List.of("GET"));
    m.put("/nodes/{node}/qemu/{vmid}/agent/exec", List.of("POST"));
    m.put("/nodes/{node}/qemu/{vmid}/agent/exec-status", List.of("GET"));
    m.put("/nodes/{node}/lxc", List.of("POST"));
    m.put("/nodes/{node}/lxc/{vmid}", List.of("DELETE"));
    m.put("/nodes/{node}/lxc/{vmid}/config", List.of("GET", "PUT"));
    m.put("/nodes/{node}/lxc/{vmid}/resize", List.of("PUT"));
    m.put("/nodes/{node}/lxc/{vmid}/status/current", List.of("GET"));
    m.put("/nodes/{node}/lxc/{vmid}/status/start", List.of("POST"));
    m.put("/nodes/{node}/lxc/{vmid}/status/stop", List.of("POST"));
    m.put("/nodes/{node}/lxc/{vmid}/interfaces", List.of("GET"));
    return m;
  }

  private PveApiSchemaSubset() {}

  /** The subset of {@code full} as pretty-printed JSON. */
  static String generate(Path full) throws IOException {
    ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    PveApiSchema schema = PveApiSchema.load(full);
    ArrayNode out = json.createArrayNode();
    for (Map.Entry<String, List<String>> e : USED.entrySet()) {
      JsonNode node = schema.node(e.getKey());
      if (node == null) {
        throw new IllegalStateException("the official schema has no path " + e.getKey());
      }
      ObjectNode copy = out.addObject();
      copy.put("path", e.getKey());
      copy.set("text", node.get("text"));
      ObjectNode info = copy.putObject("info");
      for (String method : e.getValue()) {
        JsonNode m = node.path("info").path(method);
        if (m.isMissingNode()) {
          throw new IllegalStateException(
              "the official schema has no " + method + " " + e.getKey());
        }
        ObjectNode mc = m.deepCopy();
        mc.remove("returns");
        mc.remove("permissions");
        info.set(method, mc);
      }
    }
    return json.writeValueAsString(out) + "\n";
  }

  /** Writes the subset next to the test sources; run from the project directory. */
  public static void main(String[] args) throws IOException {
    Path full = args.length > 0 ? Path.of(args[0]) : FULL;
    Files.writeString(COMMITTED, generate(full));
    System.out.println("wrote " + COMMITTED + " from " + full);
  }
}
