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
 *
 * <p>Decoding accepts exactly the 2<sup>64</sup> - (2<sup>53</sup> - 2) bit patterns that encoding can produce: a
 * region holding a NaN other than the canonical {@code 0x7ff8000000000000L} was never written by this codec, so it
 * is reported as corrupted with a {@link CodecException} rather than read as a second, byte-different NaN key.
 */
public final class DoubleCodec implements Codec<Double> {
    /** Encoded length in bytes. */
    public static final int WIDTH = Double.BYTES;
    /** The stateless instance. */
    public static final DoubleCodec INSTANCE = new DoubleCodec();
    /** The bits of {@link Double#NaN}, the only NaN an encoding holds. */
    private static final long CANONICAL_NAN_BITS = 0x7ff8000000000000L;

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
     * @throws CodecException if {@code length != 8}, or the bits are a NaN other than the canonical one
     */
    public double decodeDouble(DirectBuffer buffer, int offset, int length) {
        FixedWidth.checkRegion(Double.class, WIDTH, buffer, offset, length);
        final long bits = buffer.getLong(offset, ByteOrder.LITTLE_ENDIAN);
        final double value = Double.longBitsToDouble(bits);
        if (value != value && bits != CANONICAL_NAN_BITS) {        // NaN, and not one encode writes
            throw nonCanonicalNaN(bits);
        }
        return value;
    }

    private static CodecException nonCanonicalNaN(long bits) {
        return new CodecException("a Double encoding holds only the canonical NaN 0x7ff8000000000000, the region "
            + "holds NaN bits 0x" + Long.toHexString(bits) + ": corrupted or not written by DoubleCodec");
    }

    @Override
    public String toString() {
        return "DoubleCodec";
    }
}
