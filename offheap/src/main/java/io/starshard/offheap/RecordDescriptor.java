package io.starshard.offheap;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;

/**
 * Layout of an exported record, the unit in which entries leave a segment as raw bytes
 * ({@link Segment#exportRange}, {@link Segment#importRecords}): iteration, rebalance and persistence read and
 * write records without re-encoding any key or value. Every offset of the format is defined here, once.
 *
 * <pre>
 *   0                     8                12               16             16 + keyLength
 *   +---------------------+----------------+----------------+--------------+----------------+
 *   | hash : 8            | keyLength : 4  | valueLength : 4|  key bytes   |  value bytes   |
 *   +---------------------+----------------+----------------+--------------+----------------+
 *   integers little-endian; records follow each other with no padding, so a record may start at any offset
 * </pre>
 *
 * <p>Why little-endian and unpadded, unlike the segment's own native-order, aligned memory: records leave the
 * process (persistence, transfer), so their byte order is fixed; and they are read sequentially, so alignment
 * would only cost space.
 *
 * <p>The accessors read through the buffer's own (bounds-checked) methods. A region whose records are not
 * trusted is walked with {@link #checkedRecordLength}, which validates each header before the next is read.
 */
public final class RecordDescriptor {
    /** Offset of the key's 64-bit hash. */
    private static final int HASH_OFFSET = 0;
    /** Offset of the key length, a 32-bit int. */
    private static final int KEY_LENGTH_OFFSET = HASH_OFFSET + Long.BYTES;
    /** Offset of the value length, a 32-bit int. */
    private static final int VALUE_LENGTH_OFFSET = KEY_LENGTH_OFFSET + Integer.BYTES;
    /** Bytes before the key: hash, key length and value length. */
    public static final int HEADER_BYTES = VALUE_LENGTH_OFFSET + Integer.BYTES;

    private RecordDescriptor() {
    }

    /**
     * The key hash of the record at {@code recordOffset}.
     *
     * @param buffer       the records
     * @param recordOffset where the record starts
     * @return the stored hash
     */
    public static long hash(DirectBuffer buffer, int recordOffset) {
        return buffer.getLong(recordOffset + HASH_OFFSET, ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The key length of the record at {@code recordOffset}, as stored (unchecked; see {@link #checkedRecordLength}).
     *
     * @param buffer       the records
     * @param recordOffset where the record starts
     * @return the stored key length
     */
    public static int keyLength(DirectBuffer buffer, int recordOffset) {
        return buffer.getInt(recordOffset + KEY_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The value length of the record at {@code recordOffset}, as stored (unchecked; see
     * {@link #checkedRecordLength}).
     *
     * @param buffer       the records
     * @param recordOffset where the record starts
     * @return the stored value length
     */
    public static int valueLength(DirectBuffer buffer, int recordOffset) {
        return buffer.getInt(recordOffset + VALUE_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Where the key of the record at {@code recordOffset} starts.
     *
     * @param recordOffset where the record starts
     * @return {@code recordOffset + HEADER_BYTES}
     */
    public static int keyOffset(int recordOffset) {
        return recordOffset + HEADER_BYTES;
    }

    /**
     * Where the value of the record at {@code recordOffset} starts.
     *
     * @param recordOffset where the record starts
     * @param keyLength    the record's key length
     * @return the offset of the first value byte
     */
    public static int valueOffset(int recordOffset, int keyLength) {
        return recordOffset + HEADER_BYTES + keyLength;
    }

    /**
     * Bytes of a record with these lengths, header included.
     *
     * @param keyLength   key bytes
     * @param valueLength value bytes
     * @return {@code HEADER_BYTES + keyLength + valueLength}
     */
    public static int recordLength(int keyLength, int valueLength) {
        return HEADER_BYTES + keyLength + valueLength;
    }

    /**
     * Writes the header of a record; its key and value go to {@link #keyOffset} and {@link #valueOffset}.
     *
     * @param buffer       destination, with room for the header at {@code recordOffset}
     * @param recordOffset where the record starts
     * @param hash         the key's hash
     * @param keyLength    key bytes
     * @param valueLength  value bytes
     */
    public static void writeHeader(MutableDirectBuffer buffer, int recordOffset, long hash, int keyLength,
                                   int valueLength) {
        buffer.putLong(recordOffset + HASH_OFFSET, hash, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(recordOffset + KEY_LENGTH_OFFSET, keyLength, ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(recordOffset + VALUE_LENGTH_OFFSET, valueLength, ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Validates the header of the record at {@code recordOffset} of a region that ends at {@code end}: the header
     * fits, both lengths are non-negative, and the key and value fit before {@code end}. Only then are the lengths
     * safe to use.
     *
     * @param buffer       the records
     * @param recordOffset where the record starts
     * @param end          the end of the region holding the records (exclusive)
     * @return the record's total length, header included
     * @throws IndexOutOfBoundsException if {@code [recordOffset, end)} is not a region of {@code buffer}
     * @throws IllegalArgumentException  if the header is truncated or declares lengths that are negative or do
     *                                   not fit before {@code end}; the message names the offset and the lengths
     */
    public static int checkedRecordLength(DirectBuffer buffer, int recordOffset, int end) {
        if (recordOffset < 0 || end < recordOffset || end > buffer.capacity()) {
            throw new IndexOutOfBoundsException("record region [" + recordOffset + ", " + end
                + ") is outside its buffer of capacity " + buffer.capacity());
        }
        final int left = end - recordOffset - HEADER_BYTES;
        if (left < 0) {
            throw new IllegalArgumentException("truncated record header at offset " + recordOffset + ": "
                + (end - recordOffset) + " bytes left, a header takes " + HEADER_BYTES);
        }
        final int keyLength = keyLength(buffer, recordOffset);
        final int valueLength = valueLength(buffer, recordOffset);
        if (keyLength < 0 || valueLength < 0 || (long) keyLength + valueLength > left) {
            throw new IllegalArgumentException("record at offset " + recordOffset + " declares key " + keyLength
                + " and value " + valueLength + " bytes; " + left + " bytes are left after its header");
        }
        return HEADER_BYTES + keyLength + valueLength;
    }
}
