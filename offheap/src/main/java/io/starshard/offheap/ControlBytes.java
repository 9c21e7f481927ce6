package io.starshard.offheap;

/**
 * The control byte of each slot and the SWAR (SIMD within a register) matching over a group of eight.
 *
 * <pre>
 *  control byte   meaning
 *  0ttt tttt      FULL, t = low 7 bits of the key's hash (the tag)
 *  1111 1111      EMPTY    (0xFF)
 *  1000 0000      DELETED  (0x80, a tombstone)
 * </pre>
 * A group is 8 consecutive control bytes read as one little-endian {@code long}; byte {@code i} of the word
 * is slot {@code 8 * group + i}. A lookup matches the tag in all 8 bytes at once and stops at the first group
 * that holds an EMPTY byte, so most misses cost one control word and no key comparison.
 */
final class ControlBytes {
    static final byte EMPTY = (byte) 0xFF;
    static final byte DELETED = (byte) 0x80;
    /** Slots per group: one control word. */
    static final int GROUP_WIDTH = Long.BYTES;
    /** {@code log2(GROUP_WIDTH)}: slot {@code s} is in group {@code s >>> GROUP_SHIFT}. */
    static final int GROUP_SHIFT = Integer.numberOfTrailingZeros(GROUP_WIDTH);
    /** Home groups come from 25 hash bits, which bounds a table to 2^25 groups (2^28 slots). */
    static final int MAX_GROUPS = 1 << 25;

    private static final long LOW_BITS = 0x0101_0101_0101_0101L;
    /** The high bit of each byte: the flags that the match functions return. */
    static final long HIGH_BITS = 0x8080_8080_8080_8080L;
    private static final int GROUP_BITS = 25;
    private static final long GROUP_MASK = (1L << GROUP_BITS) - 1;

    private ControlBytes() {
    }

    /** The FULL control byte of a hash: its low 7 bits. */
    static byte tag(long hash) {
        return (byte) (hash & 0x7F);
    }

    /** The tag repeated in all 8 bytes, for {@link #matchTag}. */
    static long broadcast(byte tag) {
        return (tag & 0xFFL) * LOW_BITS;
    }

    /**
     * High bit set in each byte of {@code word} that may equal the broadcast tag. Exact for the lowest match;
     * a byte above a true match can be a false positive, which the caller's hash comparison rejects.
     */
    static long matchTag(long word, long broadcastTag) {
        long x = word ^ broadcastTag;
        return (x - LOW_BITS) & ~x & HIGH_BITS;
    }

    /** High bit set in each EMPTY byte (bits 7 and 6 both set only in 0xFF). */
    static long matchEmpty(long word) {
        return word & (word << 1) & HIGH_BITS;
    }

    /** High bit set in each FULL byte (the only bytes with bit 7 clear). */
    static long matchFull(long word) {
        return ~word & HIGH_BITS;
    }

    /** High bit set in each EMPTY or DELETED byte (the only bytes with bit 7 set). */
    static long matchEmptyOrDeleted(long word) {
        return word & HIGH_BITS;
    }

    /** Index (0..7) within the group of the lowest byte flagged in {@code mask}; mask must be non-zero. */
    static int lowestIndex(long mask) {
        return Long.numberOfTrailingZeros(mask) >>> 3;
    }

    /** The slot of the lowest byte flagged in {@code mask}, a match result of the control word of {@code group}. */
    static int slot(int group, long mask) {
        return (group << GROUP_SHIFT) + lowestIndex(mask);
    }

    /** The group of a slot. */
    static int groupOf(int slot) {
        return slot >>> GROUP_SHIFT;
    }

    /** Home group of a hash in a table of {@code groups} groups: multiply-shift of hash bits 7..31. */
    static int homeGroup(long hash, int groups) {
        return (int) ((((hash >>> 7) & GROUP_MASK) * groups) >>> GROUP_BITS);
    }

    static boolean isFull(byte control) {
        return control >= 0;
    }
}
