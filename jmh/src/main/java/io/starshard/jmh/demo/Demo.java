package io.starshard.jmh.demo;

import io.starshard.MemoryStats;
import io.starshard.ShardedHashMap;
import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The README's first command: what Starshard is for, on the default configuration, with numbers.
 *
 * <p>Loads a few million {@code Long -> String} entries (an order id to a short quote record) into a
 * {@link ShardedHashMap}, reads them back from several threads and verifies every value, then does the same
 * with a {@link ConcurrentHashMap} and prints both side by side: entries, off-heap bytes per entry, heap used
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
            final MemoryStats stats = map.memoryStats();
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
            readers[t] = new Thread(() -> {
                long x = seed;
                long done = 0;
                try {
                    start.await();
                    while ((done & 1023) != 0 || System.nanoTime() < deadline) {
                        x ^= x << 13;
                        x ^= x >>> 7;
                        x ^= x << 17;
                        final int i = (int) ((x >>> 1) % entries);
                        final String v = map.get(key(i));
                        if (v == null || !v.equals(value(i))) {
                            throw new AssertionError(name + ": key " + key(i) + " read " + v);
                        }
                        done++;
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
                reads.addAndGet(done);
            }, "reader-" + t);
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
