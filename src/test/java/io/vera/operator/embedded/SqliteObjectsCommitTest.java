package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The group commit's waiters: each is released by the commit of its own change, and only then. */
class SqliteObjectsCommitTest {

  @Test
  void everyWriterReturnsOnceItsOwnChangeIsReadableFromAnotherConnection(@TempDir Path dir)
      throws Exception {
    Path file = dir.resolve("state.db");
    ExecutorService writers = Executors.newFixedThreadPool(24);
    try (SqliteObjects objects = SqliteObjects.open(file, SqliteObjects.Sync.NORMAL);
        Connection other = DriverManager.getConnection("jdbc:sqlite:" + file)) {
      List<Future<String>> done = new ArrayList<>();
      for (int i = 0; i < 2_000; i++) {
        String name = "task-" + i;
        long ord = i + 1;
        done.add(
            writers.submit(
                () -> {
                  String id = "vera.io/v1/veratasks/default/" + name;
                  objects.awaitCommitted(
                      objects.put(id, "veratasks", "default", name, ord, "{}", "{}"));
                  return id;
                }));
      }
      try (PreparedStatement read = other.prepareStatement("SELECT 1 FROM objects WHERE id = ?")) {
        for (Future<String> writer : done) {
          read.setString(1, writer.get(60, TimeUnit.SECONDS));
          try (ResultSet row = read.executeQuery()) {
            assertThat(row.next()).as("committed before its writer returned").isTrue();
          }
        }
      }
      long[] counts = objects.counts();
      assertThat(counts[1]).isEqualTo(2_000);
      assertThat(counts[0]).as("transactions: writes grouped").isLessThan(2_000);
    } finally {
      writers.shutdownNow();
    }
  }

  @Test
  void writersWaitingWhenTheDatabaseFailsGetTheFailure(@TempDir Path dir) throws Exception {
    try (SqliteObjects objects =
        SqliteObjects.open(dir.resolve("state.db"), SqliteObjects.Sync.NORMAL)) {
      // An open section holds the commit until the waiter is parked.
      objects.openSection();
      // A row without a name breaks the table's NOT NULL constraint: the writer stops.
      long broken =
          objects.put(
              "vera.io/v1/veratasks/default/x", "veratasks", "default", null, 1, "{}", "{}");
      CompletableFuture<Throwable> answer = new CompletableFuture<>();
      Thread waiter =
          new Thread(
              () -> {
                try {
                  objects.awaitCommitted(broken);
                  answer.complete(null);
                } catch (RuntimeException e) {
                  answer.complete(e);
                }
              });
      waiter.start();
      Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> waiter.getState() == Thread.State.WAITING);
      assertThat(answer).isNotDone();
      objects.closeSection();

      assertThat(answer.get(10, TimeUnit.SECONDS))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("cannot be written");
      long later =
          objects.put("vera.io/v1/veratasks/default/y", "veratasks", "default", "y", 2, "{}", "{}");
      assertThatThrownBy(() -> objects.awaitCommitted(later))
          .isInstanceOf(IllegalStateException.class);
    }
  }
}
