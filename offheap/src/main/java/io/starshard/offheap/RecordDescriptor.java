package io.starshard.offheap;

import org.agrona.DirectBuffer;

import java.nio.ByteOrder;

/**
 * Temporary placeholder of the exported record format; replaced by the descriptor of the offheap module.
 */
public final class RecordDescriptor {
    /** Bytes before the key. */
    public static final int HEADER_BYTES = 16;

    private RecordDescriptor() {
    }

    /**
     * @param buffer       records
     * @param recordOffset record start
     * @return the hash
     */
    public static long hash(DirectBuffer buffer, int recordOffset) {
        return buffer.getLong(recordOffset, ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * @param buffer       records
     * @param recordOffset record start
     * @return key length
     */
    public static int keyLength(DirectBuffer buffer, int recordOffset) {
        return buffer.getInt(recordOffset + 8, ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * @param buffer       records
     * @param recordOffset record start
     * @return value length
     */
    public static int valueLength(DirectBuffer buffer, int recordOffset) {
        return buffer.getInt(recordOffset + 12, ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * @param recordOffset record start
     * @return key offset
     */
    public static int keyOffset(int recordOffset) {
        return recordOffset + HEADER_BYTES;
    }

    /**
     * @param recordOffset record start
     * @param keyLength    key length
     * @return value offset
     */
    public static int valueOffset(int recordOffset, int keyLength) {
        return recordOffset + HEADER_BYTES + keyLength;
    }

    /**
     * @param keyLength   key length
     * @param valueLength value length
     * @return record length
     */
    public static int recordLength(int keyLength, int valueLength) {
        return HEADER_BYTES + keyLength + valueLength;
    }
}
