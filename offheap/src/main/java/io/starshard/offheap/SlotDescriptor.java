package io.starshard.offheap;

/**
 * Layout of one slot of a {@link Table}: every offset and size of a slot field is defined here, once.
 *
 * <pre>
 *  inline slot  (fixed-width key of 1..8 B, fixed-width value of 0..16 B)
 *   0                8                                  8 + valueArea
 *   +----------------+-----------------------------------+
 *   | hash : 8       | value bytes, zero-padded to 8/16  |   valueArea = valueWidth rounded up to 8
 *   +----------------+-----------------------------------+
 *
 *  indirect slot
 *   0                8                                 16
 *   +----------------+----------------------------------+
 *   | hash : 8       | entry reference : 8              |   chunkId &lt;&lt; 32 | offset (see EntryDescriptor)
 *   +----------------+----------------------------------+
 *
 *  the slots of one group, for 16-byte slots (indirect, and inline values of 1..8 B)
 *   group g starts at slotsAddress + g * 128
 *   +--------+--------+--------+--------+--------+--------+--------+--------+
 *   | slot 0 | slot 1 | slot 2 | slot 3 | slot 4 | slot 5 | slot 6 | slot 7 |   8 x 16 B = 128 B
 *   +--------+--------+--------+--------+--------+--------+--------+--------+
 * </pre>
 * Slot fields are stored in native byte order, except an inline value, whose bytes are the caller's encoding
 * (read as a little-endian long by the primitive accessors).
 *
 * <p>Why the inline slot keeps the hash and not the key: for keys of at most 8 bytes the hash is a bijection of
 * the key ({@link KeyHasher#unhashFixed}), so the hash <em>is</em> the key and one 64-bit compare is the key
 * comparison. Why the value area is zero-padded: a primitive read of a value narrower than 8 bytes loads the
 * whole word, and must see zeros above the value.
 */
final class SlotDescriptor {
    /** Offset of the stored 64-bit hash, in every slot format. */
    static final int HASH_OFFSET = 0;
    /** Offset of the inline value bytes, and of the indirect entry reference: the field after the hash. */
    static final int PAYLOAD_OFFSET = HASH_OFFSET + Long.BYTES;
    /** Offset of the inline value bytes. */
    static final int VALUE_OFFSET = PAYLOAD_OFFSET;
    /** Offset of the indirect entry reference. */
    static final int REFERENCE_OFFSET = PAYLOAD_OFFSET;
    /** Bytes of an indirect slot: the hash and the entry reference. */
    static final int INDIRECT_SLOT_BYTES = REFERENCE_OFFSET + Long.BYTES;
    /** Largest inline value area: bounds the largest slot. */
    static final int MAX_VALUE_AREA = 16;
    /** Size of the slots that the 16-byte addressing below serves (indirect, and inline values of 1..8 bytes). */
    static final int SLOT16_BYTES = 16;
    /** Bytes of the 8 slots of one group when slots are 16 bytes. */
    static final int SLOT16_GROUP_BYTES = ControlBytes.GROUP_WIDTH * SLOT16_BYTES;
    /** {@code log2(SLOT16_GROUP_BYTES)}: a group's first 16-byte slot is {@code group << SLOT16_GROUP_SHIFT}. */
    static final int SLOT16_GROUP_SHIFT = Integer.numberOfTrailingZeros(SLOT16_GROUP_BYTES);
    /**
     * From a control-word match flag to a 16-byte slot offset. The flag of control byte {@code i} is bit
     * {@code 8i + 7} ({@link ControlBytes#matchTag} flags the high bit of a byte), so shifting the bit index left
     * by {@value #SLOT16_MATCH_SHIFT} gives {@code 16i + 14}: the slot's offset plus {@link #SLOT16_MATCH_BIAS}.
     */
    static final int SLOT16_MATCH_SHIFT = Integer.numberOfTrailingZeros(SLOT16_BYTES / Byte.SIZE);
    /** What {@link #SLOT16_MATCH_SHIFT} adds to a slot offset: the flag bit's position in its byte, scaled. */
    static final int SLOT16_MATCH_BIAS = (Byte.SIZE - 1) << SLOT16_MATCH_SHIFT;

    static {
        // The relations the addressing above relies on; a layout change that breaks one fails at class load.
        if (1 << SLOT16_GROUP_SHIFT != SLOT16_GROUP_BYTES || INDIRECT_SLOT_BYTES != SLOT16_BYTES
            || Byte.SIZE << SLOT16_MATCH_SHIFT != SLOT16_BYTES || PAYLOAD_OFFSET % Long.BYTES != 0) {
            throw new ExceptionInInitializerError("inconsistent slot layout constants");
        }
    }

    private SlotDescriptor() {
    }

    /**
     * Bytes of an inline slot: the hash, then the value rounded up to 8 bytes so that every slot stays 8-byte
     * aligned.
     *
     * @param valueWidth inline value bytes, 0..{@value #MAX_VALUE_AREA}
     * @return 8, 16 or 24
     */
    static int inlineSlotBytes(int valueWidth) {
        return VALUE_OFFSET + valueArea(valueWidth);
    }

    /** The value area of an inline slot: the value width rounded up to a multiple of 8. */
    static int valueArea(int valueWidth) {
        return (valueWidth + Long.BYTES - 1) & -Long.BYTES;
    }

    /**
     * Validator of a slot size, called when a table is allocated: a slot holds the hash and is 8-byte aligned
     * and no larger than the largest inline slot.
     *
     * @param slotSize bytes per slot
     * @return {@code slotSize}
     * @throws IllegalArgumentException if no slot format has this size
     */
    static int checkSlotSize(int slotSize) {
        if (slotSize < PAYLOAD_OFFSET || slotSize > PAYLOAD_OFFSET + MAX_VALUE_AREA || slotSize % Long.BYTES != 0) {
            throw new IllegalArgumentException("slot size must be a multiple of 8 in [" + PAYLOAD_OFFSET + ", "
                + (PAYLOAD_OFFSET + MAX_VALUE_AREA) + "], was " + slotSize);
        }
        return slotSize;
    }
}
