import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Orders the printer columns of each generated CRD as the resource class declares its
 * {@code @AdditionalPrinterColumn}s (Age last, as kubectl users expect). fabric8's crd-generator
 * sorts them by jsonPath, which puts .metadata.creationTimestamp first, and offers no way to order
 * them (fabric8io/kubernetes-client issue 7454). Runs from the pom right after the generator, on
 * its output, so the committed crds/ still equal what the build generates.
 *
 * <p>Usage: java PrinterColumnsInDeclaredOrder.java GENERATED_DIR RESOURCE_SOURCE_DIR
 */
public class PrinterColumnsInDeclaredOrder {
  private static final Pattern KIND = Pattern.compile("(?m)^ +kind: \"(\\w+)\"$");
  private static final Pattern DECLARED =
      Pattern.compile("@AdditionalPrinterColumn\\(\\s*name = \"([^\"]+)\"");

  public static void main(String[] args) throws IOException {
    Path sources = Path.of(args[1]);
    try (Stream<Path> files = Files.list(Path.of(args[0]))) {
      for (Path file : files.filter(f -> f.toString().endsWith(".yml")).toList()) {
        String yaml = Files.readString(file);
        Matcher kind = KIND.matcher(yaml);
        Path source = kind.find() ? sources.resolve(kind.group(1) + ".java") : null;
        if (source == null || !Files.exists(source)) {
          continue;
        }
        List<String> declared = new ArrayList<>();
        Matcher column = DECLARED.matcher(Files.readString(source));
        while (column.find()) {
          declared.add(column.group(1));
        }
        String ordered = ordered(yaml, declared);
        if (!ordered.equals(yaml)) {
          Files.writeString(file, ordered);
        }
      }
    }
  }

  static String ordered(String yaml, List<String> declared) {
    List<String> lines = new ArrayList<>(yaml.lines().toList());
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (!line.endsWith("additionalPrinterColumns:")) {
        continue;
      }
      // "  - additionalPrinterColumns:" (a version's first key) or "    additionalPrinterColumns:"
      String itemIndent = " ".repeat(line.indexOf('a')) + "- ";
      int end = i + 1;
      List<List<String>> items = new ArrayList<>();
      while (end < lines.size()
          && (lines.get(end).startsWith(itemIndent)
              || lines.get(end).startsWith(" ".repeat(itemIndent.length())))) {
        if (lines.get(end).startsWith(itemIndent)) {
          items.add(new ArrayList<>());
        }
        items.get(items.size() - 1).add(lines.get(end));
        end++;
      }
      items.sort(Comparator.comparingInt(item -> position(item, declared)));
      int at = i + 1;
      for (List<String> item : items) {
        for (String l : item) {
          lines.set(at++, l);
        }
      }
      i = end - 1;
    }
    return String.join("\n", lines) + (yaml.endsWith("\n") ? "\n" : "");
  }

  private static int position(List<String> item, List<String> declared) {
    for (String line : item) {
      String trimmed = line.replaceFirst("^[\\s-]+", "");
      if (trimmed.startsWith("name: \"")) {
        int index = declared.indexOf(trimmed.substring(7, trimmed.length() - 1));
        return index < 0 ? Integer.MAX_VALUE : index;
      }
    }
    return Integer.MAX_VALUE;
  }
}
