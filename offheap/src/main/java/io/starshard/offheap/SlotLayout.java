package io.starshard.offheap;

/**
 * Where a table keeps its control bytes and slots. Chosen once per segment ({@link SegmentSpec#withSlotLayout});
 * the byte offsets of each layout are {@link Table}'s and {@link SlotDescriptor}'s.
 *
 * <pre>
 *  SEPARATE: every control byte, then every slot
 *   +----------------------------------+--------------------------------------------------+
 *   | control bytes: groups x 8 B      | slots: groups x 8 x slotSize B                   |
 *   +----------------------------------+--------------------------------------------------+
 *
 *  INTERLEAVED: 128-byte groups of 7 slots (16-byte slots only)
 *   group g at address + 128 g
 *   0         8                                      64                                   120    128
 *   +---------+--------------------------------------+-------------------------------------+------+
 *   | control | hash 0 | hash 1 |  ...   | hash 6    | payload 0 |  ...   | payload 6       | pad  |
 *   +---------+--------------------------------------+-------------------------------------+------+
 *   control byte 7 is DELETED for good: never FULL, never EMPTY (probes go on), never chosen for an insert
 *   slot number = 8 g + lane (lane 0..6); a slot's payload lies 56 bytes after its hash
 * </pre>
 *
 * <p>Why two: with SEPARATE a lookup touches the control word's line and then the slot's line, in another part of
 * the table; with INTERLEAVED the control word and the group's hashes share a line, so a lookup that matches a
 * tag finds the hash already loaded, and the payload is the next line. Which one serves which format is decided
 * by measurement (the benchmark document records it).
 */
public enum SlotLayout {
    /** The control bytes of all groups, then the slots of all groups. */
    SEPARATE,
    /** Control word, 7 hashes, 7 payloads per 128-byte group; for 16-byte slots only. */
    INTERLEAVED
}
