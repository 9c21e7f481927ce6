package io.starshard.internal;

/**
 * The byte layout of a persisted map's journal lane file, version 1: every offset and limit of the format, in one
 * place. Integers are little-endian; a {@code crc} is a CRC-32C.
 *
 * <pre>
 * file header (64 bytes)
 *    0 magic "SSJOURNL" : 8    8 version : 4       12 lane : 4          16 generation : 8
 *   24 hashSeed : 8           32 laneCount : 4    36 maxEntryBytes : 4  40 reserved (0) : 20    60 crc : 4
 * record (from offset 64, each starting at a multiple of 8, padded with zeros to a multiple of 8)
 *    0 length : 4   4 crc : 4        the record's total length (header included) and the CRC-32C of bytes
 *                                     [8, 24 + keyLength + valueLength); one 8-byte word, written last
 *    8 kind : 4    12 keyLength : 4   16 valueLength : 4   20 reserved (0) : 4
 *   24 key bytes, then value bytes    (RANGE: valueLength 16, the value is routingFrom : 8, routingTo : 8)
 * </pre>
 *
 * <p>Why the length-and-crc word is written last, with an ordered store: a process killed while it appends leaves
 * either that word at zero (the end of the lane: the write had not returned) or a whole record. A zero word is
 * the end of the lane; a non-zero word whose record does not check is corruption, not a torn append.
 */
final class JournalFormat {
    static final long MAGIC = 0x4C4E_5255_4F4A_5353L;   // "SSJOURNL" read little-endian
    static final int VERSION = 1;

    static final int FILE_HEADER_BYTES = 64;
    static final int LANE = 12;
    static final int GENERATION = 16;
    static final int HASH_SEED = 24;
    static final int LANE_COUNT = 32;
    static final int MAX_ENTRY_BYTES = 36;
    static final int FILE_HEADER_CRC = 60;

    static final int RECORD_HEADER_BYTES = 24;
    static final int KIND = 8;
    static final int KEY_LENGTH = 12;
    static final int VALUE_LENGTH = 16;
    /** Where the bytes the record's CRC covers begin. */
    static final int CHECKED_FROM = KIND;

    /** A record: the key now has this value. */
    static final int PUT = 1;
    /** A record: the key is absent now. */
    static final int REMOVE = 2;
    /** A record: every key whose routing bits lie in {@code [routingFrom, routingTo)} is absent now. */
    static final int RANGE = 3;
    /** The value length of a {@link #RANGE} record. */
    static final int RANGE_BYTES = 16;

    private JournalFormat() {
    }

    /** The length of a record holding {@code keyLength + valueLength} payload bytes, padded to 8. */
    static int recordLength(int keyLength, int valueLength) {
        return (RECORD_HEADER_BYTES + keyLength + valueLength + 7) & ~7;
    }

    /** The most bytes one record of a map with this entry limit takes. */
    static int maxRecordLength(int maxEntryBytes) {
        return recordLength(Math.max(maxEntryBytes, RANGE_BYTES), 0);
    }

    /** The file name of {@code lane}'s journal of {@code generation}. */
    static String laneFileName(long generation, int lane) {
        return "journal-" + generation + "-" + lane + ".log";
    }
}
