package io.vera.operator.compute.proxmox;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The few commands a simulated guest can run through its agent: {@code echo} (also to {@code >&2}),
 * {@code exit N}, {@code sleep S}, {@code seq N}, {@code pwd}, {@code printenv K}, {@code true},
 * {@code false}, {@code kill -KILL PID}, and {@code /bin/sh -c 'a; b; c'} around them, including
 * the {@code cd "$0" && exec env "$@"} wrapper the host uses for a working directory and
 * environment.
 */
final class SimulatedShell {
  private static final String WRAPPER = "cd \"$0\" && exec env \"$@\"";

  /** What a command does: its exit, output, how long it runs, and a pid it kills. */
  record Outcome(int exitCode, String out, String err, Duration runtime, Long kills) {}

  /** A program that does not exist: the agent refuses to start it. */
  static final class NoSuchProgram extends Exception {
    NoSuchProgram(String program) {
      super(program);
    }
  }

  private SimulatedShell() {}

  static Outcome run(List<String> argv) throws NoSuchProgram {
    return run(argv, "/", new LinkedHashMap<>(), true);
  }

  private static Outcome run(List<String> argv, String cwd, Map<String, String> env, boolean direct)
      throws NoSuchProgram {
    String program = argv.get(0);
    if ((program.equals("/bin/sh") || program.equals("sh"))
        && argv.size() >= 3
        && argv.get(1).equals("-c")) {
      String script = argv.get(2);
      if (script.equals(WRAPPER)) {
        String dir = argv.size() > 3 ? argv.get(3) : cwd;
        Map<String, String> e = new LinkedHashMap<>(env);
        int i = 4;
        while (i < argv.size() && argv.get(i).matches("[A-Za-z_][A-Za-z0-9_]*=.*")) {
          String kv = argv.get(i++);
          e.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
        }
        return run(argv.subList(i, argv.size()), dir, e, false);
      }
      return script(script, cwd, env);
    }
    Outcome o = command(argv, cwd, env);
    if (o == null) {
      if (direct) {
        throw new NoSuchProgram(program);
      }
      return new Outcome(
          127, "", "env: '" + program + "': No such file or directory\n", Duration.ZERO, null);
    }
    return o;
  }

  private static Outcome script(String script, String cwd, Map<String, String> env) {
    StringBuilder out = new StringBuilder();
    StringBuilder err = new StringBuilder();
    Duration runtime = Duration.ZERO;
    int status = 0;
    Long kills = null;
    for (String statement : script.split(";|\\n")) {
      List<String> words = words(statement.strip());
      if (words.isEmpty()) {
        continue;
      }
      if (words.get(0).equals("exit")) {
        status = words.size() > 1 ? Integer.parseInt(words.get(1)) : status;
        break;
      }
      boolean toErr = words.get(words.size() - 1).equals(">&2");
      if (toErr) {
        words = words.subList(0, words.size() - 1);
      }
      Outcome o = command(words, cwd, env);
      if (o == null) {
        err.append("sh: 1: ").append(words.get(0)).append(": not found\n");
        status = 127;
        continue;
      }
      (toErr ? err : out).append(o.out());
      err.append(o.err());
      runtime = runtime.plus(o.runtime());
      status = o.exitCode();
      if (o.kills() != null) {
        kills = o.kills();
      }
    }
    return new Outcome(status, out.toString(), err.toString(), runtime, kills);
  }

  private static Outcome command(List<String> w, String cwd, Map<String, String> env) {
    String name = w.get(0).substring(w.get(0).lastIndexOf('/') + 1);
    switch (name) {
      case "echo":
        return ok(String.join(" ", w.subList(1, w.size())) + "\n");
      case "true":
        return ok("");
      case "false":
        return new Outcome(1, "", "", Duration.ZERO, null);
      case "pwd":
        return ok(cwd + "\n");
      case "printenv":
        String v = w.size() > 1 ? env.get(w.get(1)) : null;
        return v == null ? new Outcome(1, "", "", Duration.ZERO, null) : ok(v + "\n");
      case "seq":
        StringBuilder s = new StringBuilder();
        int n = Integer.parseInt(w.get(1));
        for (int i = 1; i <= n; i++) {
          s.append(i).append('\n');
        }
        return ok(s.toString());
      case "sleep":
        long ms = (long) (Double.parseDouble(w.get(1)) * 1000);
        return new Outcome(0, "", "", Duration.ofMillis(ms), null);
      case "kill":
        return new Outcome(0, "", "", Duration.ZERO, Long.parseLong(w.get(w.size() - 1)));
      default:
        return null;
    }
  }

  private static Outcome ok(String out) {
    return new Outcome(0, out, "", Duration.ZERO, null);
  }

  /** Splits on blanks, honouring '...' and "..." quotes. */
  static List<String> words(String s) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    char quote = 0;
    boolean any = false;
    for (char c : s.toCharArray()) {
      if (quote != 0) {
        if (c == quote) {
          quote = 0;
        } else {
          cur.append(c);
        }
      } else if (c == '\'' || c == '"') {
        quote = c;
        any = true;
      } else if (Character.isWhitespace(c)) {
        if (cur.length() > 0 || any) {
          out.add(cur.toString());
          cur.setLength(0);
          any = false;
        }
      } else {
        cur.append(c);
      }
    }
    if (cur.length() > 0 || any) {
      out.add(cur.toString());
    }
    return out;
  }
}
