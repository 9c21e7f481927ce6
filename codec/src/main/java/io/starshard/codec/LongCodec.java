package io.starshard.codec;

import java.nio.ByteOrder;
import java.util.Objects;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * {@code Long} as 8 little-endian bytes.
 *
 * <p>Little-endian because that is the order the off-heap layer reads fixed-width keys in (one plain load on
 * x86 and ARM), so that a map of {@code long -> long} can store the encoding inline and its primitive methods
 * can skip the codec altogether. Encoding never allocates; decoding allocates only the {@code Long} box
 * ({@link #decodeLong} does not).
 */
public final class LongCodec implements Codec<Long> {
    /** Encoded length in bytes. */
    public static final int WIDTH = Long.BYTES;
    /** The stateless instance. */
    public static final LongCodec INSTANCE = new LongCodec();

    private LongCodec() {
    }

    @Override
    public Class<Long> type() {
        return Long.class;
    }

    @Override
    public int fixedLength() {
        return WIDTH;
    }

    @Override
    public int encode(Long value, MutableDirectBuffer buffer, int offset, int maxLength) {
        Objects.requireNonNull(value, "value");
        return encodeLong(value, buffer, offset, maxLength);
    }

    /**
     * Encodes a primitive {@code long} without boxing.
     *
     * @param value     the value
     * @param buffer    the destination
     * @param offset    where the encoding starts
     * @param maxLength the most bytes the encoding may take
     * @return {@link #WIDTH}
     * @throws EncodingTooLargeException if {@code maxLength < 8}
     */
    public int encodeLong(long value, MutableDirectBuffer buffer, int offset, int maxLength) {
        FixedWidth.checkRoom(Long.class, WIDTH, maxLength);
        buffer.putLong(offset, value, ByteOrder.LITTLE_ENDIAN);
        return WIDTH;
    }

    @Override
    public Long decode(DirectBuffer buffer, int offset, int length) {
        return decodeLong(buffer, offset, length);
    }

    /**
     * Decodes a primitive {@code long} without boxing.
     *
     * @param buffer the source
     * @param offset where the encoding starts
     * @param length the region length; must be 8
     * @return the value
     * @throws CodecException if {@code length != 8}
     */
    public long decodeLong(DirectBuffer buffer, int offset, int length) {
        FixedWidth.checkRegion(Long.class, WIDTH, buffer, offset, length);
        return buffer.getLong(offset, ByteOrder.LITTLE_ENDIAN);
    }

    @Override
    public String toString() {
        return "LongCodec";
    }
}
