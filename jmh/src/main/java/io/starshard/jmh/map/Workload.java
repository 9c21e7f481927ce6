package io.starshard.jmh.map;

import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;

/**
 * Deterministic keys, access orders and operation mixes shared by the map benchmarks and the demo.
 *
 * <p>Everything is generated before measurement from fixed seeds, so every implementation sees the same keys
 * in the same order and nothing is generated, boxed or allocated inside a measured method.
 */
final class Workload {
    /** Length of the per-thread operation pattern; a power of two so that wrapping is a mask. */
    static final int PATTERN = 1024;

    private Workload() {
    }

    /** {@code n} distinct random {@code long} keys. */
    static long[] longKeys(int n) {
        final SplittableRandom random = new SplittableRandom(42);
        final java.util.HashSet<Long> seen = n <= 2_000_000 ? new java.util.HashSet<>(n * 2) : null;
        final long[] keys = new long[n];
        for (int i = 0; i < n; i++) {
            long k;
            do {
                k = random.nextLong();
            } while (seen != null && !seen.add(k));
            keys[i] = k;     // above 2M, 64-bit collisions have probability ~1e-6; the map sizes are checked
        }
        return keys;
    }

    /** {@code n} distinct 16-character ASCII keys: the hex of distinct longs. */
    static String[] stringKeys(int n) {
        final long[] raw = longKeys(n);
        final String[] keys = new String[n];
        final char[] hex = new char[16];
        for (int i = 0; i < n; i++) {
            long v = raw[i];
            for (int j = 15; j >= 0; j--) {
                hex[j] = Character.forDigit((int) (v & 0xF), 16);
                v >>>= 4;
            }
            keys[i] = new String(hex);
        }
        return keys;
    }

    /** A random permutation of {@code 0..n-1}: gets walk the keys in an order unrelated to insertion. */
    static int[] permutation(int n, long seed) {
        final int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        final SplittableRandom random = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            final int j = random.nextInt(i + 1);
            final int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }

    /** {@link #PATTERN} operations, exactly {@code writePercent}% of them true (= put), shuffled. */
    static boolean[] writePattern(int writePercent, long seed) {
        final boolean[] pattern = new boolean[PATTERN];
        final int writes = PATTERN * writePercent / 100;
        for (int i = 0; i < writes; i++) {
            pattern[i] = true;
        }
        final SplittableRandom random = new SplittableRandom(seed);
        for (int i = PATTERN - 1; i > 0; i--) {
            final int j = random.nextInt(i + 1);
            final boolean t = pattern[i];
            pattern[i] = pattern[j];
            pattern[j] = t;
        }
        return pattern;
    }

    /** Heap in use after a few full collections: a stable baseline for footprint deltas. */
    static long settledHeapBytes() {
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 4; i++) {
            System.gc();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        }
        return used;
    }
}
