package io.starshard.codec;

import java.util.Objects;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * {@code byte[]} as its own bytes, no header: the map stores each entry's length already.
 *
 * <p>Encoding is one bulk copy and never allocates. {@link #decode(DirectBuffer, int, int, byte[])} fills the
 * caller's array when its length matches, so a reader of fixed-size payloads can run allocation-free.
 */
public final class ByteArrayCodec implements Codec<byte[]> {
    /** The stateless instance. */
    public static final ByteArrayCodec INSTANCE = new ByteArrayCodec();

    private ByteArrayCodec() {
    }

    @Override
    public Class<byte[]> type() {
        return byte[].class;
    }

    @Override
    public int fixedLength() {
        return VARIABLE_LENGTH;
    }

    @Override
    public int encode(byte[] value, MutableDirectBuffer buffer, int offset, int maxLength) {
        Objects.requireNonNull(value, "value");
        if (value.length > maxLength) {
            throw new EncodingTooLargeException(byte[].class, maxLength, value.length);
        }
        buffer.putBytes(offset, value);
        return value.length;
    }

    @Override
    public byte[] decode(DirectBuffer buffer, int offset, int length) {
        Regions.check(buffer, offset, length);
        final byte[] value = new byte[length];
        buffer.getBytes(offset, value);
        return value;
    }

    /** Fills {@code reuse} when its length equals the region's; otherwise returns a new array. */
    @Override
    public byte[] decode(DirectBuffer buffer, int offset, int length, byte[] reuse) {
        if (reuse == null || reuse.length != length) {
            return decode(buffer, offset, length);
        }
        Regions.check(buffer, offset, length);
        buffer.getBytes(offset, reuse);
        return reuse;
    }

    @Override
    public String toString() {
        return "ByteArrayCodec";
    }
}
