package io.starshard.codec;

import java.nio.ByteOrder;
import java.util.Objects;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * {@code Double} as the 8 little-endian bytes of {@link Double#doubleToLongBits}.
 *
 * <p>{@code doubleToLongBits}, not the raw bits, because the map compares keys by their bytes and
 * {@link Double#equals} treats every NaN as equal: collapsing NaNs to the canonical one keeps "equal values
 * have identical encodings". {@code 0.0} and {@code -0.0} stay distinct, as they are for {@code equals}.
 */
public final class DoubleCodec implements Codec<Double> {
    /** Encoded length in bytes. */
    public static final int WIDTH = Double.BYTES;
    /** The stateless instance. */
    public static final DoubleCodec INSTANCE = new DoubleCodec();

    private DoubleCodec() {
    }

    @Override
    public Class<Double> type() {
        return Double.class;
    }

    @Override
    public int fixedLength() {
        return WIDTH;
    }

    @Override
    public int encode(Double value, MutableDirectBuffer buffer, int offset, int maxLength) {
        Objects.requireNonNull(value, "value");
        return encodeDouble(value, buffer, offset, maxLength);
    }

    /**
     * Encodes a primitive {@code double} without boxing.
     *
     * @param value     the value
     * @param buffer    the destination
     * @param offset    where the encoding starts
     * @param maxLength the most bytes the encoding may take
     * @return {@link #WIDTH}
     * @throws EncodingTooLargeException if {@code maxLength < 8}
     */
    public int encodeDouble(double value, MutableDirectBuffer buffer, int offset, int maxLength) {
        FixedWidth.checkRoom(Double.class, WIDTH, maxLength);
        buffer.putLong(offset, Double.doubleToLongBits(value), ByteOrder.LITTLE_ENDIAN);
        return WIDTH;
    }

    @Override
    public Double decode(DirectBuffer buffer, int offset, int length) {
        return decodeDouble(buffer, offset, length);
    }

    /**
     * Decodes a primitive {@code double} without boxing.
     *
     * @param buffer the source
     * @param offset where the encoding starts
     * @param length the region length; must be 8
     * @return the value
     * @throws CodecException if {@code length != 8}
     */
    public double decodeDouble(DirectBuffer buffer, int offset, int length) {
        FixedWidth.checkRegion(Double.class, WIDTH, buffer, offset, length);
        return Double.longBitsToDouble(buffer.getLong(offset, ByteOrder.LITTLE_ENDIAN));
    }

    @Override
    public String toString() {
        return "DoubleCodec";
    }
}
