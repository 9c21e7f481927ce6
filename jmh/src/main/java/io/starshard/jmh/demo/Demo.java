package io.starshard.jmh.demo;

import io.starshard.MemoryStats;
import io.starshard.PersistenceListener;
import io.starshard.RebalanceOptions;
import io.starshard.RebalanceStatus;
import io.starshard.ShardedHashMap;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

/**
 * The README's first command: what Starshard is for, on the default configuration, with numbers.
 *
 * <p>Loads a few million {@code Long -> String} entries (an order id to a short quote record) into a
 * {@link ShardedHashMap}, reads them back from several threads and verifies every value, keeps verifying while a
 * background rebalance changes its shard count (with a progress bar), saves it to a file and loads it back (with
 * progress bars), then does the same with a
 * {@link ConcurrentHashMap} and prints both side by side: entries, off-heap bytes per entry, heap used
 * before and after, load and read rates. Arguments: {@code [entries] [readSeconds] [threads]}.
 */
public final class Demo {
    private Demo() {
    }

    /**
     * Runs the demo.
     *
     * @param args optional entries (default 3,000,000), read seconds (default 3), reader threads
     *             (default: available processors, at least 2)
     * @throws InterruptedException if interrupted while waiting for the readers
     */
    public static void main(String[] args) throws InterruptedException {
        final int entries = args.length > 0 ? Integer.parseInt(args[0].replace("_", "")) : 3_000_000;
        final int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        final int threads = args.length > 2 ? Integer.parseInt(args[2])
            : Math.max(2, Runtime.getRuntime().availableProcessors());
        System.out.printf(Locale.ROOT, "Starshard demo: %,d entries of Long -> String, %d reader threads, %d s of reads"
            + " (JDK %s)%n%n", entries, threads, seconds, Runtime.version());

        final Result starshard;
        try (ShardedHashMap<Long, String> map = ShardedHashMap.create(Long.class, String.class)) {
            starshard = run("ShardedHashMap", map, entries, seconds, threads, () -> map.memoryStats().usedBytes());
            rebalanceWhileReading(map, entries, threads);
            saveAndReload(map, entries);
            final MemoryStats stats = settledMemory(map);
            System.out.printf(Locale.ROOT, "  shards initialized: %d of %d, off-heap in use %s (peak %s)%n",
                map.initializedShards(), map.shardCount(), mib(stats.usedBytes()), mib(stats.peakBytes()));
        }
        System.out.println();
        final Result chm = run("ConcurrentHashMap", new ConcurrentHashMap<>(), entries, seconds, threads, () -> 0L);

        System.out.println();
        System.out.printf(Locale.ROOT, "%-18s %12s %16s %16s %14s %14s%n", "map", "entries", "heap B/entry",
            "off-heap B/entry", "load ops/s", "read ops/s");
        for (Result r : new Result[] {starshard, chm}) {
            System.out.printf(Locale.ROOT, "%-18s %,12d %16.1f %16.1f %,14.0f %,14.0f%n", r.name, r.entries,
                (double) r.heapDelta / r.entries, (double) r.offHeap / r.entries, r.loadRate, r.readRate);
        }
        System.out.printf(Locale.ROOT, "%nShardedHashMap keeps %.1f%% less on the Java heap than ConcurrentHashMap for"
            + " the same data; reads run at %.2fx its rate on this machine.%n",
            100.0 * (1 - (double) Math.max(0, starshard.heapDelta) / Math.max(1, chm.heapDelta)),
            starshard.readRate / chm.readRate);
    }

    private static Result run(String name, Map<Long, String> map, int entries, int seconds, int threads,
                              java.util.function.LongSupplier offHeap) throws InterruptedException {
        System.out.println(name + ":");
        final long heapBefore = settledHeap();
        final long loadStart = System.nanoTime();
        final int step = Math.max(1, entries / 10);
        for (int i = 0; i < entries; i++) {
            map.put(key(i), value(i));
            if ((i + 1) % step == 0) {
                System.out.printf(Locale.ROOT, "\r  loading %,d / %,d", i + 1, entries);
            }
        }
        final double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
        System.out.printf(Locale.ROOT, "\r  loaded %,d entries in %.2f s%n", map.size(), loadSeconds);
        if (map.size() != entries) {
            throw new AssertionError(name + " holds " + map.size() + " entries, expected " + entries);
        }
        final long heapAfter = settledHeap();
        final long offHeapBytes = offHeap.getAsLong();
        System.out.printf(Locale.ROOT, "  heap used before %s, after %s; off-heap %s (%.1f B/entry)%n",
            mib(heapBefore), mib(heapAfter), mib(offHeapBytes), (double) offHeapBytes / entries);

        final AtomicLong reads = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final CountDownLatch start = new CountDownLatch(1);
        final long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        final Thread[] readers = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            final long seed = 0x9E3779B97F4A7C15L * (t + 1);
            readers[t] = new Thread(verifyingReader(map, entries, seed, () -> System.nanoTime() >= deadline,
                start, reads, failure, name + ": key "), "reader-" + t);
            readers[t].start();
        }
        final long readStart = System.nanoTime();
        start.countDown();
        for (Thread r : readers) {
            r.join();
        }
        final double readSeconds = (System.nanoTime() - readStart) / 1e9;
        if (failure.get() != null) {
            throw new AssertionError(name + " read check failed", failure.get());
        }
        final double readRate = reads.get() / readSeconds;
        System.out.printf(Locale.ROOT, "  %,d verified reads by %d threads in %.2f s: %,.0f reads/s%n",
            reads.get(), threads, readSeconds, readRate);
        return new Result(name, entries, heapAfter - heapBefore, offHeapBytes, entries / loadSeconds, readRate);
    }

    /**
     * Saves the map to a temporary file and loads it back into a new map, drawing both from their progress
     * listeners, then checks the copy and prints the rates: how a service comes back warm after a restart.
     */
    private static void saveAndReload(ShardedHashMap<Long, String> map, int entries) {
        try {
            final Path dir = Files.createTempDirectory("starshard-demo");
            final Path file = dir.resolve("orders.map");
            try {
                long start = System.nanoTime();
                map.save(file, bar("saving "));
                final double saveSeconds = (System.nanoTime() - start) / 1e9;
                final long size = Files.size(file);
                System.out.printf(Locale.ROOT, "%n  saved %,d entries (%s) in %.2f s, %.0f MB/s%n", map.size(),
                    mib(size), saveSeconds, size / saveSeconds / 1e6);
                start = System.nanoTime();
                try (ShardedHashMap<Long, String> back = ShardedHashMap.builder(Long.class, String.class)
                    .load(file, bar("loading"))) {
                    final double loadSeconds = (System.nanoTime() - start) / 1e9;
                    for (int i = 0; i < entries; i += Math.max(1, entries / 1000)) {
                        if (!value(i).equals(back.get(key(i)))) {
                            throw new AssertionError("the reloaded map differs at key " + key(i));
                        }
                    }
                    if (back.size() != map.size()) {
                        throw new AssertionError("the reloaded map holds " + back.size() + " entries");
                    }
                    System.out.printf(Locale.ROOT, "%n  reloaded and checked %,d entries in %.2f s, %.0f MB/s%n",
                        back.size(), loadSeconds, size / loadSeconds / 1e6);
                }
            } finally {
                Files.deleteIfExists(file);
                Files.deleteIfExists(dir);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A progress listener that redraws its bar when a whole percent more is done. */
    private static PersistenceListener bar(String what) {
        final int[] drawn = {-1};
        return (done, total, bytes) -> {
            final double share = total == 0 ? 1 : Math.min(1, (double) done / total);
            final int percent = (int) (share * 100);
            if (percent != drawn[0]) {
                drawn[0] = percent;
                System.out.printf(Locale.ROOT, "\r  %s [%-40s] %3d %% %s", what, "#".repeat((int) (share * 40)),
                    percent, mib(bytes));
            }
        };
    }

    /**
     * Changes the shard count 64 -> 256 on a background thread while reader threads keep verifying every value,
     * and draws the rebalance's progress from its listener.
     */
    private static void rebalanceWhileReading(ShardedHashMap<Long, String> map, int entries, int threads)
            throws InterruptedException {
        final int target = map.shardCount() * 4;
        System.out.printf(Locale.ROOT, "  rebalancing %d -> %d shards in the background while %d threads read%n",
            map.shardCount(), target, threads);
        final AtomicLong reads = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final AtomicBoolean done = new AtomicBoolean();
        final Thread[] readers = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            final long seed = 0x2545F4914F6CDD1DL * (t + 1);
            readers[t] = new Thread(verifyingReader(map, entries, seed, done::get, null, reads, failure,
                "during the rebalance, key "), "rebalance-reader-" + t);
            readers[t].start();
        }
        final long start = System.nanoTime();
        map.startRebalanceOnline(target, RebalanceOptions.defaults()
            .background(true)
            .maxPause(Duration.ofNanos(200_000))
            .progressInterval(Duration.ofMillis(50))
            .listener(status -> System.out.printf(Locale.ROOT, "\r  [%-40s] %3.0f %%  %,d entries moved",
                "#".repeat((int) (status.progress() * 40)), status.progress() * 100, status.movedEntries())));
        final boolean finished = map.awaitRebalance(Duration.ofMinutes(5));
        final double seconds = (System.nanoTime() - start) / 1e9;
        done.set(true);
        for (Thread r : readers) {
            r.join();
        }
        if (failure.get() != null) {
            throw new AssertionError("read check failed during the rebalance", failure.get());
        }
        final RebalanceStatus status = map.rebalanceStatus();
        if (!finished || map.size() != entries || map.shardCount() != target) {
            throw new AssertionError("rebalance did not finish intact: " + status + ", size " + map.size());
        }
        System.out.printf(Locale.ROOT, "%n  moved %,d entries (%s of keys and values, never decoded) in %.2f s;"
            + " longest lock hold of a step %.0f µs; %,d verified reads meanwhile%n", status.movedEntries(),
            mib(status.movedBytes()), seconds, status.longestStep().toNanos() / 1e3, reads.get());
    }

    /**
     * The map's memory once the old shards have gone back: they are freed on a background thread as soon as no
     * reader can be inside them, so the figure settles a moment after the rebalance.
     */
    private static MemoryStats settledMemory(ShardedHashMap<?, ?> map) throws InterruptedException {
        MemoryStats last = map.memoryStats();
        for (int i = 0; i < 40; i++) {
            Thread.sleep(50);
            final MemoryStats now = map.memoryStats();
            if (now.usedBytes() == last.usedBytes()) {
                return now;
            }
            last = now;
        }
        return last;
    }

    /**
     * A reader thread's loop: random keys, each value checked against the one loaded; stops when {@code stop} says
     * so (asked every 1,024 reads), adds its count to {@code reads} and the first mismatch to {@code failure}.
     */
    private static Runnable verifyingReader(Map<Long, String> map, int entries, long seed, BooleanSupplier stop,
                                            CountDownLatch start, AtomicLong reads,
                                            AtomicReference<Throwable> failure, String mismatch) {
        return () -> {
            long x = seed;
            long n = 0;
            try {
                if (start != null) {
                    start.await();
                }
                while ((n & 1023) != 0 || !stop.getAsBoolean()) {
                    x ^= x << 13;
                    x ^= x >>> 7;
                    x ^= x << 17;
                    final int i = (int) ((x >>> 1) % entries);
                    final String v = map.get(key(i));
                    if (v == null || !v.equals(value(i))) {
                        throw new AssertionError(mismatch + key(i) + " read " + v);
                    }
                    n++;
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            }
            reads.addAndGet(n);
        };
    }

    /** Order ids: spread out, like real ids, rather than 0..n. */
    private static Long key(int i) {
        return 1_000_000_007L * i + 12_345;
    }

    private static String value(int i) {
        return "px=" + (100 + i % 900) + "." + (i % 100) + ";qty=" + (i % 1000);
    }

    private static long settledHeap() {
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            System.gc();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        }
        return used;
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
    }

    /** What one run measured. */
    private static final class Result {
        final String name;
        final int entries;
        final long heapDelta;
        final long offHeap;
        final double loadRate;
        final double readRate;

        Result(String name, int entries, long heapDelta, long offHeap, double loadRate, double readRate) {
            this.name = name;
            this.entries = entries;
            this.heapDelta = heapDelta;
            this.offHeap = offHeap;
            this.loadRate = loadRate;
            this.readRate = readRate;
        }
    }
}
