package io.vera.operator.compute;

/**
 * How a timed-out command is found and killed inside a machine: every command runs with {@value
 * #ENV} set to a fresh marker, which its process and every child it starts inherit, so a second
 * exec can kill exactly that command's processes (a PID alone misses the children; killing by name
 * could hit other commands).
 */
public final class ExecMarker {
  /** The environment variable carrying a command's marker. */
  public static final String ENV = "VERA_EXEC_ID";

  private ExecMarker() {}

  /**
   * A {@code /bin/sh} script that SIGKILLs every process whose environment carries {@code marker}.
   * It stops them first, so a parent that saw its child die cannot start more before the scan
   * reaches it; three rounds catch children forked during a scan.
   */
  public static String killScript(String marker) {
    return "m='"
        + ENV
        + "="
        + marker
        + "'; pids() { for p in /proc/[0-9]*; do"
        + " grep -q \"$m\" \"$p/environ\" 2>/dev/null && echo \"${p#/proc/}\"; done; };"
        + " for round in 1 2 3; do found=$(pids); [ -z \"$found\" ] && break;"
        + " kill -STOP $found 2>/dev/null; kill -9 $found 2>/dev/null; done; exit 0";
  }
}
