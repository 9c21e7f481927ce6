package io.starshard.codec;

import org.agrona.DirectBuffer;

/** Shared argument checks of the fixed-width built-in codecs; kept out of their hot methods' bodies. */
final class FixedWidth {
    private FixedWidth() {
    }

    /** Throws unless the value may take {@code width} bytes. */
    static void checkRoom(Class<?> type, int width, int maxLength) {
        if (maxLength < width) {
            throw new EncodingTooLargeException(type, maxLength, width);
        }
    }

    /** Throws unless {@code [offset, offset + length)} is an encoding of exactly {@code width} bytes inside the buffer. */
    static void checkRegion(Class<?> type, int width, DirectBuffer buffer, int offset, int length) {
        if (length != width) {
            throw new CodecException("a " + type.getSimpleName() + " encoding is exactly " + width
                + " bytes, the region has " + length);
        }
        Regions.check(buffer, offset, length);
    }
}
