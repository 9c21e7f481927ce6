package io.starshard.jmh.memory;

import io.starshard.MemoryStats;
import io.starshard.ShardMemoryStats;
import io.starshard.ShardedHashMap;
import io.starshard.offheap.OffHeapMemoryExhaustedException;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * How much of a memory budget a map can fill, and how its footprint follows its live data through churn: the
 * questions a user asks before trusting {@code memoryBudget} for a cache that runs for months.
 *
 * <p>Three scenarios, {@code Long -> byte[]} with value sizes drawn uniformly from 64 B to 4 KiB, the default
 * shard count:
 * <ol>
 *   <li><b>fill</b>: under a 64 MiB budget, put new keys until the first put is refused; then remove every second
 *       key, replace the survivors' values with new random sizes and put new keys until refused again. Reported:
 *       live key + value bytes as a share of the budget at each refusal.</li>
 *   <li><b>churn</b>: 100K live keys whose values are replaced N times (default 10M) with new random sizes; the
 *       reserved off-heap bytes against the live bytes after every tenth of the replacements.</li>
 *   <li><b>shrink</b>: then remove 99 % of the keys, {@code compact()}, and {@code clear()}: what the map still
 *       holds after each.</li>
 * </ol>
 * "Live bytes" are the user's bytes: 8 per key plus the value's length, without any header or slot.
 *
 * <p>Run (the flags are the map's, see README):
 * <pre>{@code java --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED -Xmx2g \
 *   -cp jmh/target/benchmarks.jar io.starshard.jmh.memory.MemoryChurn [replacements]}</pre>
 */
public final class MemoryChurn {
    private static final int MIN_VALUE = 64;
    private static final int MAX_VALUE = 4096;
    private static final long BUDGET = 64L << 20;
    private static final int CHURN_KEYS = 100_000;

    private MemoryChurn() {
    }

    /**
     * Runs the three scenarios and prints their figures.
     *
     * @param args the number of value replacements of the churn scenario (default 10,000,000)
     */
    public static void main(String[] args) {
        final long replacements = args.length > 0 ? Long.parseLong(args[0]) : 10_000_000L;
        System.out.printf(Locale.ROOT, "MemoryChurn: Long -> byte[%d..%d], %s%n%n", MIN_VALUE, MAX_VALUE,
            Runtime.version());
        fill();
        churn(replacements);
    }

    private static void fill() {
        final SplittableRandom random = new SplittableRandom(1);
        try (ShardedHashMap<Long, byte[]> map = ShardedHashMap.builder(Long.class, byte[].class)
                .memoryBudget(BUDGET).build()) {
            final long[] live = new long[1];   // live user bytes
            long next = putUntilRefused(map, 0, random, live);
            report("fill: first refusal", map, live[0], BUDGET);
            for (long k = 0; k < next; k += 2) {
                final byte[] old = map.remove(k);
                if (old != null) {
                    live[0] -= Long.BYTES + old.length;
                }
            }
            for (long k = 1; k < next; k += 2) {
                final byte[] value = new byte[size(random)];
                final byte[] old;
                try {
                    old = map.put(k, value);
                } catch (OffHeapMemoryExhaustedException e) {
                    break;
                }
                if (old != null) {
                    live[0] += value.length - old.length;
                }
            }
            putUntilRefused(map, next, random, live);
            report("fill: after removing half, replacing the rest, refused again", map, live[0], BUDGET);
        }
    }

    /** Puts new keys from {@code first} on until the budget refuses one; returns the refused key. */
    private static long putUntilRefused(ShardedHashMap<Long, byte[]> map, long first, SplittableRandom random,
                                        long[] live) {
        for (long k = first; ; k++) {
            final byte[] value = new byte[size(random)];
            try {
                map.put(k, value);
            } catch (OffHeapMemoryExhaustedException e) {
                return k;
            }
            live[0] += Long.BYTES + value.length;
        }
    }

    private static void churn(long replacements) {
        final SplittableRandom random = new SplittableRandom(2);
        final int[] sizes = new int[CHURN_KEYS];
        long live = 0;
        try (ShardedHashMap<Long, byte[]> map = ShardedHashMap.create(Long.class, byte[].class)) {
            for (int k = 0; k < CHURN_KEYS; k++) {
                sizes[k] = size(random);
                map.put((long) k, new byte[sizes[k]]);
                live += Long.BYTES + sizes[k];
            }
            report("churn: loaded", map, live, 0);
            final long tenth = Math.max(1, replacements / 10);
            long written = 0;
            long start = System.nanoTime();
            for (long i = 1; i <= replacements; i++) {
                final int k = random.nextInt(CHURN_KEYS);
                final int size = size(random);
                map.put((long) k, new byte[size]);
                live += size - sizes[k];
                sizes[k] = size;
                written += size;
                if (i % tenth == 0) {
                    final double seconds = (System.nanoTime() - start) / 1e9;
                    report(String.format(Locale.ROOT, "churn: %,d replacements", i), map, live, 0);
                    final long relocated = map.shardMemoryStats().stream().mapToLong(ShardMemoryStats::relocatedBytes)
                        .sum();
                    System.out.printf(Locale.ROOT, "%62s %,.0f replacements/s; compaction copied %.2f bytes per byte"
                        + " written so far%n", "", tenth / seconds, (double) relocated / written);
                    start = System.nanoTime();
                }
            }
            for (int k = 0; k < CHURN_KEYS; k++) {
                if (k % 100 != 0) {
                    map.remove((long) k);
                    live -= Long.BYTES + sizes[k];
                }
            }
            report("shrink: 99 % of the keys removed", map, live, 0);
            final long given = map.compact();
            report(String.format(Locale.ROOT, "shrink: after compact() (%.1f MiB given back)", mib(given)), map,
                live, 0);
            map.clear();
            settle(map);
            report("shrink: after clear(), once the retired memory is freed", map, 0, 0);
        }
    }

    /**
     * Waits until {@code usedBytes} stops moving: memory a clear retires is freed by the epoch domain's releaser
     * thread a moment later, once no reader can be inside it.
     */
    private static void settle(ShardedHashMap<?, ?> map) {
        long last = -1;
        for (int i = 0; i < 200 && map.memoryStats().usedBytes() != last; i++) {
            last = map.memoryStats().usedBytes();
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static int size(SplittableRandom random) {
        return MIN_VALUE + random.nextInt(MAX_VALUE - MIN_VALUE + 1);
    }

    private static void report(String what, ShardedHashMap<?, ?> map, long liveBytes, long budget) {
        final MemoryStats s = map.memoryStats();
        System.out.printf(Locale.ROOT, "%-62s entries %,9d  live %7.1f MiB  used %7.1f MiB (%.2fx live; tables %.1f,"
                + " arena %.1f, of it entries with headers %.1f MiB)%s%n", what, s.entries(), mib(liveBytes),
            mib(s.usedBytes()), liveBytes == 0 ? 0.0 : (double) s.usedBytes() / liveBytes, mib(s.tableBytes()),
            mib(s.arenaBytes()), mib(s.liveEntryBytes()),
            budget == 0 ? "" : String.format(Locale.ROOT, "  live = %.1f %% of the budget", 100.0 * liveBytes / budget));
    }

    private static double mib(long bytes) {
        return bytes / (1024.0 * 1024.0);
    }
}
