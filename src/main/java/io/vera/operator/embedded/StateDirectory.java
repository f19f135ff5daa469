package io.vera.operator.embedded;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The directory embedded mode keeps its state in ({@code --state-dir}): the SQLite database of the
 * API server's objects and a lock file that lets one operator at a time use it.
 *
 * <p>Opening it checks, before anything is served, what would otherwise fail later with lost
 * writes: that the directory can be created and written (a probe file is written and synced) and
 * that the disk has room. The lock is an OS file lock ({@link FileChannel#tryLock}), released by
 * the OS when the process ends however it ends, kill -9 included, so a stale lock never blocks a
 * restart.
 */
public final class StateDirectory implements AutoCloseable {

  /** Free space below which the state directory is refused at start. */
  static final long MIN_FREE_BYTES = 64L * 1024 * 1024;

  private static final String LOCK_FILE = "lock";
  private static final String DATABASE_FILE = "store.db";

  private final Path path;
  private final FileChannel lockChannel;
  private final FileLock lock;

  private StateDirectory(Path path, FileChannel lockChannel, FileLock lock) {
    this.path = path;
    this.lockChannel = lockChannel;
    this.lock = lock;
  }

  /**
   * Creates the directory if needed, checks that it is writable and has room, and locks it.
   *
   * @throws IllegalStateException with a message for the user when the directory cannot be created
   *     or written, the disk is (nearly) full, or another process holds the lock
   */
  public static StateDirectory open(Path directory) {
    Path path = directory.toAbsolutePath().normalize();
    try {
      Files.createDirectories(path);
    } catch (IOException e) {
      throw new IllegalStateException(
          "Cannot create the state directory " + path + ": " + describe(e), e);
    }
    checkWritable(path);
    checkFreeSpace(path);
    FileChannel channel;
    try {
      channel =
          FileChannel.open(
              path.resolve(LOCK_FILE),
              StandardOpenOption.CREATE,
              StandardOpenOption.READ,
              StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new IllegalStateException(
          "Cannot open the lock file of the state directory " + path + ": " + describe(e), e);
    }
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (IOException | OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      String holder = readHolder(channel);
      closeQuietly(channel);
      throw new IllegalStateException(
          "Another Vera operator"
              + (holder.isEmpty() ? "" : " (" + holder + ")")
              + " is using the state directory "
              + path
              + ". Stop it first, or give this one its own directory with --state-dir"
              + " (or --ephemeral to keep nothing).");
    }
    try {
      channel.truncate(0);
      channel.write(
          ByteBuffer.wrap(
              ("pid " + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)),
          0);
    } catch (IOException e) {
      // Only informative: the lock itself is held.
    }
    return new StateDirectory(path, channel, lock);
  }

  /** The directory, absolute. */
  public Path path() {
    return path;
  }

  /** The SQLite database file of the API server's objects. */
  Path databaseFile() {
    return path.resolve(DATABASE_FILE);
  }

  /** Releases the lock. */
  @Override
  public void close() {
    try {
      lock.release();
    } catch (IOException e) {
      // The OS releases it when the channel closes or the process ends.
    }
    closeQuietly(lockChannel);
  }

  private static void checkWritable(Path path) {
    Path probe = path.resolve(".write-probe-" + ProcessHandle.current().pid());
    try (FileChannel channel =
        FileChannel.open(
            probe,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      channel.write(ByteBuffer.wrap(new byte[4096]));
      channel.force(true);
    } catch (IOException e) {
      throw new IllegalStateException(
          "The state directory " + path + " cannot be written: " + describe(e), e);
    } finally {
      try {
        Files.deleteIfExists(probe);
      } catch (IOException e) {
        // Left behind; harmless.
      }
    }
  }

  private static void checkFreeSpace(Path path) {
    long usable;
    try {
      usable = Files.getFileStore(path).getUsableSpace();
    } catch (IOException e) {
      return;
    }
    if (usable < MIN_FREE_BYTES) {
      throw new IllegalStateException(
          "The disk of the state directory "
              + path
              + " is full or nearly so ("
              + usable / (1024 * 1024)
              + " MB free, at least "
              + MIN_FREE_BYTES / (1024 * 1024)
              + " MB needed)");
    }
  }

  private static String readHolder(FileChannel channel) {
    try {
      ByteBuffer buffer = ByteBuffer.allocate(64);
      int read = channel.read(buffer, 0);
      return read <= 0 ? "" : new String(buffer.array(), 0, read, StandardCharsets.UTF_8).trim();
    } catch (IOException e) {
      return "";
    }
  }

  private static String describe(IOException e) {
    if (e instanceof AccessDeniedException) {
      return "permission denied (" + e.getMessage() + ")";
    }
    String message = e.getMessage();
    return e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }

  private static void closeQuietly(FileChannel channel) {
    try {
      channel.close();
    } catch (IOException e) {
      // Nothing left to do.
    }
  }
}
