package io.starshard.codec;

import static io.starshard.codec.CodecTesting.assertSentinelOutside;
import static io.starshard.codec.CodecTesting.scaled;
import static io.starshard.codec.RoundTripAssertions.assertRoundTrip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.starshard.codec.CodecTesting.Kind;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** {@link StringCodec}: strict UTF-8 with an ASCII fast path, checked against the JDK's strict UTF-8 coder. */
class StringCodecTest {
    private static final StringCodec CODEC = StringCodec.INSTANCE;

    @Test
    void edgeStringsRoundTripAndMatchTheJdkEncoding() {
        final String[] edges = {"", "a", "plain ascii", "\u0000", "\u007f", "\u0080", "é", "\u07ff", "\u0800",
            "\uffff", "\ufffd", "naïve café", "日本語テキスト", "\ud83d\ude00", "a\ud83d\ude00b", "\udbff\udfff",
            "\ud800\udc00", "mixed ascii then é then 😀 then ascii again", "x".repeat(5000),
            "é".repeat(3000)};
        for (String s : edges) {
            final byte[] encoded = assertRoundTrip(CODEC, s, null, RoundTripAssertions.show(s));
            assertArrayEquals(s.getBytes(StandardCharsets.UTF_8), encoded, "UTF-8 of " + RoundTripAssertions.show(s));
            assertEquals(encoded.length, StringCodec.utf8Length(s));
        }
    }

    @Test
    void randomStringsRoundTrip() {
        final long seed = CodecTesting.seed();
        final Random random = new Random(seed);
        for (int i = 0; i < scaled(150); i++) {
            final String s = i % 3 == 0 ? CodecTesting.randomAscii(random, 60) : CodecTesting.randomString(random, 60);
            final String ctx = "seed " + seed + ", string " + RoundTripAssertions.show(s);
            final byte[] encoded = assertRoundTrip(CODEC, s, null, ctx);
            assertArrayEquals(s.getBytes(StandardCharsets.UTF_8), encoded, ctx);
        }
    }

    @Test
    void unpairedSurrogatesAreRejectedNamingTheIndexAndNothingIsWritten() {
        // Documented: no UTF-8 encoding exists, and replacing with '?' would map two keys onto one encoding.
        final String[] bad = {"\ud800", "\udc00", "ab\ud800", "ab\ud800c", "ab\udc00\ud800", "é\ud83d", "\ude00\ud83d",
            "ascii prefix long enough \udfff"};
        for (String s : bad) {
            for (Kind kind : Kind.values()) {
                for (int maxLength : new int[] {s.length(), 1 << 10}) {
                    final UnsafeBuffer buffer = kind.sentinelFilled(maxLength + 8);
                    final CodecException e = assertThrows(CodecException.class,
                        () -> CODEC.encode(s, buffer, 3, maxLength), RoundTripAssertions.show(s));
                    assertTrue(e.getMessage().contains("unpaired surrogate at index"), e.getMessage());
                    assertTrue(!(e instanceof EncodingTooLargeException), "not a size problem");
                    assertSentinelOutside(buffer, 0, 0, RoundTripAssertions.show(s) + " [" + kind + "]");
                }
            }
            assertThrows(CodecException.class, () -> StringCodec.utf8Length(s));
        }
        final CodecException e = assertThrows(CodecException.class,
            () -> CODEC.encode("abc\udc00", new UnsafeBuffer(new byte[16]), 0, 16));
        assertTrue(e.getMessage().contains("index 3"), e.getMessage());
    }

    @Test
    void stringExactlyAtTheMaximumSizeFitsAndOneByteOverThrowsBeforeWriting() {
        // Pure ASCII, the fast path: 10 chars, 10 bytes.
        checkLimit("0123456789", 10);
        // ASCII prefix then a 2-byte char: 10 chars but 11 bytes, so the fast path must not have written its prefix.
        checkLimit("012345678é", 11);
        checkLimit("é012345678", 11);
        checkLimit("0123456😀", 11);
    }

    private static void checkLimit(String s, int utf8Bytes) {
        assertEquals(utf8Bytes, StringCodec.utf8Length(s));
        for (Kind kind : Kind.values()) {
            final UnsafeBuffer fits = kind.sentinelFilled(utf8Bytes + 4);
            assertEquals(utf8Bytes, CODEC.encode(s, fits, 2, utf8Bytes), s + " [" + kind + "]");
            assertSentinelOutside(fits, 2, 2 + utf8Bytes, s + " exact fit [" + kind + "]");
            for (int maxLength = 0; maxLength < utf8Bytes; maxLength++) {
                final UnsafeBuffer buffer = kind.sentinelFilled(utf8Bytes + 4);
                final int limit = maxLength;
                final EncodingTooLargeException e = assertThrows(EncodingTooLargeException.class,
                    () -> CODEC.encode(s, buffer, 2, limit), s + " maxLength " + limit);
                assertEquals(utf8Bytes, e.requiredBytes(), "the string codec knows the length it needs");
                assertEquals(limit, e.limitBytes());
                assertSentinelOutside(buffer, 0, 0, s + " maxLength " + limit + " [" + kind + "]: nothing written");
            }
        }
    }

    @Test
    void encodesIntoAnExpandableBuffer() {
        final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(4);
        for (String s : new String[] {"a long ascii string that outgrows the buffer", "é and 😀 outgrow it too"}) {
            final int length = CODEC.encode(s, buffer, 3, 1 << 10);
            assertEquals(s, CODEC.decode(buffer, 3, length));
        }
    }

    @Test
    void decodeRejectsMalformedUtf8() {
        final int[][] malformed = {
            {0x80}, {0xBF}, {0xC0, 0x80}, {0xC1, 0xBF}, {0xC3}, {0xC3, 0x41}, {0xE0, 0x80, 0x80}, {0xE0, 0x9F, 0xBF},
            {0xED, 0xA0, 0x80}, {0xED, 0xBF, 0xBF}, {0xE2, 0x82}, {0xF0, 0x80, 0x80, 0x80}, {0xF0, 0x8F, 0xBF, 0xBF},
            {0xF4, 0x90, 0x80, 0x80}, {0xF5, 0x80, 0x80, 0x80}, {0xFF}, {0xFE}, {0xF0, 0x9F, 0x98},
            {0x41, 0xE2, 0x82, 0x41}, {0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80},
        };
        for (int[] ints : malformed) {
            final byte[] bytes = new byte[ints.length];
            for (int i = 0; i < ints.length; i++) {
                bytes[i] = (byte) ints[i];
            }
            for (Kind kind : Kind.values()) {
                final UnsafeBuffer buffer = kind.holding(bytes);
                assertThrows(CodecException.class, () -> CODEC.decode(buffer, 0, bytes.length),
                    java.util.Arrays.toString(ints) + " [" + kind + "]");
            }
        }
    }

    @Test
    void decodeAgreesWithTheJdkStrictDecoderOnRandomBytes() {
        final long seed = CodecTesting.seed();
        final Random random = new Random(seed);
        for (int i = 0; i < scaled(3000); i++) {
            final byte[] bytes = new byte[random.nextInt(8)];
            for (int k = 0; k < bytes.length; k++) {
                // Bias towards the interesting bytes: lead bytes, continuations and ASCII.
                bytes[k] = (byte) (random.nextBoolean() ? 0x80 + random.nextInt(0x80) : random.nextInt(0x100));
            }
            final String ctx = "seed " + seed + ", bytes " + java.util.Arrays.toString(bytes);
            String expected;
            try {
                expected = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                expected = null;
            }
            try {
                final String actual = CODEC.decode(Kind.DIRECT.holding(bytes), 0, bytes.length);
                if (expected == null) {
                    fail(ctx + ": the JDK rejects it, the codec decoded " + RoundTripAssertions.show(actual));
                }
                assertEquals(expected, actual, ctx);
                assertArrayEquals(bytes, CodecTesting.encode(CODEC, actual), ctx + ": re-encodes to the same bytes");
            } catch (CodecException e) {
                if (expected != null) {
                    fail(ctx + ": the JDK accepts it as " + RoundTripAssertions.show(expected) + ", the codec threw " + e);
                }
            }
        }
    }

    @Test
    void asciiFastPathDecodesFromEveryBufferKind() {
        final byte[] ascii = "ascii only".getBytes(StandardCharsets.US_ASCII);
        for (Kind kind : Kind.values()) {
            assertEquals("ascii only", CODEC.decode(kind.holding(ascii), 0, ascii.length));
            assertEquals("only", CODEC.decode(kind.holding(ascii), 6, 4));
        }
    }
}
