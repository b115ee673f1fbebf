/*
 * Cases.java - a small test runner for the Java side of the compatibility
 * suite: named cases, each run once with a time budget, reported with
 * cmocka's lines ([ RUN      ] / [       OK ] / [  FAILED  ]) so that
 * scripts/count_tests.py counts every case, and the checks the cases use.
 *
 * A case that needs a broker feature another issue is building throws
 * Unsupported: it is reported as "[ UNSUPPORTED ] name: why", counted as
 * neither passed nor failed, and the compatibility table shows it as a
 * row that says so (tests/compat/report.py). Only a feature the broker
 * does not advertise may be reported so; anything else is a failure.
 *
 * Every client a case opens is closed by it (try-with-resources), also
 * when it fails; the process exits when the cases are done.
 */
package sluice.compat;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

public final class Cases {
    public interface Body {
        void run() throws Exception;
    }

    /** A feature the broker does not have yet; see the file comment. */
    public static final class Unsupported extends RuntimeException {
        public Unsupported(String why) {
            super(why);
        }
    }

    private record Case(String name, Body body, int seconds) {}

    private final List<Case> cases = new ArrayList<>();

    public Cases add(String name, int seconds, Body body) {
        cases.add(new Case(name, body, seconds));
        return this;
    }

    /** Runs the cases whose names contain SLUICE_IT_FILTER (all when unset). */
    public int runAll() {
        String filter = System.getenv("SLUICE_IT_FILTER");
        List<Case> todo = new ArrayList<>();
        for (Case c : cases)
            if (filter == null || filter.isEmpty() || c.name.contains(filter))
                todo.add(c);
        List<String> failed = new ArrayList<>();
        int unsupported = 0;
        say("[==========] Running " + todo.size() + " test(s).");
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "case");
            t.setDaemon(true);
            return t;
        });
        for (Case c : todo) {
            say("[ RUN      ] " + c.name);
            long t0 = System.nanoTime();
            String err = null;
            Future<?> f = pool.submit(() -> {
                c.body.run();
                return null;
            });
            try {
                f.get(c.seconds, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                f.cancel(true);
                err = "timed out after " + c.seconds + " s\n" + stacks();
            } catch (java.util.concurrent.ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof Unsupported) {
                    say("    " + cause.getMessage());
                    say("[ UNSUPPORTED ] " + c.name + ": " + cause.getMessage());
                    unsupported++;
                    continue;
                }
                err = describe(cause);
            } catch (InterruptedException e) {
                err = "interrupted";
            }
            String dt = String.format("%.1fs", (System.nanoTime() - t0) / 1e9);
            if (err == null) {
                say("[       OK ] " + c.name + " (" + dt + ")");
            } else {
                for (String line : err.split("\n"))
                    say("    " + line);
                say("[  FAILED  ] " + c.name + " (" + dt + ")");
                failed.add(c.name);
            }
        }
        pool.shutdownNow();
        say("[==========] " + todo.size() + " test(s) run.");
        say("[  PASSED  ] " + (todo.size() - failed.size() - unsupported) + " test(s).");
        if (!failed.isEmpty()) {
            say("[  FAILED  ] " + failed.size() + " test(s), listed below:");
            for (String n : failed)
                say("[  FAILED  ] " + n);
        }
        return failed.isEmpty() ? 0 : 1;
    }

    private static String describe(Throwable t) {
        var sw = new java.io.StringWriter();
        t.printStackTrace(new java.io.PrintWriter(sw));
        String s = sw.toString();
        return s.length() > 6000 ? s.substring(0, 6000) + "\n..." : s;
    }

    private static String stacks() {
        StringBuilder b = new StringBuilder();
        Thread.getAllStackTraces().forEach((t, st) -> {
            if (!t.getName().startsWith("case") && !t.getName().startsWith("kafka"))
                return;
            b.append("-- thread ").append(t.getName()).append('\n');
            for (int i = 0; i < Math.min(st.length, 25); i++)
                b.append("     at ").append(st[i]).append('\n');
        });
        return b.toString();
    }

    public static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    public static void log(String msg) {
        say("    " + msg);
    }

    /* --- checks -------------------------------------------------------- */

    public static void check(boolean cond, String what) {
        if (!cond)
            throw new AssertionError(what);
    }

    public static void expectEq(Object got, Object expected, String what) {
        if (!Objects.equals(got, expected))
            throw new AssertionError(what + ": expected " + shorten(expected) + ", got " +
                                     shorten(got));
    }

    private static String shorten(Object o) {
        String s = String.valueOf(o);
        return s.length() <= 400 ? s : s.substring(0, 400) + "... (" + s.length() + " chars)";
    }

    /** API keys the broker advertises, from SLUICE_APIS (the driver asks
     *  the broker with ApiVersions and sets it: "0,1,2,..."). */
    public static java.util.Set<Integer> advertised() {
        String s = System.getenv("SLUICE_APIS");
        if (s == null)
            throw new IllegalStateException("SLUICE_APIS is not set");
        java.util.Set<Integer> keys = new java.util.HashSet<>();
        for (String k : s.split(","))
            if (!k.isBlank())
                keys.add(Integer.parseInt(k.trim()));
        return keys;
    }

    /** Throws Unsupported unless the broker advertises every API named
     *  ("22:InitProducerId"), saying which helper's issue it waits on. */
    public static void requireApis(String waitsOn, String... apis) {
        java.util.Set<Integer> have = advertised();
        List<String> missing = new ArrayList<>();
        for (String a : apis)
            if (!have.contains(Integer.parseInt(a.substring(0, a.indexOf(':')))))
                missing.add(a.substring(a.indexOf(':') + 1));
        if (!missing.isEmpty())
            throw new Unsupported("the broker does not advertise " + String.join(", ", missing) +
                                  " (" + waitsOn + ")");
    }

    /** The broker's bootstrap address, from SLUICE_BOOTSTRAP (the driver sets it). */
    public static String bootstrap() {
        String b = System.getenv("SLUICE_BOOTSTRAP");
        if (b == null || b.isEmpty())
            throw new IllegalStateException("SLUICE_BOOTSTRAP is not set");
        return b;
    }
}
