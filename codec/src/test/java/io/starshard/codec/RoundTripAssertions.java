package io.starshard.codec;

import static io.starshard.codec.CodecTesting.OFFSETS;
import static io.starshard.codec.CodecTesting.assertSentinelOutside;
import static io.starshard.codec.CodecTesting.copy;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.starshard.codec.CodecTesting.Kind;
import java.util.Objects;
import org.agrona.concurrent.UnsafeBuffer;

/** The round-trip property every codec must have, checked on every buffer kind and several offsets. */
final class RoundTripAssertions {
    private RoundTripAssertions() {
    }

    /**
     * Encodes {@code value} at every offset into every buffer kind, with room to spare and with exactly the room
     * it needs; checks the length, that nothing outside the region was written, that every encoding is
     * byte-identical, and that it decodes to an equal value (also into a reusable instance when given).
     * Then checks that one byte less of room throws {@link EncodingTooLargeException} before writing anything.
     *
     * @return the encoding
     */
    static <T> byte[] assertRoundTrip(Codec<T> codec, T value, T reuse, String context) {
        byte[] reference = null;
        for (Kind kind : Kind.values()) {
            for (int offset : OFFSETS) {
                for (int slack : new int[] {64, 0}) {
                    final String where = context + " [" + kind + ", offset " + offset + ", slack " + slack + "]";
                    final int room = reference == null ? 1 << 16 : reference.length + slack;
                    final UnsafeBuffer buffer = kind.sentinelFilled(offset + room + 16);
                    final int length = codec.encode(value, buffer, offset, room);
                    assertTrue(length >= 0 && length <= room, where + ": length " + length);
                    if (codec.isFixedLength()) {
                        assertEquals(codec.fixedLength(), length, where + ": fixed length");
                    }
                    assertSentinelOutside(buffer, offset, offset + length, where);
                    final byte[] bytes = copy(buffer, offset, length);
                    if (reference == null) {
                        reference = bytes;
                    } else {
                        assertArrayEquals(reference, bytes, where + ": encodings of one value differ");
                    }
                    assertSameValue(value, codec.decode(buffer, offset, length), where + ": decode");
                    if (reuse != null) {
                        final T decoded = codec.decode(buffer, offset, length, reuse);
                        assertSameValue(value, decoded, where + ": decode into reusable instance");
                    }
                    assertSameValue(value, codec.decode(buffer, offset, length, null), where + ": decode(null reuse)");
                }
            }
        }
        assertTooLargeLeavesBufferUntouched(codec, value, reference.length - 1, context);
        return reference;
    }

    /** {@code maxLength} below the encoding's length must throw before any byte is written. */
    static <T> void assertTooLargeLeavesBufferUntouched(Codec<T> codec, T value, int maxLength, String context) {
        if (maxLength < 0) {
            return;
        }
        for (Kind kind : Kind.values()) {
            for (int offset : OFFSETS) {
                final String where = context + " [" + kind + ", offset " + offset + ", maxLength " + maxLength + "]";
                final UnsafeBuffer buffer = kind.sentinelFilled(offset + maxLength + 32);
                final EncodingTooLargeException e = assertThrows(EncodingTooLargeException.class,
                    () -> codec.encode(value, buffer, offset, maxLength), where);
                assertEquals(maxLength, e.limitBytes(), where + ": limitBytes");
                assertTrue(e.requiredBytes() == EncodingTooLargeException.UNKNOWN_LENGTH
                    || e.requiredBytes() > maxLength, where + ": requiredBytes " + e.requiredBytes());
                assertTrue(e.getMessage().contains("maximum entry size"), where + ": message says what to do");
                assertSentinelOutside(buffer, 0, 0, where + ": nothing may be written before throwing");
            }
        }
    }

    static void assertSameValue(Object expected, Object actual, String context) {
        if (expected instanceof Double && actual instanceof Double) {
            // Double.equals compares doubleToLongBits: all NaNs equal, 0.0 != -0.0 — exactly the codec's contract.
            assertEquals(expected, actual, context);
            return;
        }
        assertTrue(Objects.deepEquals(expected, actual), () -> context + ": expected " + show(expected) + " but got "
            + show(actual));
    }

    static String show(Object o) {
        if (o instanceof byte[] b) {
            return java.util.Arrays.toString(b);
        }
        if (o instanceof String s) {
            return '"' + s + "\" " + s.codePoints().mapToObj(Integer::toHexString).toList();
        }
        return String.valueOf(o);
    }
}
