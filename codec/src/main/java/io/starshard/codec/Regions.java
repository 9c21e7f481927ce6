package io.starshard.codec;

import org.agrona.DirectBuffer;

/** Bounds check for decode regions, so that no codec reads outside the buffer it was handed. */
final class Regions {
    private Regions() {
    }

    /**
     * Throws {@link IndexOutOfBoundsException} unless {@code [offset, offset + length)} lies inside the buffer.
     * A region outside its buffer is a caller bug, not a corrupted encoding, hence not a {@link CodecException}.
     */
    static void check(DirectBuffer buffer, int offset, int length) {
        if (offset < 0 || length < 0 || (long) offset + length > buffer.capacity()) {
            throw new IndexOutOfBoundsException("region [" + offset + ", " + ((long) offset + length)
                + ") is outside the buffer of capacity " + buffer.capacity());
        }
    }
}
