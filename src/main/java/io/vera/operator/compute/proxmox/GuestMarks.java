package io.vera.operator.compute.proxmox;

import io.vera.operator.compute.ComputeLabels;
import io.vera.operator.compute.Machine;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * The marks that tie a Proxmox guest to its ComputeResource, so it is found again after an operator
 * restart.
 *
 * <ul>
 *   <li>the guest's name (VM) or hostname (LXC) is {@code vera-<uid>}, set by the very call that
 *       creates it, so even a guest whose set-up was cut short is recognised;
 *   <li>tags: {@code vera-operator}, {@code vera-uid-<uid>}, {@code vera-instance-<instance id>},
 *       {@code vera-ns-<namespace>}, {@code vera-name-<name>}, plus the Provider's and the spec's
 *       tags;
 *   <li>the description holds the same facts as {@code vera.io/...=value} lines, in full.
 * </ul>
 *
 * <p>Proxmox tags allow only {@code [a-z0-9_][a-z0-9_+.-]*}: every other character (upper case
 * included) is written as {@code _} and two hex digits per UTF-8 byte, which reads back exactly.
 */
final class GuestMarks {
  static final String MANAGED_TAG = ComputeLabels.MANAGED_BY_VALUE;
  static final String NAME_PREFIX = "vera-";
  private static final String UID_TAG = "vera-uid-";
  private static final String NS_TAG = "vera-ns-";
  private static final String NAME_TAG = "vera-name-";
  private static final String INSTANCE_TAG = "vera-instance-";

  private GuestMarks() {}

  /** The VM name / LXC hostname for a resource uid (a valid DNS name: uids are UUIDs). */
  static String guestName(String uid) {
    return NAME_PREFIX + encode(uid);
  }

  static List<String> tags(Machine.Owner owner, List<String> extra) {
    Set<String> tags = new LinkedHashSet<>();
    if (extra != null) {
      for (String t : extra) {
        if (t != null && !t.isBlank()) {
          tags.add(encode(t.strip()));
        }
      }
    }
    tags.add(MANAGED_TAG);
    tags.add(UID_TAG + encode(owner.uid()));
    if (owner.instance() != null) {
      tags.add(INSTANCE_TAG + encode(owner.instance()));
    }
    tags.add(NS_TAG + encode(owner.namespace()));
    tags.add(NAME_TAG + encode(owner.name()));
    return new ArrayList<>(tags);
  }

  /** Proxmox's tag list form: semicolon-separated. */
  static String tagList(List<String> tags) {
    return String.join(";", tags);
  }

  static Set<String> parseTags(String tags) {
    Set<String> out = new LinkedHashSet<>();
    if (tags == null) {
      return out;
    }
    for (String t : tags.split("[;, ]+")) {
      if (!t.isBlank()) {
        out.add(t.strip().toLowerCase(Locale.ROOT));
      }
    }
    return out;
  }

  static String description(Machine.Owner owner) {
    return "Created by vera-operator for ComputeResource "
        + owner.namespace()
        + "/"
        + owner.name()
        + ". Deleting the resource deletes this guest.\n"
        + ComputeLabels.MANAGED_BY
        + "="
        + ComputeLabels.MANAGED_BY_VALUE
        + "\n"
        + ComputeLabels.RESOURCE_UID
        + "="
        + owner.uid()
        + "\n"
        + (owner.instance() == null ? "" : ComputeLabels.INSTANCE + "=" + owner.instance() + "\n")
        + ComputeLabels.RESOURCE_NAMESPACE
        + "="
        + owner.namespace()
        + "\n"
        + ComputeLabels.RESOURCE_NAME
        + "="
        + owner.name()
        + "\n";
  }

  /** Whether a guest carries our marks: the managed tag or a {@code vera-<uid>} name. */
  static boolean marked(Set<String> tags, String name) {
    return tags.contains(MANAGED_TAG) || ownerUid(tags, name).isPresent();
  }

  /** The owner's uid from the tags, else from the guest's name. */
  static Optional<String> ownerUid(Set<String> tags, String name) {
    Optional<String> fromTag = tagValue(tags, UID_TAG);
    if (fromTag.isPresent()) {
      return fromTag;
    }
    if (name != null && name.startsWith(NAME_PREFIX) && name.length() > NAME_PREFIX.length()) {
      String uid = decode(name.substring(NAME_PREFIX.length()));
      if (uid.matches(
          "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")) {
        return Optional.of(uid);
      }
    }
    return Optional.empty();
  }

  /**
   * The installation id from the tags, empty when there is no such tag: then only the description
   * (read with the guest's config) can tell, or the guest predates the mark, or its clone is still
   * running (Proxmox sets tags after the clone).
   */
  static Optional<String> instanceTag(Set<String> tags) {
    return tagValue(tags, INSTANCE_TAG);
  }

  /** The owner as far as tags, name and description tell; blanks where nothing says. */
  static Optional<Machine.Owner> owner(Set<String> tags, String name, String description) {
    Optional<String> uid = ownerUid(tags, name);
    if (uid.isEmpty()) {
      uid = descriptionValue(description, ComputeLabels.RESOURCE_UID);
    }
    if (uid.isEmpty()) {
      return Optional.empty();
    }
    String ns =
        tagValue(tags, NS_TAG)
            .or(() -> descriptionValue(description, ComputeLabels.RESOURCE_NAMESPACE))
            .orElse(null);
    String n =
        tagValue(tags, NAME_TAG)
            .or(() -> descriptionValue(description, ComputeLabels.RESOURCE_NAME))
            .orElse(null);
    String instance =
        instanceTag(tags)
            .or(() -> descriptionValue(description, ComputeLabels.INSTANCE))
            .orElse(null);
    return Optional.of(new Machine.Owner(ns, n, uid.get(), instance));
  }

  private static Optional<String> tagValue(Set<String> tags, String prefix) {
    for (String t : tags) {
      if (t.startsWith(prefix) && t.length() > prefix.length()) {
        return Optional.of(decode(t.substring(prefix.length())));
      }
    }
    return Optional.empty();
  }

  static Optional<String> descriptionValue(String description, String key) {
    if (description == null) {
      return Optional.empty();
    }
    for (String line : description.split("\\R")) {
      String l = line.strip();
      if (l.startsWith(key + "=")) {
        String v = l.substring(key.length() + 1).strip();
        return v.isEmpty() ? Optional.empty() : Optional.of(v);
      }
    }
    return Optional.empty();
  }

  /** Writes {@code value} in the tag charset; see the class comment. */
  static String encode(String value) {
    StringBuilder out = new StringBuilder();
    byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < bytes.length; i++) {
      int b = bytes[i] & 0xff;
      boolean plain =
          (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || ((b == '-' || b == '.') && i > 0);
      if (plain) {
        out.append((char) b);
      } else {
        out.append('_').append(String.format("%02x", b));
      }
    }
    return out.toString();
  }

  static String decode(String encoded) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < encoded.length(); i++) {
      char c = encoded.charAt(i);
      if (c == '_' && i + 2 < encoded.length()) {
        try {
          out.write(Integer.parseInt(encoded.substring(i + 1, i + 3), 16));
          i += 2;
          continue;
        } catch (NumberFormatException e) {
          // not an escape: keep the underscore
        }
      }
      out.write((byte) c);
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}
