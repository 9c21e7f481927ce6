package io.starshard.jmh.segment;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A {@code HashMap} key over a 16-byte array, written the way a careful user would write it.
 *
 * <p>The hash is computed on every {@link #hashCode()} call, not cached: the segment benchmark hashes its key
 * bytes inside the measured method, and a cached hash in a pre-built lookup key would hide that cost from the
 * {@code HashMap} side. It reads the key as two longs and mixes them (not {@link Arrays#hashCode(byte[])},
 * whose 16-step multiply chain would handicap {@code HashMap}). {@code HashMap} stores each entry's hash in
 * its node, so a stored key is never rehashed.
 */
final class ByteKey {
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final byte[] bytes;

    /**
     * Wraps (does not copy) a key.
     *
     * @param bytes exactly 16 bytes
     */
    ByteKey(byte[] bytes) {
        if (bytes.length != BytesWorkload.KEY_BYTES) {
            throw new IllegalArgumentException("ByteKey needs " + BytesWorkload.KEY_BYTES + " bytes, got " + bytes.length);
        }
        this.bytes = bytes;
    }

    @Override
    public int hashCode() {
        final long a = (long) LONGS.get(bytes, 0);
        final long b = (long) LONGS.get(bytes, 8);
        long h = (a * 0x9E37_79B9_7F4A_7C15L) ^ b;
        h *= 0xC2B2_AE3D_27D4_EB4FL;
        return (int) (h ^ (h >>> 32));
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof ByteKey && Arrays.equals(bytes, ((ByteKey) other).bytes);
    }
}
