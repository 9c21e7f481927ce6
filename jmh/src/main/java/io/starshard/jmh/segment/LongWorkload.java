package io.starshard.jmh.segment;

import java.util.SplittableRandom;

/**
 * Pre-generated keys and values for the {@code long -> long} workload, shared by every implementation so that
 * all of them see exactly the same keys in the same order.
 *
 * <p>Keys are the first {@code n} longs of a seeded {@link SplittableRandom}; the miss keys are the next
 * {@code n}. They are all distinct without a check: {@code nextLong()} is a bijective mix of a seed that
 * advances by an odd constant, so no value repeats within 2^64 draws.
 */
final class LongWorkload {
    /** Seed of the key stream; fixed so runs are repeatable. */
    static final long KEY_SEED = 0x5EED_0001L;
    /** Seed of the value stream and of the lookup permutation. */
    static final long VALUE_SEED = 0x5EED_0002L;
    /** Returned by every implementation for an absent key; never generated as a value (values are >= 0). */
    static final long MISSING = -1L;

    /** Number of entries. */
    final int n;
    /** Keys in insertion order. */
    final long[] keys;
    /** {@code values[i]} is the value first stored for {@code keys[i]}. */
    final long[] values;
    /** The same keys in a random order: gets and overwrites walk this array, so map accesses are random. */
    final long[] lookup;
    /** {@code newValues[i]} is what an overwrite stores for {@code lookup[i]}. */
    final long[] newValues;
    /** Keys that are not in the map, or null if the benchmark needs none. */
    final long[] misses;

    LongWorkload(int n, boolean withMisses) {
        this.n = n;
        final SplittableRandom keyStream = new SplittableRandom(KEY_SEED);
        final SplittableRandom valueStream = new SplittableRandom(VALUE_SEED);
        keys = new long[n];
        values = new long[n];
        newValues = new long[n];
        for (int i = 0; i < n; i++) {
            keys[i] = keyStream.nextLong();
            values[i] = valueStream.nextLong() >>> 1;
            newValues[i] = valueStream.nextLong() >>> 1;
        }
        final int[] order = permutation(n, valueStream);
        lookup = new long[n];
        for (int i = 0; i < n; i++) {
            lookup[i] = keys[order[i]];
        }
        if (withMisses) {
            misses = new long[n];
            for (int i = 0; i < n; i++) {
                misses[i] = keyStream.nextLong();
            }
        } else {
            misses = null;
        }
    }

    /** A uniformly random permutation of {@code 0..n-1} (Fisher-Yates). */
    static int[] permutation(int n, SplittableRandom random) {
        final int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            final int j = random.nextInt(i + 1);
            final int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }
}
