package io.starshard.internal;

import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * The byte layout of a saved map, version 1: every offset and limit of the format, in one place. Integers are
 * little-endian; a {@code crc} is the CRC-32C of the bytes it follows.
 *
 * <pre>
 * header   0 magic "STARSHRD" : 8      8 version : 4        12 headerLength : 4   16 hashSeed : 8
 *         24 shardCount : 4           28 maxEntryBytes : 4  32 entryCount : 8     40 blockCount : 4
 *         44 keyIdLength : 2          46 valueIdLength : 2  48 keyId, valueId (UTF-8)   ... crc : 4
 * block    0 magic "BLK1" : 4          4 recordCount : 4     8 routingFrom : 8     16 routingTo : 8
 *         24 payloadLength : 4        28 payloadCrc : 4     32 crc : 4            36 records (RecordDescriptor)
 * footer   0 magic "END1" : 4          4 blockCount : 4      8 entryCount : 8      16 crc : 4
 * </pre>
 *
 * Blocks cover the hash space in order, without gap or overlap ({@code routingFrom} of the first is 0, of each
 * next one the {@code routingTo} of the one before, of the last 2^32): one block per shard range of the saved
 * map, so a loader can check that nothing was cut out or repeated, whatever shard count it loads into.
 */
final class MapFileFormat {
    static final long MAGIC = 0x4448_5253_5241_5453L;   // "STARSHRD" read little-endian
    static final int VERSION = 1;
    static final int BLOCK_MAGIC = 0x314B_4C42;        // "BLK1"
    static final int FOOTER_MAGIC = 0x3144_4E45;       // "END1"

    static final int HEADER_FIXED_BYTES = 48;
    static final int HASH_SEED = 16;
    static final int SHARD_COUNT = 24;
    static final int MAX_ENTRY_BYTES = 28;
    static final int ENTRY_COUNT = 32;
    static final int BLOCK_COUNT = 40;
    static final int KEY_ID_LENGTH = 44;
    static final int VALUE_ID_LENGTH = 46;
    static final int HEADER_LENGTH = 12;
    /** A header larger than this is refused before it is read: codec names are short. */
    static final int MAX_HEADER_BYTES = 4096;

    static final int BLOCK_HEADER_BYTES = 36;
    static final int BLOCK_RECORD_COUNT = 4;
    static final int BLOCK_ROUTING_FROM = 8;
    static final int BLOCK_ROUTING_TO = 16;
    static final int BLOCK_PAYLOAD_LENGTH = 24;
    static final int BLOCK_PAYLOAD_CRC = 28;
    static final int BLOCK_CRC = 32;

    static final int FOOTER_BYTES = 20;
    static final int FOOTER_BLOCK_COUNT = 4;
    static final int FOOTER_ENTRY_COUNT = 8;
    static final int FOOTER_CRC = 16;

    /** The end of the hash space in routing bits. */
    static final long ROUTING_END = 1L << 32;

    private MapFileFormat() {
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static int headerLength(int keyIdBytes, int valueIdBytes) {
        return HEADER_FIXED_BYTES + keyIdBytes + valueIdBytes + Integer.BYTES;
    }

    static int crc(byte[] bytes, int offset, int length) {
        final CRC32C crc = new CRC32C();
        crc.update(bytes, offset, length);
        return (int) crc.getValue();
    }
}
