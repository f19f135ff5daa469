package io.vera.operator.compute.proxmox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The committed schema subset is the official one, and the checker refuses what Proxmox refuses.
 */
class ProxmoxSchemaTest {
  private static PveApiSchema subset;

  @BeforeAll
  static void load() throws Exception {
    try (InputStream in =
        ProxmoxSchemaTest.class.getResourceAsStream("/proxmox/pve-api-subset.json")) {
      subset = PveApiSchema.load(in);
    }
  }

  @Test
  void committedSubsetIsCutFromTheOfficialSchema() throws Exception {
    assumeTrue(
        Files.exists(PveApiSchemaSubset.FULL),
        "the official schema is not at " + PveApiSchemaSubset.FULL.toAbsolutePath());
    String generated = PveApiSchemaSubset.generate(PveApiSchemaSubset.FULL);
    if (Boolean.getBoolean("proxmox.schema.regenerate")) {
      Files.writeString(PveApiSchemaSubset.COMMITTED, generated);
    }
    assertThat(Files.readString(PveApiSchemaSubset.COMMITTED))
        .as(
            "src/test/resources/proxmox/pve-api-subset.json is stale; regenerate it (see PveApiSchemaSubset)")
        .isEqualTo(generated);
  }

  @Test
  void subsetCoversEveryPathTheClientUses() {
    assertThat(subset.paths())
        .containsExactlyInAnyOrderElementsOf(PveApiSchemaSubset.USED.keySet());
  }

  @Test
  void unknownParameterIsRefused() {
    assertThat(check("PUT", "/nodes/pve1/qemu/101/config", Map.of("corez", List.of("2"))))
        .containsKey("corez");
  }

  @Test
  void missingRequiredParameterIsRefused() {
    assertThat(check("POST", "/nodes/pve1/qemu/9000/clone", Map.of())).containsKey("newid");
  }

  @Test
  void wrongTypesAndRangesAreRefused() {
    assertThat(check("POST", "/nodes/pve1/qemu/9000/clone", Map.of("newid", List.of("abc"))))
        .containsKey("newid");
    assertThat(check("POST", "/nodes/pve1/qemu/9000/clone", Map.of("newid", List.of("99"))))
        .containsKey("newid");
    assertThat(
            check(
                "POST",
                "/nodes/pve1/qemu/9000/clone",
                Map.of("newid", List.of("101"), "full", List.of("maybe"))))
        .containsKey("full");
    assertThat(check("PUT", "/nodes/pve1/qemu/abc/config", Map.of())).containsKey("vmid");
  }

  @Test
  void enumIsChecked() {
    assertThat(check("GET", "/cluster/resources", Map.of("type", List.of("vms"))))
        .containsKey("type");
    assertThat(check("GET", "/cluster/resources", Map.of("type", List.of("vm")))).isEmpty();
  }

  @Test
  void propertyStringsAreCheckedKeyByKey() {
    assertThat(check("POST", "/nodes/pve1/lxc", lxc("name=eth0,bridge=vmbr0,ip=dhcp"))).isEmpty();
    assertThat(check("POST", "/nodes/pve1/lxc", lxc("name=eth0,bridg=vmbr0,ip=dhcp")))
        .containsKey("net0");
    assertThat(check("POST", "/nodes/pve1/lxc", lxc("bridge=vmbr0,ip=dhcp")))
        .as("name is required in an LXC net")
        .containsKey("net0");
    assertThat(
            check(
                "PUT",
                "/nodes/pve1/qemu/101/config",
                Map.of("net0", List.of("virtio,bridge=vmbr0"))))
        .isEmpty();
    assertThat(
            check(
                "PUT",
                "/nodes/pve1/qemu/101/config",
                Map.of("net0", List.of("virtioo,bridge=vmbr0"))))
        .containsKey("net0");
    assertThat(
            check(
                "PUT",
                "/nodes/pve1/qemu/101/config",
                Map.of("hostpci0", List.of("mapping=gpu-a100"))))
        .isEmpty();
    assertThat(
            check(
                "PUT",
                "/nodes/pve1/qemu/101/config",
                Map.of("hostpci0", List.of("mappings=gpu-a100"))))
        .containsKey("hostpci0");
  }

  @Test
  void tagsMustUseTheTagCharset() {
    assertThat(
            check(
                "PUT",
                "/nodes/pve1/qemu/101/config",
                Map.of("tags", List.of("vera-operator;vera-uid-1f0"))))
        .isEmpty();
    assertThat(
            check("PUT", "/nodes/pve1/qemu/101/config", Map.of("tags", List.of("vera/ns:default"))))
        .containsKey("tags");
  }

  @Test
  void arraysTakeRepeatedValuesAndScalarsDoNot() {
    assertThat(
            check(
                "POST",
                "/nodes/pve1/qemu/101/agent/exec",
                Map.of("command", List.of("/bin/sh", "-c", "echo hi"))))
        .isEmpty();
    assertThat(check("PUT", "/nodes/pve1/qemu/101/config", Map.of("cores", List.of("1", "2"))))
        .containsKey("cores");
  }

  @Test
  void unknownPathOrMethodIsRefused() {
    assertThat(check("GET", "/nodes/pve1/qemu/101/agent/exec", Map.of())).containsKey("(method)");
    assertThat(check("GET", "/nodes/pve1/nothing", Map.of())).containsKey("(path)");
  }

  @Test
  void tagEncodingFitsTheCharsetAndReadsBack() {
    for (String s : List.of("default", "team-a.b", "Upper Case/ns:x", "ünï", "-lead", "_x")) {
      String encoded = GuestMarks.encode(s);
      assertThat(encoded).matches("[a-z0-9_][a-z0-9_+.-]*");
      assertThat(GuestMarks.decode(encoded)).isEqualTo(s);
    }
  }

  private static Map<String, List<String>> lxc(String net0) {
    return Map.of(
        "vmid", List.of("120"),
        "ostemplate", List.of(ProxmoxSimulator.OSTEMPLATE),
        "rootfs", List.of("local-lvm:8"),
        "net0", List.of(net0));
  }

  private static Map<String, String> check(
      String method, String path, Map<String, List<String>> params) {
    return subset.check(method, path, params);
  }
}
