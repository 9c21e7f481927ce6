package io.starshard.codec;

import static io.starshard.codec.CodecTesting.assertSentinelOutside;
import static io.starshard.codec.CodecTesting.scaled;
import static io.starshard.codec.RoundTripAssertions.assertRoundTrip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.starshard.codec.CodecTesting.Kind;
import java.nio.ByteOrder;
import java.util.Random;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** Round trips of the fixed-width built-ins and {@code byte[]} over random and edge values. */
class BuiltInCodecsTest {

    @Test
    void longRoundTripsRandomAndEdgeValues() {
        final long seed = CodecTesting.seed();
        final Random random = new Random(seed);
        final long[] edges = {0, 1, -1, Long.MIN_VALUE, Long.MAX_VALUE, Integer.MIN_VALUE, Integer.MAX_VALUE};
        for (long v : edges) {
            assertRoundTrip(LongCodec.INSTANCE, v, null, "long " + v);
        }
        for (int i = 0; i < scaled(200); i++) {
            final long v = random.nextLong();
            final String ctx = "seed " + seed + ", long " + v;
            assertRoundTrip(LongCodec.INSTANCE, v, null, ctx);
            assertPrimitiveLong(v, ctx);
        }
    }

    private static void assertPrimitiveLong(long v, String ctx) {
        final UnsafeBuffer buffer = Kind.DIRECT.sentinelFilled(20);
        assertEquals(8, LongCodec.INSTANCE.encodeLong(v, buffer, 3, 8), ctx);
        assertEquals(v, buffer.getLong(3, ByteOrder.LITTLE_ENDIAN), ctx + ": documented little-endian layout");
        assertEquals(v, LongCodec.INSTANCE.decodeLong(buffer, 3, 8), ctx);
        assertSentinelOutside(buffer, 3, 11, ctx);
    }

    @Test
    void integerRoundTripsRandomAndEdgeValues() {
        final long seed = CodecTesting.seed();
        final Random random = new Random(seed);
        for (int v : new int[] {0, 1, -1, Integer.MIN_VALUE, Integer.MAX_VALUE}) {
            assertRoundTrip(IntegerCodec.INSTANCE, v, null, "int " + v);
        }
        for (int i = 0; i < scaled(200); i++) {
            final int v = random.nextInt();
            final String ctx = "seed " + seed + ", int " + v;
            assertRoundTrip(IntegerCodec.INSTANCE, v, null, ctx);
            final UnsafeBuffer buffer = Kind.HEAP_SLICE.sentinelFilled(9);
            assertEquals(4, IntegerCodec.INSTANCE.encodeInt(v, buffer, 5, 4), ctx);
            assertEquals(v, buffer.getInt(5, ByteOrder.LITTLE_ENDIAN), ctx + ": little-endian");
            assertEquals(v, IntegerCodec.INSTANCE.decodeInt(buffer, 5, 4), ctx);
        }
    }

    @Test
    void doubleRoundTripsRandomAndEdgeValues() {
        final long seed = CodecTesting.seed();
        final Random random = new Random(seed);
        final double[] edges = {0.0, -0.0, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY,
            Double.MIN_VALUE, -Double.MIN_VALUE, Double.MAX_VALUE, Double.MIN_NORMAL, 1.0 / 3};
        for (double v : edges) {
            assertRoundTrip(DoubleCodec.INSTANCE, v, null, "double " + v);
        }
        for (int i = 0; i < scaled(200); i++) {
            final double v = Double.longBitsToDouble(random.nextLong());
            final String ctx = "seed " + seed + ", double bits " + Long.toHexString(Double.doubleToRawLongBits(v));
            if (!Double.isNaN(v)) {
                assertRoundTrip(DoubleCodec.INSTANCE, v, null, ctx);
            }
            final UnsafeBuffer buffer = Kind.HEAP.sentinelFilled(8);
            DoubleCodec.INSTANCE.encodeDouble(v, buffer, 0, 8);
            assertEquals(Double.doubleToLongBits(v), Double.doubleToRawLongBits(
                DoubleCodec.INSTANCE.decodeDouble(buffer, 0, 8)), ctx);
        }
    }

    @Test
    void negativeZeroKeepsItsSignAndDiffersFromZero() {
        final byte[] zero = CodecTesting.encode(DoubleCodec.INSTANCE, 0.0);
        final byte[] negativeZero = CodecTesting.encode(DoubleCodec.INSTANCE, -0.0);
        assertTrue(!java.util.Arrays.equals(zero, negativeZero), "0.0 and -0.0 are not equal, so encode differently");
        final double decoded = DoubleCodec.INSTANCE.decodeDouble(new UnsafeBuffer(negativeZero), 0, 8);
        assertEquals(Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits(decoded));
    }

    @Test
    void everyNaNEncodesAsTheCanonicalNaN() {
        final byte[] canonical = CodecTesting.encode(DoubleCodec.INSTANCE, Double.NaN);
        assertEquals(0x7ff8000000000000L, new UnsafeBuffer(canonical).getLong(0, ByteOrder.LITTLE_ENDIAN));
        final long[] payloads = {0x7ff0000000000001L, 0x7ff8000000000001L, 0xfff8000000000000L, 0xffffffffffffffffL,
            0x7fffffffffffffffL, 0x7ff4000000000000L};
        for (long bits : payloads) {
            final double nan = Double.longBitsToDouble(bits);
            assertTrue(Double.isNaN(nan));
            assertArrayEquals(canonical, CodecTesting.encode(DoubleCodec.INSTANCE, nan),
                "NaN with bits " + Long.toHexString(bits) + " must encode like Double.NaN (equal values, equal bytes)");
        }
    }

    @Test
    void nonCanonicalNaNRegionIsRejectedAsCorrupt() {
        // The encoder never writes these bits, so a region holding them is corrupted or foreign (documented).
        for (long bits : new long[] {0x7ff0000000000001L, 0xfff8000000000000L, 0x7ff8000000000001L}) {
            final UnsafeBuffer buffer = new UnsafeBuffer(new byte[8]);
            buffer.putLong(0, bits, ByteOrder.LITTLE_ENDIAN);
            assertThrows(CodecException.class, () -> DoubleCodec.INSTANCE.decode(buffer, 0, 8),
                "bits " + Long.toHexString(bits));
            assertThrows(CodecException.class, () -> DoubleCodec.INSTANCE.decodeDouble(buffer, 0, 8));
        }
    }

    @Test
    void fixedWidthCodecsRejectRegionsOfTheWrongLength() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[16]);
        for (int length : new int[] {0, 3, 7, 9, 16}) {
            assertThrows(CodecException.class, () -> LongCodec.INSTANCE.decode(buffer, 0, length));
            assertThrows(CodecException.class, () -> DoubleCodec.INSTANCE.decode(buffer, 0, length));
        }
        for (int length : new int[] {0, 3, 5, 8}) {
            assertThrows(CodecException.class, () -> IntegerCodec.INSTANCE.decode(buffer, 0, length));
        }
    }

    @Test
    void fixedWidthCodecsDeclareTheirWidth() {
        assertEquals(8, LongCodec.INSTANCE.fixedLength());
        assertEquals(4, IntegerCodec.INSTANCE.fixedLength());
        assertEquals(8, DoubleCodec.INSTANCE.fixedLength());
        assertTrue(LongCodec.INSTANCE.isFixedLength());
        assertEquals(Codec.VARIABLE_LENGTH, StringCodec.INSTANCE.fixedLength());
        assertEquals(Codec.VARIABLE_LENGTH, ByteArrayCodec.INSTANCE.fixedLength());
        assertEquals(Long.class, LongCodec.INSTANCE.type());
        assertEquals(Integer.class, IntegerCodec.INSTANCE.type());
        assertEquals(Double.class, DoubleCodec.INSTANCE.type());
        assertEquals(String.class, StringCodec.INSTANCE.type());
        assertEquals(byte[].class, ByteArrayCodec.INSTANCE.type());
    }

    @Test
    void byteArrayRoundTripsRandomAndEdgeValues() {
        final long seed = CodecTesting.seed();
        final Random random = new Random(seed);
        assertRoundTrip(ByteArrayCodec.INSTANCE, new byte[0], new byte[0], "empty array");
        for (int i = 0; i < scaled(100); i++) {
            final byte[] v = new byte[random.nextInt(i < 90 ? 40 : 3000)];
            random.nextBytes(v);
            assertRoundTrip(ByteArrayCodec.INSTANCE, v, new byte[v.length], "seed " + seed + ", length " + v.length);
        }
    }

    @Test
    void byteArrayAtExactlyTheMaximumSizeFitsAndOneByteMoreDoesNot() {
        final int max = 1000;
        final UnsafeBuffer buffer = Kind.DIRECT.sentinelFilled(max + 10);
        assertEquals(max, ByteArrayCodec.INSTANCE.encode(new byte[max], buffer, 5, max));
        assertSentinelOutside(buffer, 5, 5 + max, "exact fit");
        RoundTripAssertions.assertTooLargeLeavesBufferUntouched(ByteArrayCodec.INSTANCE, new byte[max + 1], max,
            "one byte over");
    }

    @Test
    void byteArrayDecodeIntoReusableArray() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[] {9, 1, 2, 3, 9});
        final byte[] reuse = new byte[3];
        assertSame(reuse, ByteArrayCodec.INSTANCE.decode(buffer, 1, 3, reuse), "same length: filled in place");
        assertArrayEquals(new byte[] {1, 2, 3}, reuse);
        final byte[] wrongLength = new byte[4];
        final byte[] fresh = ByteArrayCodec.INSTANCE.decode(buffer, 1, 3, wrongLength);
        assertNotSame(wrongLength, fresh);
        assertArrayEquals(new byte[] {1, 2, 3}, fresh);
        assertArrayEquals(new byte[4], wrongLength, "an array of another length is left alone");
    }

    @Test
    void regionsOutsideTheBufferAreCallerBugs() {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[8]);
        assertThrows(IndexOutOfBoundsException.class, () -> LongCodec.INSTANCE.decode(buffer, 1, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> ByteArrayCodec.INSTANCE.decode(buffer, 4, 5));
        assertThrows(IndexOutOfBoundsException.class, () -> StringCodec.INSTANCE.decode(buffer, -1, 2));
        assertThrows(IndexOutOfBoundsException.class,
            () -> ByteArrayCodec.INSTANCE.decode(buffer, 0, -1, new byte[0]));
    }
}
