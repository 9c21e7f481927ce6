package io.starshard.jmh.segment;

import org.agrona.concurrent.UnsafeBuffer;

import java.util.SplittableRandom;

/**
 * Pre-generated 16-byte keys and 100-byte values for the {@code byte[16] -> byte[100]} workload.
 *
 * <p>Keys are packed back to back in heap buffers, {@value #KEY_BYTES} bytes each. Each key starts with a
 * distinct {@link SplittableRandom#nextLong()} (see {@link LongWorkload}), so all keys, present and missing,
 * are distinct. Values come from a pool of {@value #VALUE_POOL} random values: the contents do not matter to
 * any implementation, and a small pool keeps the source of a write in cache, as a freshly encoded value is.
 */
final class BytesWorkload {
    /** Key size. */
    static final int KEY_BYTES = 16;
    /** Value size. */
    static final int VALUE_BYTES = 100;
    /** Distinct values in the pool (a power of two, indexed with a mask). */
    static final int VALUE_POOL = 1024;

    /** Number of entries. */
    final int n;
    /** Keys in insertion order: key {@code i} at {@code i * KEY_BYTES}. */
    final UnsafeBuffer keys;
    /** The same keys in a random order, copied so that walking this buffer is sequential. */
    final UnsafeBuffer lookup;
    /** Keys that are not in the map, or null if the benchmark needs none. */
    final UnsafeBuffer misses;
    /** {@value #VALUE_POOL} values of {@value #VALUE_BYTES} bytes, back to back. */
    final UnsafeBuffer valuePool;

    BytesWorkload(int n, boolean withMisses) {
        this.n = n;
        final SplittableRandom keyStream = new SplittableRandom(LongWorkload.KEY_SEED);
        final SplittableRandom valueStream = new SplittableRandom(LongWorkload.VALUE_SEED);
        keys = new UnsafeBuffer(new byte[Math.multiplyExact(n, KEY_BYTES)]);
        fillKeys(keys, n, keyStream);
        final int[] order = LongWorkload.permutation(n, valueStream);
        lookup = new UnsafeBuffer(new byte[keys.capacity()]);
        for (int i = 0; i < n; i++) {
            lookup.putBytes(i * KEY_BYTES, keys, order[i] * KEY_BYTES, KEY_BYTES);
        }
        if (withMisses) {
            misses = new UnsafeBuffer(new byte[keys.capacity()]);
            fillKeys(misses, n, keyStream);
        } else {
            misses = null;
        }
        final byte[] pool = new byte[VALUE_POOL * VALUE_BYTES];
        for (int i = 0; i < pool.length; i++) {
            pool[i] = (byte) valueStream.nextInt();
        }
        valuePool = new UnsafeBuffer(pool);
    }

    private static void fillKeys(UnsafeBuffer buffer, int n, SplittableRandom stream) {
        for (int i = 0; i < n; i++) {
            buffer.putLong(i * KEY_BYTES, stream.nextLong());
            buffer.putLong(i * KEY_BYTES + 8, stream.nextLong());
        }
    }

    /** Offset of value {@code i} (taken modulo the pool) in {@link #valuePool}. */
    static int valueOffset(int i) {
        return (i & (VALUE_POOL - 1)) * VALUE_BYTES;
    }

    /** A copy of key {@code i} of {@code buffer} as a heap array. */
    static byte[] keyBytes(UnsafeBuffer buffer, int i) {
        final byte[] key = new byte[KEY_BYTES];
        buffer.getBytes(i * KEY_BYTES, key);
        return key;
    }
}
