package io.vera.operator.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The CRDs committed under crds/ are exactly what the build generates from the Java classes. */
class CrdFilesTest {
  private static final Path GENERATED = Path.of("target", "classes", "META-INF", "fabric8");
  private static final Path COMMITTED = Path.of("crds");

  @Test
  void committedCrdsMatchTheGeneratedOnes() throws IOException {
    List<Path> generated;
    try (Stream<Path> files = Files.list(GENERATED)) {
      generated = files.filter(p -> p.toString().endsWith("-v1.yml")).sorted().toList();
    }
    assertThat(generated).hasSize(4);
    for (Path file : generated) {
      String name = file.getFileName().toString().replace("-v1.yml", ".yaml");
      Path committed = COMMITTED.resolve(name);
      assertThat(committed)
          .as("crds/%s is missing; copy %s there (see README, 'Development')", name, file)
          .exists();
      assertThat(Files.readString(committed))
          .as("crds/%s differs from the generated %s; copy the generated file over it", name, file)
          .isEqualTo(Files.readString(file));
    }
    try (Stream<Path> files = Files.list(COMMITTED)) {
      assertThat(files.count())
          .as("crds/ holds a file the build does not generate")
          .isEqualTo(generated.size());
    }
  }
}
