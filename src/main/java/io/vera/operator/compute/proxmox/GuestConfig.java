package io.vera.operator.compute.proxmox;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reading values out of a guest's config as {@code GET .../config} returns it. */
final class GuestConfig {
  static final long MIB = 1024L * 1024;
  static final long GIB = 1024L * MIB;
  private static final Pattern SIZE = Pattern.compile("(?:^|,)size=(\\d+(?:\\.\\d+)?)([KMGT]?)");

  private GuestConfig() {}

  /** Memory in MiB from a VM config: "2048", 2048 or the property string "current=2048,...". */
  static long memoryMb(JsonNode config) {
    JsonNode m = config.get("memory");
    if (m == null || m.isNull()) {
      return 512;
    }
    if (m.isNumber()) {
      return m.asLong();
    }
    for (String part : m.asText().split(",")) {
      String p = part.strip();
      if (p.startsWith("current=")) {
        p = p.substring(8);
      }
      if (p.matches("\\d+")) {
        return Long.parseLong(p);
      }
    }
    return 512;
  }

  static boolean agentEnabled(String agent) {
    if (agent == null) {
      return false;
    }
    for (String part : agent.split(",")) {
      String p = part.strip();
      if (p.equals("1") || p.equals("enabled=1") || p.equals("enabled=true") || p.equals("true")) {
        return true;
      }
    }
    return false;
  }

  /** The config key of the disk the VM boots from, or null. */
  static String bootDisk(JsonNode config) {
    String boot = Json.text(config, "boot");
    List<String> candidates = new ArrayList<>();
    if (boot != null) {
      for (String part : boot.split(",")) {
        if (part.startsWith("order=")) {
          candidates.addAll(List.of(part.substring(6).split(";")));
        }
      }
    }
    String legacy = Json.text(config, "bootdisk");
    if (legacy != null) {
      candidates.add(legacy);
    }
    for (String bus : List.of("scsi", "virtio", "sata", "ide")) {
      for (int i = 0; i < 31; i++) {
        candidates.add(bus + i);
      }
    }
    for (String key : candidates) {
      String value = Json.text(config, key.strip());
      if (value != null
          && key.matches("(scsi|virtio|sata|ide)\\d+")
          && !value.contains("media=cdrom")) {
        return key.strip();
      }
    }
    return null;
  }

  /** Bytes of a disk from its property string's {@code size=} (K, M, G, T; bytes without unit). */
  static long sizeBytes(String disk) {
    if (disk == null) {
      return 0;
    }
    Matcher m = SIZE.matcher(disk);
    if (!m.find()) {
      return 0;
    }
    double n = Double.parseDouble(m.group(1));
    long unit =
        switch (m.group(2)) {
          case "K" -> 1024L;
          case "M" -> MIB;
          case "G" -> GIB;
          case "T" -> 1024L * GIB;
          default -> 1L;
        };
    return (long) (n * unit);
  }
}
