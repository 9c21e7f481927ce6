package io.starshard.codec;

import java.nio.ByteOrder;
import java.util.Objects;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * {@code Integer} as 4 little-endian bytes: fixed width, so maps of {@code int} keys and values store entries
 * inline. Encoding never allocates; {@link #decodeInt} does not either.
 */
public final class IntegerCodec implements Codec<Integer> {
    /** Encoded length in bytes. */
    public static final int WIDTH = Integer.BYTES;
    /** The stateless instance. */
    public static final IntegerCodec INSTANCE = new IntegerCodec();

    private IntegerCodec() {
    }

    @Override
    public Class<Integer> type() {
        return Integer.class;
    }

    @Override
    public int fixedLength() {
        return WIDTH;
    }

    @Override
    public int encode(Integer value, MutableDirectBuffer buffer, int offset, int maxLength) {
        Objects.requireNonNull(value, "value");
        return encodeInt(value, buffer, offset, maxLength);
    }

    /**
     * Encodes a primitive {@code int} without boxing.
     *
     * @param value     the value
     * @param buffer    the destination
     * @param offset    where the encoding starts
     * @param maxLength the most bytes the encoding may take
     * @return {@link #WIDTH}
     * @throws EncodingTooLargeException if {@code maxLength < 4}
     */
    public int encodeInt(int value, MutableDirectBuffer buffer, int offset, int maxLength) {
        FixedWidth.checkRoom(Integer.class, WIDTH, maxLength);
        buffer.putInt(offset, value, ByteOrder.LITTLE_ENDIAN);
        return WIDTH;
    }

    @Override
    public Integer decode(DirectBuffer buffer, int offset, int length) {
        return decodeInt(buffer, offset, length);
    }

    /**
     * Decodes a primitive {@code int} without boxing.
     *
     * @param buffer the source
     * @param offset where the encoding starts
     * @param length the region length; must be 4
     * @return the value
     * @throws CodecException if {@code length != 4}
     */
    public int decodeInt(DirectBuffer buffer, int offset, int length) {
        FixedWidth.checkRegion(Integer.class, WIDTH, buffer, offset, length);
        return buffer.getInt(offset, ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public String toString() {
        return "IntegerCodec";
    }
}
