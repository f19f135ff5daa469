package io.vera.operator.compute.proxmox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vera.operator.compute.ComputeException;
import io.vera.operator.compute.InstanceId;
import io.vera.operator.compute.Machine;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The plan in Proxmox's terms, without a cluster: what is created, changed and resized. */
class GuestSpecTest {
  private static final InstanceId INSTANCE = new InstanceId("inst-1");
  private static final Machine.Owner OWNER =
      new Machine.Owner("team-a", "gpu-box", "uid-42", INSTANCE.value());
  private final ObjectMapper json = new ObjectMapper();

  private static ProxmoxPlan vm(String template, boolean fullClone) {
    return new ProxmoxPlan(
        OWNER,
        false,
        "pve1",
        template,
        "local-lvm",
        "vmbr0",
        fullClone,
        null,
        null,
        List.of(),
        "gpu",
        4,
        8192,
        40,
        1);
  }

  private static ProxmoxPlan lxc() {
    return new ProxmoxPlan(
        OWNER,
        true,
        "pve1",
        null,
        "local-lvm",
        "vmbr0",
        false,
        "local:vztmpl/debian.tar.zst",
        null,
        List.of(),
        null,
        2,
        1024,
        8,
        0);
  }

  @Test
  void aVmWithATemplateIsAFullCloneIntoTheNamedStorageMarkedAsTheResources() {
    GuestSpec.Create call = GuestSpec.create(vm("tmpl", true), 1005, 9000);
    assertThat(call.path()).isEqualTo("nodes/pve1/qemu/9000/clone");
    assertThat(call.params().asMap())
        .containsEntry("newid", List.of("1005"))
        .containsEntry("name", List.of(GuestMarks.guestName("uid-42")))
        .containsEntry("full", List.of("1"))
        .containsEntry("storage", List.of("local-lvm"));
    assertThat(call.params().asMap().get("description").get(0)).contains("uid-42", "inst-1");
  }

  @Test
  void aContainerIsCreatedFromItsOstemplateWithDhcpAndItsMarksAsTags() {
    GuestSpec.Create call = GuestSpec.create(lxc(), 1006, null);
    assertThat(call.path()).isEqualTo("nodes/pve1/lxc");
    assertThat(call.params().asMap())
        .containsEntry("ostemplate", List.of("local:vztmpl/debian.tar.zst"))
        .containsEntry("rootfs", List.of("local-lvm:8"))
        .containsEntry("net0", List.of("name=eth0,bridge=vmbr0,ip=dhcp"))
        .containsEntry("unprivileged", List.of("1"));
    assertThat(
            GuestMarks.ownerUid(
                GuestMarks.parseTags(call.params().asMap().get("tags").get(0)), null))
        .contains("uid-42");
  }

  @Test
  void aClonedVmIsBroughtToThePlanAndAMatchingOneIsLeftAlone() {
    ProxmoxPlan plan = vm("tmpl", false);
    ObjectNode cloned = json.createObjectNode().put("cores", 1).put("memory", "2048");
    Params change = GuestSpec.vmChanges(plan, cloned, INSTANCE);
    assertThat(change.asMap().keySet())
        .containsExactly("tags", "cores", "memory", "agent", "hostpci0", "description");

    ObjectNode matching =
        json.createObjectNode()
            .put("tags", GuestMarks.tagList(GuestMarks.tags(OWNER, List.of())))
            .put("cores", 4)
            .put("memory", "8192")
            .put("agent", "1")
            .put("hostpci0", "mapping=gpu")
            .put("description", GuestMarks.description(OWNER));
    assertThat(GuestSpec.vmChanges(plan, matching, INSTANCE).isEmpty()).isTrue();
  }

  @Test
  void aSmallerDiskIsGrownToThePlanAndALargerOneIsNeverShrunk() throws Exception {
    Guest guest = new Guest("pve1", 1005, false, null, Set.of(), "stopped", null);
    ObjectNode small = json.createObjectNode().put("scsi0", "local-lvm:vm-1005-disk-0,size=10G");
    assertThat(GuestSpec.resize(vm(null, false), guest, small).orElseThrow().asMap())
        .containsEntry("disk", List.of("scsi0"))
        .containsEntry("size", List.of("40G"));

    ObjectNode large = json.createObjectNode().put("scsi0", "local-lvm:vm-1005-disk-0,size=100G");
    assertThat(GuestSpec.resize(vm(null, false), guest, large)).isEmpty();
  }

  @Test
  void aVmWithNoDiskToBootFromIsRefusedSayingSo() {
    Guest guest = new Guest("pve1", 1005, false, null, Set.of(), "stopped", null);
    assertThatThrownBy(() -> GuestSpec.resize(vm(null, false), guest, json.createObjectNode()))
        .isInstanceOf(ComputeException.class)
        .hasMessageContaining("VM 1005 has no disk to boot from");
  }
}
