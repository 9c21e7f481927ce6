package io.starshard;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code kill -9} in the middle of writes: a child JVM opens a persisted map and writes to it from several threads
 * (puts, removes, merges), with background checkpoints every MiB of journal and rebalances, and reports after
 * each write which writes have returned. The parent kills it with SIGKILL at a random moment (sometimes while it
 * is still opening, replaying or checkpointing), reopens the directory, and checks that the map is consistent and
 * holds exactly the state after some prefix of each thread's writes that includes every write reported to have
 * returned. The next child carries on from there. 6 kills by default, 60 under {@code -Pstress}.
 *
 * <p>Each thread owns its keys, and its writes are a fixed sequence ({@link #op}): the state a prefix leaves is known
 * ({@link #model}), and a value tells which write put it, so the prefix a reopened map holds is found, not guessed.
 */
class PersistedCrashTest {
    private static final int THREADS = 3;
    private static final int KEYS_PER_THREAD = 2_000;

    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedWriteSurvivesSigkill() throws Exception {
        final int rounds = StressSupport.STRESS ? 60 : 6;
        final Path where = dir.resolve("map");
        final long[] next = new long[THREADS];   // each thread's first write of the next round
        long killedDuringOpen = 0;
        long totalWrites = 0;
        for (int round = 0; round < rounds; round++) {
            final long[] acked = new long[THREADS];
            java.util.Arrays.fill(acked, -1);
            final Process child = startChild(where, next);
            final boolean early = round % 5 == 4;   // now and then, kill it while it opens and replays
            final long killAfterMillis = early ? ThreadLocalRandom.current().nextLong(0, 150)
                : ThreadLocalRandom.current().nextLong(150, 900);
            final StringBuilder output = new StringBuilder();
            final Thread reader = new Thread(() -> readAcks(child, acked, output));
            reader.start();
            boolean opened = waitForOpen(output, early ? 0 : 60_000);
            Thread.sleep(killAfterMillis);
            child.destroyForcibly();   // SIGKILL
            assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the child did not die");
            reader.join(10_000);
            synchronized (output) {
                opened = output.indexOf("opened") >= 0;
                if (output.indexOf("FAILED") >= 0) {
                    fail("the child failed:\n" + output);
                }
            }
            if (!opened) {
                killedDuringOpen++;
            }
            try (ShardedHashMap<Long, Long> map = open(where, 8)) {
                MapInvariants.checkLive(map);
                final Map<Long, Long> recovered = new HashMap<>(map);
                for (int t = 0; t < THREADS; t++) {
                    final long prefix = recoveredPrefix(t, recovered, next[t]);
                    assertTrue(prefix >= acked[t], "thread " + t + ": write " + acked[t] + " returned before the kill"
                        + " but the reopened map holds only the writes up to " + prefix + " (round " + round + ")");
                    totalWrites += prefix + 1 - next[t];
                    next[t] = prefix + 1;
                }
            }
        }
        System.out.printf("%d kills (%d while opening), %d writes recovered%n", rounds, killedDuringOpen,
            totalWrites);
        assertTrue(totalWrites > 0, "the children wrote");
    }

    @Test
    void aDirectoryAnotherProcessHasOpenIsRefused() throws Exception {
        final Path where = dir.resolve("shared");
        final Process child = startChild(where, new long[THREADS]);
        final StringBuilder output = new StringBuilder();
        final long[] acked = new long[THREADS];
        final Thread reader = new Thread(() -> readAcks(child, acked, output));
        reader.start();
        try {
            assertTrue(waitForOpen(output, 60_000), "the child did not open the map:\n" + output);
            Thread.sleep(300);   // and writes
            final IllegalStateException refused = org.junit.jupiter.api.Assertions.assertThrows(
                IllegalStateException.class, () -> open(where, 8));
            assertTrue(refused.getMessage().contains("another process"), refused.getMessage());
        } finally {
            child.destroyForcibly();
            child.waitFor(60, TimeUnit.SECONDS);
            reader.join(10_000);
        }
        try (ShardedHashMap<Long, Long> map = open(where, 8)) {   // the lock went with the process
            MapInvariants.checkLive(map);
            assertTrue(map.size() > 0, "the child's writes are there");
        }
    }

    private static ShardedHashMap<Long, Long> open(Path where, int shards) {
        return ShardedHashMap.builder(Long.class, Long.class).persistedTo(where).shards(shards)
            .checkpointAfter(1L << 20).build();
    }

    /** Thread {@code t}'s write number {@code i}: key, and what it does (a value, or a removal as null). */
    static long key(int t, long i) {
        return t * 1_000_000L + (i * 7_919) % KEYS_PER_THREAD;
    }

    /** The value write {@code i} leaves, or -1 for a removal: it names the write, so a reader can tell which did. */
    static long op(long i) {
        return i % 7 == 6 ? -1 : i;
    }

    /**
     * The state thread {@code t}'s writes {@code 0..last} leave on its keys: any {@code KEYS_PER_THREAD} consecutive
     * writes touch each key once (7919 and the key count are coprime), so the last that many decide it.
     */
    static Map<Long, Long> model(int t, long last) {
        final Map<Long, Long> state = new HashMap<>();
        for (long i = Math.max(0, last - KEYS_PER_THREAD + 1); i <= last; i++) {
            final long v = op(i);
            if (v < 0) {
                state.remove(key(t, i));
            } else {
                state.put(key(t, i), v);
            }
        }
        return state;
    }

    /**
     * The last write of thread {@code t} that {@code recovered} holds: the state after writes {@code 0..prefix} equals
     * the recovered entries of the thread's keys exactly.
     */
    static long recoveredPrefix(int t, Map<Long, Long> all, long atLeast) {
        final Map<Long, Long> mine = new HashMap<>();
        all.forEach((k, v) -> {
            if (k / 1_000_000L == t) {
                mine.put(k, v);
            }
        });
        long newestPut = -1;
        for (long v : mine.values()) {
            newestPut = Math.max(newestPut, v);
        }
        // The prefix ends at the newest put it holds, or at a removal right after it (removals leave no value).
        final Map<Long, Long> state = model(t, newestPut);
        for (long prefix = newestPut; ; prefix++) {
            if (prefix > newestPut) {
                if (op(prefix) >= 0) {
                    break;
                }
                state.remove(key(t, prefix));
            }
            if (state.equals(mine)) {
                return prefix;
            }
        }
        fail("thread " + t + ": the reopened map holds no prefix of the thread's writes (newest put " + newestPut
            + ", " + mine.size() + " keys): a write is lost, torn or applied out of order");
        return -1;
    }

    private static Process startChild(Path where, long[] next) throws Exception {
        final List<String> command = new ArrayList<>();
        command.add(System.getProperty("java.home") + File.separator + "bin" + File.separator + "java");
        command.add("-Xmx256m");
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-") || arg.startsWith("--enable-") || arg.startsWith("-Dchronicle")) {
                command.add(arg);
            }
        }
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(PersistedCrashTest.class.getName());
        command.add(where.toString());
        for (long n : next) {
            command.add(Long.toString(n));
        }
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }

    private static void readAcks(Process child, long[] acked, StringBuilder output) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(),
            StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.startsWith("ack ")) {
                    final String[] parts = line.split(" ");
                    if (parts.length == 1 + THREADS) {   // a line cut by the kill is not an acknowledgement
                        for (int t = 0; t < THREADS; t++) {
                            acked[t] = Math.max(acked[t], Long.parseLong(parts[1 + t]));
                        }
                    }
                } else {
                    synchronized (output) {
                        output.append(line).append('\n');
                        output.notifyAll();
                    }
                }
            }
        } catch (Exception ignored) {
            // the child died mid-line
        }
    }

    private static boolean waitForOpen(StringBuilder output, long millis) throws InterruptedException {
        final long deadline = System.currentTimeMillis() + millis;
        synchronized (output) {
            while (output.indexOf("opened") < 0 && output.indexOf("FAILED") < 0
                && System.currentTimeMillis() < deadline) {
                output.wait(Math.max(1, deadline - System.currentTimeMillis()));
            }
            return output.indexOf("opened") >= 0;
        }
    }

    /**
     * The child: opens the map, writes forever from {@link #THREADS} threads starting at the given write numbers,
     * rebalances now and then, and prints "ack a b c" with each thread's last returned write every millisecond.
     */
    public static void main(String[] args) throws Exception {
        final Path where = Path.of(args[0]);
        final AtomicLongArray done = new AtomicLongArray(THREADS);
        final ShardedHashMap<Long, Long> map;
        try {
            map = open(where, 8);
        } catch (RuntimeException | Error e) {
            System.out.println("FAILED to open: " + e);
            e.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
            return;
        }
        System.out.println("opened " + map.size());
        System.out.flush();
        for (int t = 0; t < THREADS; t++) {
            final int thread = t;
            final long first = Long.parseLong(args[1 + t]);
            done.set(t, first - 1);
            final Thread writer = new Thread(() -> {
                try {
                    for (long i = first; ; i++) {
                        final long v = op(i);
                        if (v < 0) {
                            map.remove(key(thread, i));
                        } else if (i % 3 == 0) {
                            map.merge(key(thread, i), v, (old, nv) -> nv);
                        } else {
                            map.put(key(thread, i), v);
                        }
                        done.set(thread, i);
                    }
                } catch (RuntimeException | Error e) {
                    System.out.println("FAILED in writer: " + e);
                    e.printStackTrace(System.out);
                    System.out.flush();
                }
            });
            writer.setDaemon(true);
            writer.start();
        }
        final Thread rebalancer = new Thread(() -> {
            final Random random = new Random();
            try {
                while (true) {
                    Thread.sleep(50);
                    map.rebalanceTo(4 + random.nextInt(12));
                }
            } catch (InterruptedException | RuntimeException e) {
                System.out.println("rebalancer stopped: " + e);
            }
        });
        rebalancer.setDaemon(true);
        rebalancer.start();
        final StringBuilder line = new StringBuilder();
        while (true) {
            line.setLength(0);
            line.append("ack");
            for (int t = 0; t < THREADS; t++) {
                line.append(' ').append(done.get(t));
            }
            System.out.println(line);
            System.out.flush();
            Thread.sleep(1);
        }
    }
}
