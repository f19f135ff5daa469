package io.vera.operator.compute.proxmox;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The official Proxmox VE API schema (pve-docs {@code apidata.js} as JSON: a tree of {@code {path,
 * info: {METHOD: {parameters: {properties}}}, children}}), used to refuse a request the real API
 * would refuse, as the real API does it (PVE::JSONSchema): unknown parameters (every API method has
 * {@code additionalProperties: 0}), missing required ones, wrong types (integer, number, boolean,
 * string, array), enums, minimum and maximum, maxLength, patterns, and the formats the client uses
 * (VMIDs, node and storage names, tag lists, and property strings such as {@code net0} or {@code
 * rootfs}, checked key by key against their format, incl. {@code default_key} and aliases).
 *
 * <p>Named formats it does not know are accepted, except property-string formats such as {@code
 * pve-qm-hostpci}, whose keys are read from the {@code typetext} and checked. Perl-only regex
 * syntax is translated where it can be ({@code (?^:...)}), otherwise the pattern is skipped.
 */
final class PveApiSchema {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Map<String, JsonNode> byPath = new LinkedHashMap<>();

  private PveApiSchema(JsonNode root) {
    walk(root);
  }

  static PveApiSchema load(Path file) throws IOException {
    return new PveApiSchema(JSON.readTree(file.toFile()));
  }

  static PveApiSchema load(InputStream in) throws IOException {
    return new PveApiSchema(JSON.readTree(in));
  }

  private void walk(JsonNode nodes) {
    for (JsonNode n : nodes) {
      if (n.has("path") && n.has("info")) {
        byPath.put(n.get("path").asText(), n);
      }
      if (n.has("children")) {
        walk(n.get("children"));
      }
    }
  }

  Set<String> paths() {
    return byPath.keySet();
  }

  JsonNode node(String templatePath) {
    return byPath.get(templatePath);
  }

  /** A concrete path matched to its template, with the values of its templated segments. */
  record Match(String template, Map<String, String> pathParams) {}

  /** The template ({@code /nodes/{node}/qemu/{vmid}/config}) a concrete path belongs to. */
  Optional<Match> match(String path) {
    String[] segs = trim(path).split("/");
    Match best = null;
    int bestLiterals = -1;
    for (String template : byPath.keySet()) {
      String[] t = trim(template).split("/");
      if (t.length != segs.length) {
        continue;
      }
      Map<String, String> params = new LinkedHashMap<>();
      int literals = 0;
      boolean ok = true;
      for (int i = 0; i < t.length && ok; i++) {
        if (t[i].startsWith("{") && t[i].endsWith("}")) {
          params.put(t[i].substring(1, t[i].length() - 1), segs[i]);
          ok = !segs[i].isEmpty();
        } else if (t[i].equals(segs[i])) {
          literals++;
        } else {
          ok = false;
        }
      }
      if (ok && literals > bestLiterals) {
        best = new Match(template, params);
        bestLiterals = literals;
      }
    }
    return Optional.ofNullable(best);
  }

  private static String trim(String p) {
    String s = p.startsWith("/") ? p.substring(1) : p;
    return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
  }

  /**
   * Every reason the real API would refuse this request, as {@code parameter -> message} (PVE's own
   * wording where it has one); empty when it would accept it.
   */
  Map<String, String> check(String method, String path, Map<String, List<String>> params) {
    Map<String, String> errors = new LinkedHashMap<>();
    Optional<Match> m = match(path);
    if (m.isEmpty()) {
      errors.put("(path)", "no such path " + path);
      return errors;
    }
    JsonNode info = byPath.get(m.get().template()).path("info").path(method);
    if (info.isMissingNode()) {
      errors.put("(method)", "method " + method + " not implemented for " + m.get().template());
      return errors;
    }
    JsonNode schema = info.path("parameters");
    JsonNode props = schema.path("properties");
    Map<String, List<String>> all = new LinkedHashMap<>(params);
    m.get().pathParams().forEach((k, v) -> all.put(k, List.of(v)));
    for (Map.Entry<String, List<String>> e : all.entrySet()) {
      String name = e.getKey();
      JsonNode prop = property(props, name);
      if (prop == null) {
        if (!schema.path("additionalProperties").asBoolean(false)
            && schema.path("additionalProperties").asInt(0) == 0) {
          errors.put(
              name,
              "property is not defined in schema and the schema does not allow additional properties");
        }
        continue;
      }
      List<String> values = e.getValue();
      if ("array".equals(prop.path("type").asText())) {
        for (String v : values) {
          String err = checkValue(prop.path("items"), v);
          if (err != null) {
            errors.put(name, err);
          }
        }
        continue;
      }
      if (values.size() != 1) {
        errors.put(name, "property given " + values.size() + " times, but it is not an array");
        continue;
      }
      String err = checkValue(prop, values.get(0));
      if (err != null) {
        errors.put(name, err);
      }
    }
    Iterator<Map.Entry<String, JsonNode>> fields = props.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> f = fields.next();
      if (f.getKey().contains("[n]") || optional(f.getValue())) {
        continue;
      }
      if (!all.containsKey(f.getKey())) {
        errors.put(f.getKey(), "property is missing and it is not optional");
      }
    }
    return errors;
  }

  /** {@code net0} is {@code net[n]}; {@code hostpci3} is {@code hostpci[n]}. */
  private static JsonNode property(JsonNode props, String name) {
    if (props.has(name)) {
      return props.get(name);
    }
    Matcher m = Pattern.compile("([a-z_-]+?)(\\d+)").matcher(name);
    if (m.matches() && props.has(m.group(1) + "[n]")) {
      return props.get(m.group(1) + "[n]");
    }
    return null;
  }

  private static boolean optional(JsonNode prop) {
    JsonNode o = prop.get("optional");
    return o != null && (o.asBoolean(false) || o.asInt(0) == 1);
  }

  private static final Pattern INTEGER = Pattern.compile("[+-]?\\d+");
  private static final Pattern NUMBER =
      Pattern.compile("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?");
  private static final Pattern BOOLEAN = Pattern.compile("(?i)1|0|true|false|yes|no|on|off");

  /** Why {@code value} does not fit {@code prop}, or null when it does. */
  static String checkValue(JsonNode prop, String value) {
    String type = prop.path("type").asText("string");
    switch (type) {
      case "integer" -> {
        if (!INTEGER.matcher(value).matches()) {
          return "type check ('integer') failed - got '" + value + "'";
        }
        String range = range(prop, Double.parseDouble(value));
        if (range != null) {
          return range;
        }
      }
      case "number" -> {
        if (!NUMBER.matcher(value).matches()) {
          return "type check ('number') failed - got '" + value + "'";
        }
        String range = range(prop, Double.parseDouble(value));
        if (range != null) {
          return range;
        }
      }
      case "boolean" -> {
        if (!BOOLEAN.matcher(value).matches()) {
          return "type check ('boolean') failed - got '" + value + "'";
        }
      }
      default -> {
        // string: checked below
      }
    }
    if (prop.has("enum")) {
      boolean found = false;
      for (JsonNode e : prop.get("enum")) {
        found |= e.asText().equals(value);
      }
      if (!found) {
        return "value '"
            + value
            + "' does not have a value in the enumeration '"
            + enumText(prop)
            + "'";
      }
    }
    if (prop.has("maxLength") && value.length() > prop.get("maxLength").asInt()) {
      return "value may only be " + prop.get("maxLength").asInt() + " characters long";
    }
    if (prop.has("minLength") && value.length() < prop.get("minLength").asInt()) {
      return "value must be at least " + prop.get("minLength").asInt() + " characters long";
    }
    if (prop.has("pattern")) {
      Pattern p = perlPattern(prop.get("pattern").asText());
      if (p != null && !p.matcher(value).matches()) {
        return "value does not match the regex pattern";
      }
    }
    JsonNode format = prop.get("format");
    if (format != null) {
      if (format.isObject()) {
        return checkPropertyString(format, value);
      }
      return checkNamedFormat(format.asText(), prop, value);
    }
    return null;
  }

  private static String enumText(JsonNode prop) {
    List<String> out = new ArrayList<>();
    prop.get("enum").forEach(e -> out.add(e.asText()));
    return String.join(", ", out);
  }

  private static String range(JsonNode prop, double v) {
    if (prop.has("minimum") && v < prop.get("minimum").asDouble()) {
      return "value must have a minimum value of " + prop.get("minimum").asText();
    }
    if (prop.has("maximum") && v > prop.get("maximum").asDouble()) {
      return "value must have a maximum value of " + prop.get("maximum").asText();
    }
    return null;
  }

  static Pattern perlPattern(String perl) {
    String java = perl.replace("(?^:", "(?:").replace("(?^i:", "(?i:");
    try {
      return Pattern.compile(java);
    } catch (PatternSyntaxException e) {
      return null;
    }
  }

  private static final Pattern NODE = Pattern.compile("[a-zA-Z0-9]([a-zA-Z0-9\\-]*[a-zA-Z0-9])?");
  private static final Pattern STORAGE_ID = Pattern.compile("(?i)[a-z][a-z0-9\\-_.]*[a-z0-9]");
  private static final Pattern POOL_ID =
      Pattern.compile("[A-Za-z0-9_\\-.]+(/[A-Za-z0-9_\\-.]+){0,2}");
  private static final Pattern TAG = Pattern.compile("(?i)[a-z0-9_][a-z0-9_\\-+.]*");
  private static final Pattern DNS_NAME =
      Pattern.compile(
          "(?i)([a-z0-9]([a-z0-9\\-]*[a-z0-9])?)(\\.([a-z0-9]([a-z0-9\\-]*[a-z0-9])?))*");
  private static final Pattern CONFIG_ID = Pattern.compile("[a-z][a-z_\\-0-9]*");
  private static final Pattern BRIDGE = Pattern.compile("[-_.\\w\\d]+");
  private static final Pattern DISK_SIZE = Pattern.compile("\\d+(\\.\\d+)?[KMGT]?");
  private static final Pattern VOLUME =
      Pattern.compile("(?i)([a-z][a-z0-9\\-_.]*[a-z0-9]:[^,\\s]+|/[^,\\s]+|none|cdrom)");
  private static final Pattern IPV4_CONFIG =
      Pattern.compile("dhcp|manual|\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}");
  private static final Pattern TYPETEXT_KEY =
      Pattern.compile("(?:^|[\\[,])\\[?,?([a-z][a-z0-9_-]*)=<");

  private static String checkNamedFormat(String format, JsonNode prop, String value) {
    boolean ok =
        switch (format) {
          case "pve-vmid" -> INTEGER.matcher(value).matches();
          case "pve-node" -> NODE.matcher(value).matches();
          case "pve-storage-id" -> STORAGE_ID.matcher(value).matches();
          case "pve-poolid" -> POOL_ID.matcher(value).matches();
          case "pve-bridge-id" -> BRIDGE.matcher(value).matches();
          case "dns-name" -> DNS_NAME.matcher(value).matches();
          case "pve-configid" -> CONFIG_ID.matcher(value).matches();
          case "pve-configid-list" -> allMatch(value, "[,;\\s]+", CONFIG_ID);
          case "pve-tag-list" -> allMatch(value, "[;,\\s]+", TAG);
          case "disk-size" -> DISK_SIZE.matcher(value).matches();
          case "pve-lxc-mp-string", "pve-volume-id-or-qm-path", "pve-volume-id" ->
              VOLUME.matcher(value).matches();
          case "pve-ipv4-config" -> IPV4_CONFIG.matcher(value).matches();
          default -> true;
        };
    if (!ok) {
      return "value does not match the format '" + format + "': '" + value + "'";
    }
    String typetext = prop.path("typetext").asText("");
    if (format.startsWith("pve-") && typetext.contains("=<")) {
      // A property string known only by name (pve-qm-hostpci): its keys are in the typetext.
      Set<String> keys = new LinkedHashSet<>();
      Matcher m = TYPETEXT_KEY.matcher(typetext);
      while (m.find()) {
        keys.add(m.group(1));
      }
      for (String part : value.split(",")) {
        int eq = part.indexOf('=');
        if (eq > 0 && !keys.contains(part.substring(0, eq))) {
          return "invalid format - property '"
              + part.substring(0, eq)
              + "' is not defined in "
              + format;
        }
      }
    }
    return null;
  }

  private static boolean allMatch(String value, String separator, Pattern p) {
    for (String part : value.split(separator)) {
      if (!part.isEmpty() && !p.matcher(part).matches()) {
        return false;
      }
    }
    return true;
  }

  /** Checks {@code k=v,k=v} (with a bare value for the {@code default_key}) against a format. */
  static String checkPropertyString(JsonNode format, String value) {
    String defaultKey = null;
    Iterator<Map.Entry<String, JsonNode>> it = format.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> f = it.next();
      if (f.getValue().path("default_key").asInt(0) == 1) {
        defaultKey = f.getKey();
      }
    }
    Map<String, String> seen = new LinkedHashMap<>();
    for (String part : value.split(",")) {
      if (part.isEmpty()) {
        continue;
      }
      int eq = part.indexOf('=');
      String key;
      String v;
      if (eq < 0) {
        if (defaultKey == null) {
          return "invalid format - value without key, but schema does not define a default key";
        }
        key = defaultKey;
        v = part;
      } else {
        key = part.substring(0, eq);
        v = part.substring(eq + 1);
      }
      JsonNode sub = format.get(key);
      if (sub == null) {
        return "invalid format - property '" + key + "' is not defined in the format";
      }
      if (sub.has("alias")) {
        if (sub.has("keyAlias")) {
          seen.put(sub.get("keyAlias").asText(), key);
        }
        key = sub.get("alias").asText();
        sub = format.get(key);
      }
      if (seen.containsKey(key)) {
        return "invalid format - duplicate key in comma-separated list property: " + key;
      }
      seen.put(key, v);
      String err = checkValue(sub, v);
      if (err != null) {
        return "invalid format - " + key + ": " + err;
      }
    }
    Iterator<Map.Entry<String, JsonNode>> all = format.fields();
    while (all.hasNext()) {
      Map.Entry<String, JsonNode> f = all.next();
      if (!f.getValue().has("alias") && !optional(f.getValue()) && !seen.containsKey(f.getKey())) {
        return "invalid format - property '" + f.getKey() + "' is missing";
      }
    }
    return null;
  }

  static String lower(String s) {
    return s.toLowerCase(Locale.ROOT);
  }
}
