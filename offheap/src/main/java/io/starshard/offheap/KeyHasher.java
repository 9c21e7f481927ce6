package io.starshard.offheap;

import org.agrona.DirectBuffer;

import java.security.SecureRandom;

/**
 * Seeded 64-bit hashing of encoded keys, and the split of the hash into shard, slot position and tag.
 *
 * <h2>Two functions</h2>
 * <ul>
 *   <li>{@link #hashFixed(long)} for keys of at most 8 bytes (read little-endian, zero-extended): a seeded
 *       xor-shift-multiply mixer. It is a <em>bijection</em> on 64-bit values, and {@link #unhashFixed(long)}
 *       inverts it. The inline slot format relies on this: it stores the hash instead of the key, so a key
 *       comparison is one 64-bit compare, growth never rehashes, and the key is recovered when iterating.</li>
 *   <li>{@link #hash(DirectBuffer, int, int)} for variable-length keys: a multiply-fold hash in the style of
 *       wyhash (16 bytes per round, each round folds a 128-bit product), with the length mixed in.</li>
 * </ul>
 * The seed is random per map by default, so an attacker who does not know it cannot pick colliding keys;
 * it is recorded when a map is persisted.
 *
 * <h2>Bit split</h2>
 * <pre>
 *   63                      32 31                       7 6      0
 *  +--------------------------+--------------------------+--------+
 *  |   shard (multiply-shift) | home group (mult.-shift) |  tag   |
 *  +--------------------------+--------------------------+--------+
 * </pre>
 * Shard choice, slot position and control-byte tag come from disjoint bits, so keys that share a shard are
 * still spread over that shard's table, and keys that share a home group rarely share a tag. Multiply-shift
 * range reduction allows any shard count and any group count, not only powers of two.
 */
public final class KeyHasher {
    private static final long MIX_1 = 0xff51afd7ed558ccdL;
    private static final long MIX_2 = 0xc4ceb9fe1a85ec53L;
    private static final long MIX_1_INVERSE = inverse(MIX_1);
    private static final long MIX_2_INVERSE = inverse(MIX_2);
    /** Odd constants with balanced bits for the byte hash. */
    private static final long K0 = 0x9e3779b97f4a7c15L;
    private static final long K1 = 0xd6e8feb86659fd93L;
    private static final long K2 = 0x8cb92ba72f3d8dd7L;

    private final long seed;

    /**
     * Creates a hasher with a fixed seed (for persistence and reproducible tests).
     *
     * @param seed any value
     */
    public KeyHasher(long seed) {
        this.seed = seed;
    }

    /**
     * Creates a hasher with a seed from {@link SecureRandom}, the default for a new map.
     *
     * @return a randomly seeded hasher
     */
    public static KeyHasher randomSeed() {
        return new KeyHasher(new SecureRandom().nextLong());
    }

    /**
     * The seed.
     *
     * @return the seed this hasher was created with
     */
    public long seed() {
        return seed;
    }

    /**
     * Hash of a key of at most 8 bytes given as its little-endian, zero-extended bits. A bijection.
     *
     * @param keyBits the key's bytes as a little-endian long
     * @return the hash
     */
    public long hashFixed(long keyBits) {
        long x = keyBits ^ seed;
        x ^= x >>> 33;
        x *= MIX_1;
        x ^= x >>> 33;
        x *= MIX_2;
        x ^= x >>> 33;
        return x;
    }

    /**
     * Inverse of {@link #hashFixed(long)}: recovers the key bits from a hash.
     *
     * @param hash a value returned by {@code hashFixed}
     * @return the key bits it was computed from
     */
    public long unhashFixed(long hash) {
        // x ^= x >>> 33 is its own inverse because 33 >= 32; multiplication by an odd constant is inverted by
        // multiplying with its inverse modulo 2^64.
        long x = hash;
        x ^= x >>> 33;
        x *= MIX_2_INVERSE;
        x ^= x >>> 33;
        x *= MIX_1_INVERSE;
        x ^= x >>> 33;
        return x ^ seed;
    }

    /**
     * Hash of a fixed-width key of {@code width} (1..8) bytes stored at {@code offset} of {@code buffer}.
     *
     * @param buffer the encoded key
     * @param offset where it starts
     * @param width  its length, 1 to 8
     * @return {@code hashFixed(fixedKeyBits(buffer, offset, width))}
     */
    public long hashFixed(DirectBuffer buffer, int offset, int width) {
        return hashFixed(fixedKeyBits(buffer, offset, width));
    }

    /**
     * Reads a key of 1 to 8 bytes as a little-endian, zero-extended long.
     *
     * @param buffer the encoded key
     * @param offset where it starts
     * @param width  its length, 1 to 8
     * @return the key bits
     * @throws IllegalArgumentException if width is outside 1..8
     * @throws IndexOutOfBoundsException if the region is outside the buffer
     */
    public static long fixedKeyBits(DirectBuffer buffer, int offset, int width) {
        checkRegion(buffer, offset, width);
        switch (width) {
            case 8:
                return MemoryAccess.getLongLE(buffer, offset);
            case 4:
                return MemoryAccess.getUnsignedIntLE(buffer, offset);
            default:
                if (width < 1 || width > 8) {
                    throw new IllegalArgumentException("fixed key width must be 1..8 bytes, was " + width);
                }
                long bits = 0;
                for (int i = width - 1; i >= 0; i--) {
                    bits = (bits << 8) | MemoryAccess.getUnsignedByte(buffer, offset + i);
                }
                return bits;
        }
    }

    /**
     * Hash of a variable-length key.
     *
     * @param buffer the encoded key
     * @param offset where it starts
     * @param length its length in bytes, 0 allowed
     * @return the hash
     * @throws IndexOutOfBoundsException if the region is outside the buffer
     */
    public long hash(DirectBuffer buffer, int offset, int length) {
        checkRegion(buffer, offset, length);
        long state = seed ^ K0;
        final long a;
        final long b;
        if (length <= 16) {
            if (length >= 8) {
                a = MemoryAccess.getLongLE(buffer, offset);
                b = MemoryAccess.getLongLE(buffer, offset + length - 8);
            } else if (length >= 4) {
                a = MemoryAccess.getUnsignedIntLE(buffer, offset);
                b = MemoryAccess.getUnsignedIntLE(buffer, offset + length - 4);
            } else if (length > 0) {
                a = ((long) MemoryAccess.getUnsignedByte(buffer, offset) << 16)
                    | ((long) MemoryAccess.getUnsignedByte(buffer, offset + (length >>> 1)) << 8)
                    | MemoryAccess.getUnsignedByte(buffer, offset + length - 1);
                b = 0;
            } else {
                a = 0;
                b = 0;
            }
        } else {
            int i = 0;
            long second = state;
            for (; length - i > 32; i += 32) {
                state = fold(MemoryAccess.getLongLE(buffer, offset + i) ^ K1,
                    MemoryAccess.getLongLE(buffer, offset + i + 8) ^ state);
                second = fold(MemoryAccess.getLongLE(buffer, offset + i + 16) ^ K2,
                    MemoryAccess.getLongLE(buffer, offset + i + 24) ^ second);
            }
            // Combine the lanes with a multiply, not an XOR: before the loop second == state, so an XOR would
            // cancel the seed (keys of 17..32 bytes would hash independently of it); after the loop, keys whose
            // second half repeats the first (xor K1 ^ K2) would make equal lanes cancel it the same way.
            state = fold(state ^ K2, second ^ K1);
            if (length - i > 16) {
                state = fold(MemoryAccess.getLongLE(buffer, offset + i) ^ K1,
                    MemoryAccess.getLongLE(buffer, offset + i + 8) ^ state);
            }
            a = MemoryAccess.getLongLE(buffer, offset + length - 16);
            b = MemoryAccess.getLongLE(buffer, offset + length - 8);
        }
        return fold(K1 ^ length, fold(a ^ K1, b ^ state));
    }

    /**
     * Shard index for a hash: multiply-shift of the high 32 bits, for any count (not only powers of two).
     *
     * @param hash       a key hash
     * @param shardCount number of shards, 1 to 2^31-1
     * @return an index in {@code [0, shardCount)}
     */
    public static int shardIndex(long hash, int shardCount) {
        return (int) (((hash >>> 32) * shardCount) >>> 32);
    }

    /**
     * Where shard {@code index}'s part of the hash space starts: {@link #shardIndex} routes a hash to {@code index}
     * exactly when its high 32 bits lie in {@code [shardStart(index, count), shardStart(index + 1, count))}. The
     * ranges are contiguous and ordered, so the shards of two counts overlap in known ways: a rebalance can tell
     * which old shards feed a new one, and an iterator can resume at a hash position when the count changes.
     *
     * @param index      a shard index, {@code 0..shardCount} ({@code shardCount} gives the end of the last range)
     * @param shardCount number of shards, 1 to 2^31-1
     * @return the first high-32-bit value of the range, {@code 0..2^32}
     */
    public static long shardStart(int index, int shardCount) {
        return (((long) index << 32) + shardCount - 1) / shardCount;
    }

    /**
     * The high 32 bits of a hash, as {@link #shardIndex} and {@link #shardStart} see them.
     *
     * @param hash a key hash
     * @return {@code hash >>> 32}
     */
    public static long routingBits(long hash) {
        return hash >>> 32;
    }

    /** Folds the 128-bit product of {@code a} and {@code b} into 64 bits. */
    private static long fold(long a, long b) {
        return (a * b) ^ Math.multiplyHigh(a, b);
    }

    /** Multiplicative inverse of an odd number modulo 2^64 (Newton's iteration doubles correct bits each step). */
    private static long inverse(long odd) {
        long x = odd;
        for (int i = 0; i < 5; i++) {
            x *= 2 - odd * x;
        }
        return x;
    }

    private static void checkRegion(DirectBuffer buffer, int offset, int length) {
        if (offset < 0 || length < 0 || offset > buffer.capacity() - length) {
            throw new IndexOutOfBoundsException("region [" + offset + ", " + offset + " + " + length
                + ") is outside the buffer of capacity " + buffer.capacity());
        }
    }

    @Override
    public String toString() {
        return "KeyHasher{seed=" + seed + '}';
    }
}
