package io.starshard.codec;

import static io.starshard.codec.CodecTesting.SENTINEL;
import static io.starshard.codec.CodecTesting.scaled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.esotericsoftware.kryo.KryoException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/**
 * Truncated and corrupted regions: decode returns a valid value or throws {@link CodecException}, nothing else,
 * and never reads outside the region.
 *
 * <p>Overreads are caught two ways. Each region is decoded from buffers of exactly its size (heap and native), so
 * a read past the end throws from Agrona's bounds check; and from a buffer where the region sits between sentinel
 * bytes (and one whose backing array continues past the region), so a codec that reads the backing array directly
 * would see different bytes. All placements must give the same outcome.
 */
class CorruptionTest {

    record Point(int x, int y) {
    }

    record Sample(String name, int n, long id, List<String> tags, Map<String, Integer> counts, Point point,
                  int[] ints, String[] names, Object[] objects, long[] longs) {
    }

    enum Shade { LIGHT, DARK, NONE }

    /** JDK immutable collections: plain counts (final element types) and flagged ones (Object elements). */
    record Catalog(List<String> names, Set<Integer> ids, Map<String, Shade> shades, List<Object> mixed,
                   Map<Object, Object> anyMap) {
    }

    private static KryoCodec<Catalog> catalogCodec(boolean checksum) {
        return KryoCodec.builder(Catalog.class).registerJdkImmutableCollections().register(Shade.class)
            .checksum(checksum).build();
    }

    private static Catalog catalog(Random random) {
        final List<String> names = new ArrayList<>();
        final Map<String, Shade> shades = new HashMap<>();
        for (int i = random.nextInt(4); i > 0; i--) {
            final String name = CodecTesting.randomAscii(random, 4);
            names.add(name);
            shades.put(name, Shade.values()[random.nextInt(3)]);
        }
        final Set<Integer> ids = new HashSet<>();
        for (int i = random.nextInt(4); i > 0; i--) {
            ids.add(random.nextInt());
        }
        final List<Object> mixed = new ArrayList<>();
        for (int i = random.nextInt(4); i > 0; i--) {
            mixed.add(switch (random.nextInt(3)) {
                case 0 -> random.nextLong();
                case 1 -> Shade.values()[random.nextInt(3)];
                default -> CodecTesting.randomString(random, 3);
            });
        }
        final Map<Object, Object> anyMap = random.nextBoolean() ? Map.of()
            : Map.of(random.nextInt(), List.copyOf(mixed));
        return new Catalog(List.copyOf(names), Set.copyOf(ids), Map.copyOf(shades), List.copyOf(mixed), anyMap);
    }

    /** One codec under test, with a generator of values and whether its format is canonical. */
    private record Case(String name, Codec<Object> codec, Function<Random, Object> values, boolean canonical) {
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Case of(String name, Codec<?> codec, Function<Random, Object> values, boolean canonical) {
        return new Case(name, (Codec) codec, values, canonical);
    }

    private static KryoCodec<Sample> sampleCodec(boolean checksum) {
        return KryoCodec.builder(Sample.class).register(ArrayList.class).register(HashMap.class)
            .register(Point.class).register(int[].class).register(String[].class).register(Object[].class)
            .register(long[].class).checksum(checksum).build();
    }

    private static Sample sample(Random random) {
        final List<String> tags = new ArrayList<>();
        for (int i = random.nextInt(4); i > 0; i--) {
            tags.add(CodecTesting.randomString(random, 5));
        }
        final Map<String, Integer> counts = new HashMap<>();
        for (int i = random.nextInt(3); i > 0; i--) {
            counts.put(CodecTesting.randomAscii(random, 3), random.nextInt());
        }
        final int[] ints = new int[random.nextInt(4)];
        Arrays.setAll(ints, i -> random.nextInt());
        final String[] names = new String[random.nextInt(3)];
        Arrays.setAll(names, i -> CodecTesting.randomString(random, 4));
        final Object[] objects = {random.nextInt(), CodecTesting.randomAscii(random, 3)};
        final long[] longs = new long[random.nextInt(3)];
        Arrays.setAll(longs, i -> random.nextLong());
        return new Sample(CodecTesting.randomString(random, 12), random.nextInt(), random.nextLong(), tags, counts,
            random.nextBoolean() ? new Point(random.nextInt(), random.nextInt()) : null, ints, names, objects, longs);
    }

    private static List<Case> cases() {
        return List.of(
            of("Long", LongCodec.INSTANCE, Random::nextLong, true),
            of("Integer", IntegerCodec.INSTANCE, Random::nextInt, true),
            of("Double", DoubleCodec.INSTANCE, r -> Double.longBitsToDouble(r.nextLong()), true),
            of("String", StringCodec.INSTANCE, r -> CodecTesting.randomString(r, 20), true),
            of("String ASCII", StringCodec.INSTANCE, r -> CodecTesting.randomAscii(r, 20), true),
            of("byte[]", ByteArrayCodec.INSTANCE, r -> {
                final byte[] b = new byte[r.nextInt(20)];
                r.nextBytes(b);
                return b;
            }, true),
            of("Kryo record, CRC", sampleCodec(true), CorruptionTest::sample, false),
            of("Kryo record, no CRC", sampleCodec(false), CorruptionTest::sample, false),
            of("Kryo record, references, no CRC", KryoCodec.builder(Sample.class).register(ArrayList.class)
                .register(HashMap.class).register(Point.class).register(int[].class).register(String[].class)
                .register(Object[].class).register(long[].class).references(true).checksum(false).build(),
                CorruptionTest::sample, false),
            of("Kryo immutable collections, CRC", catalogCodec(true), CorruptionTest::catalog, false),
            of("Kryo immutable collections, no CRC", catalogCodec(false), CorruptionTest::catalog, false),
            of("Kryo String, no CRC", KryoCodec.builder(String.class).checksum(false).build(),
                r -> CodecTesting.randomString(r, 30), false),
            of("Kryo ArrayList, no CRC", KryoCodec.builder(ArrayList.class).checksum(false).build(), r -> {
                final ArrayList<Object> list = new ArrayList<>();
                for (int i = r.nextInt(5); i > 0; i--) {
                    list.add(r.nextBoolean() ? (Object) r.nextLong() : CodecTesting.randomString(r, 4));
                }
                return list;
            }, false));
    }

    @Test
    void truncatedAndCorruptedRegionsDecodeToAValidValueOrThrowCodecException() {
        final long seed = CodecTesting.seed();
        final Random random = new Random(seed);
        final Placements placements = new Placements();
        for (Case c : cases()) {
            for (int v = 0; v < scaled(12); v++) {
                final Object value = c.values.apply(random);
                final Object encodable = value;
                final byte[] encoded = CodecTesting.encode(c.codec, encodable);
                final String ctx = "seed " + seed + ", " + c.name + ", value " + RoundTripAssertions.show(encodable);
                // The intact region decodes to the value from every placement.
                final byte[] intact = placements.decodeEverywhere(c, encoded, ctx);
                assertNotNull(intact, ctx + ": the intact encoding must decode");
                if (c.canonical) {
                    assertArrayEquals(encoded, intact, ctx);
                }
                for (int length = 0; length < encoded.length; length++) {
                    placements.decodeEverywhere(c, Arrays.copyOf(encoded, length), ctx + ", truncated to " + length);
                }
                for (int m = 0; m < scaled(60); m++) {
                    final byte[] corrupt = mutate(encoded, random);
                    placements.decodeEverywhere(c, corrupt, ctx + ", corrupted to " + Arrays.toString(corrupt));
                }
            }
        }
    }

    private static byte[] mutate(byte[] encoded, Random random) {
        byte[] bytes = encoded.clone();
        switch (random.nextInt(4)) {
            case 0 -> {                                                // one bit
                if (bytes.length > 0) {
                    bytes[random.nextInt(bytes.length)] ^= (byte) (1 << random.nextInt(8));
                }
            }
            case 1 -> {                                                // a few random bytes
                for (int i = 1 + random.nextInt(3); i > 0 && bytes.length > 0; i--) {
                    bytes[random.nextInt(bytes.length)] = (byte) random.nextInt(256);
                }
            }
            case 2 -> {                                                // a byte that looks like a huge length
                if (bytes.length > 0) {
                    bytes[random.nextInt(bytes.length)] = (byte) (0x80 | random.nextInt(128));
                }
            }
            default -> {                                               // trailing garbage
                bytes = Arrays.copyOf(bytes, bytes.length + 1 + random.nextInt(3));
                for (int i = encoded.length; i < bytes.length; i++) {
                    bytes[i] = (byte) random.nextInt(256);
                }
            }
        }
        return bytes;
    }

    /** The buffers a region is placed in; direct buffers of each exact size are reused. */
    private static final class Placements {
        private final Map<Integer, UnsafeBuffer> direct = new HashMap<>();

        /**
         * Decodes {@code region} from every placement and checks they agree.
         *
         * @return the re-encoding of the decoded value, or null if every placement threw {@link CodecException}
         */
        byte[] decodeEverywhere(Case c, byte[] region, String ctx) {
            final int n = region.length;
            final Outcome exactHeap = outcome(c, new UnsafeBuffer(region.clone()), 0, n, ctx + " [exact heap]");
            final UnsafeBuffer exactDirect = direct.computeIfAbsent(n, k -> new UnsafeBuffer(ByteBuffer.allocateDirect(k)));
            exactDirect.putBytes(0, region);
            final Outcome fromDirect = outcome(c, exactDirect, 0, n, ctx + " [exact direct]");
            // Region between sentinels inside one buffer.
            final UnsafeBuffer padded = new UnsafeBuffer(new byte[n + 32]);
            padded.setMemory(0, n + 32, SENTINEL);
            padded.putBytes(16, region);
            final Outcome fromPadded = outcome(c, padded, 16, n, ctx + " [padded]");
            // Region at the very end of a buffer view whose backing array goes on with other bytes.
            final byte[] array = new byte[7 + n + 9];
            Arrays.fill(array, (byte) 0xFF);
            System.arraycopy(region, 0, array, 7, n);
            final Outcome fromView = outcome(c, new UnsafeBuffer(array, 3, 4 + n), 4, n, ctx + " [view end]");
            // Region at the very end of a buffer of exactly its extent.
            final UnsafeBuffer atEnd = new UnsafeBuffer(new byte[5 + n]);
            atEnd.setMemory(0, 5, SENTINEL);
            atEnd.putBytes(5, region);
            final Outcome fromEnd = outcome(c, atEnd, 5, n, ctx + " [at end]");
            assertSameOutcome(exactHeap, fromDirect, ctx + ": heap vs direct");
            assertSameOutcome(exactHeap, fromPadded, ctx + ": exact vs padded (read outside the region?)");
            assertSameOutcome(exactHeap, fromView, ctx + ": exact vs view (read outside the region?)");
            assertSameOutcome(exactHeap, fromEnd, ctx + ": exact vs at end");
            return exactHeap.reencoded;
        }

        /**
         * Same value, or the same kind of failure: the exception chain's classes. A placement that read outside
         * the region would decode something else, or fail differently (e.g. an index out of bounds at the end of
         * the backing array). Kryo's own exceptions count as one kind: whether Kryo calls a short region "buffer
         * underflow" or "buffer too small" depends on the backing array's size, not on the bytes it read.
         */
        private static void assertSameOutcome(Outcome expected, Outcome actual, String ctx) {
            assertEquals(expected.failure, actual.failure, ctx);
            if (expected.reencoded != null) {
                assertArrayEquals(expected.reencoded, actual.reencoded, ctx);
            }
        }

        private static String chain(Throwable e) {
            final StringBuilder sb = new StringBuilder();
            for (Throwable t = e; t != null; t = t.getCause()) {
                sb.append(t instanceof KryoException ? "KryoException" : t.getClass().getName()).append(" <- ");
            }
            return sb.toString();
        }

        private static Outcome outcome(Case c, DirectBuffer buffer, int offset, int length, String ctx) {
            final Object value;
            try {
                value = c.codec.decode(buffer, offset, length);
            } catch (CodecException e) {
                return new Outcome(null, chain(e));
            } catch (Throwable t) {
                throw new AssertionError(ctx + ": decode must return a value or throw CodecException, threw " + t, t);
            }
            assertNotNull(value, ctx + ": decode returned null");
            assertTrue(c.codec.type().isInstance(value), ctx + ": decoded a " + value.getClass());
            final byte[] reencoded = CodecTesting.encode(c.codec, value);
            if (c.canonical) {
                final byte[] region = CodecTesting.copy(buffer, offset, length);
                assertArrayEquals(region, reencoded, ctx + ": a decoded value must be the one this region encodes");
            }
            return new Outcome(reencoded, null);
        }
    }

    /** A decode's result: the decoded value re-encoded, or the failure's exception chain. */
    private record Outcome(byte[] reencoded, String failure) {
    }

    // ---- Targeted corruptions of Kryo without its checksum: lengths that would allocate gigabytes, bad UTF-8.

    private static final int HUGE = Integer.MAX_VALUE - 16;

    /** Replaces the first length varint of a no-CRC Kryo encoding (right after a one-byte class id). */
    private static byte[] withHugeLength(byte[] encoded, int lengthBytes, byte[] replacement) {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(encoded[0]);
        out.writeBytes(replacement);
        out.write(encoded, 1 + lengthBytes, encoded.length - 1 - lengthBytes);
        return out.toByteArray();
    }

    private static byte[] varint(int value) {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        int v = value;
        while ((v & ~0x7F) != 0) {
            out.write((v & 0x7F) | 0x80);
            v >>>= 7;
        }
        out.write(v);
        return out.toByteArray();
    }

    /** Kryo's flagged varint: bit 7 the flag, bit 6 "more bytes follow", the low 6 bits, then 7-bit groups. */
    private static byte[] flaggedVarint(boolean flag, int value) {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final int more = (value >>> 6) != 0 ? 0x40 : 0;
        out.write((flag ? 0x80 : 0) | more | (value & 0x3F));
        if (more != 0) {
            out.writeBytes(varint(value >>> 6));
        }
        return out.toByteArray();
    }

    private static <T> void assertHugeLengthRejected(KryoCodec<T> codec, T value) {
        assertHugeLengthRejected(codec, value, varint(HUGE));
    }

    /** Replaces the one-byte count after the class id with {@code hugeCount}; decoding must not allocate for it. */
    private static <T> void assertHugeLengthRejected(KryoCodec<T> codec, T value, byte[] hugeCount) {
        final byte[] encoded = CodecTesting.encode(codec, value);
        final byte[] corrupt = withHugeLength(encoded, 1, hugeCount);
        for (CodecTesting.Kind kind : CodecTesting.Kind.values()) {
            final CodecException e = assertThrows(CodecException.class,
                () -> codec.decode(kind.holding(corrupt), 0, corrupt.length),
                codec + ": a corrupted length must not allocate, or throw anything but CodecException");
            assertTrue(String.valueOf(e.getMessage()).contains("exceeds the"),
                codec + ": the count check, not a later failure, must reject the length: " + e.getMessage());
        }
    }

    @Test
    void hugeCollectionMapAndArrayLengthsWithoutChecksumThrowCodecException() {
        final ArrayList<String> list = new ArrayList<>(List.of("a", "b"));
        assertHugeLengthRejected(KryoCodec.builder(ArrayList.class).checksum(false).build(), list);
        final HashMap<String, String> map = new HashMap<>(Map.of("k", "v"));
        assertHugeLengthRejected(KryoCodec.builder(HashMap.class).checksum(false).build(), map);
        assertHugeLengthRejected(KryoCodec.builder(Object[].class).checksum(false).build(), new Object[] {"x", 1});
        assertHugeLengthRejected(KryoCodec.builder(String[].class).checksum(false).build(), new String[] {"x", "y"});
        assertHugeLengthRejected(KryoCodec.builder(int[].class).checksum(false).build(), new int[] {1, 2});
        assertHugeLengthRejected(KryoCodec.builder(long[].class).checksum(false).build(), new long[] {1, 2});
        assertHugeLengthRejected(KryoCodec.builder(byte[].class).checksum(false).build(), new byte[] {1, 2});
        assertHugeLengthRejected(KryoCodec.builder(java.util.PriorityQueue.class).checksum(false).build(),
            new java.util.PriorityQueue<>(List.of(1, 2)));
    }

    @Test
    void hugeCountsOfJdkImmutableCollectionsAndArraysAsListWithoutChecksumThrowCodecException() {
        // List.of, Set.of and Arrays.asList are written by Kryo's collection serializer: at the top level (no
        // generic element type) their count is a flagged varint, the flag saying whether all elements share a class.
        for (boolean sameClass : new boolean[] {true, false}) {
            final byte[] huge = flaggedVarint(sameClass, HUGE);
            assertHugeLengthRejected(withoutChecksum(List.of("a", "b").getClass()), List.of("a", "b"), huge);
            assertHugeLengthRejected(withoutChecksum(List.of("a", "b", "c").getClass()), List.of("a", "b", "c"), huge);
            assertHugeLengthRejected(withoutChecksum(Set.of("a", "b").getClass()), Set.of("a", "b"), huge);
            assertHugeLengthRejected(withoutChecksum(Arrays.asList().getClass()), Arrays.asList("a", "b"), huge);
        }
        // Maps write a plain varint count.
        assertHugeLengthRejected(withoutChecksum(Map.of("k", "v").getClass()), Map.of("k", "v"), varint(HUGE));
        assertHugeLengthRejected(withoutChecksum(Map.of("k", "v", "l", "w").getClass()), Map.of("k", "v", "l", "w"),
            varint(HUGE));
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static KryoCodec<Object> withoutChecksum(Class<?> type) {
        return (KryoCodec) KryoCodec.builder(type).checksum(false).build();
    }

    @Test
    void hugeStringLengthWithoutChecksumThrowsCodecException() {
        final KryoCodec<String> codec = KryoCodec.builder(String.class).checksum(false).build();
        final byte[] encoded = CodecTesting.encode(codec, "é!");
        assertEquals((byte) 0x83, encoded[1], "Kryo's UTF-8 string header: flag bit, char count + 1");
        // Kryo's flagged varint: 0x80 = UTF-8 flag, 0x40 = more bytes follow, low 6 bits, then 7-bit groups.
        final ByteArrayOutputStream header = new ByteArrayOutputStream();
        header.write(0x80 | 0x40 | (HUGE & 0x3F));
        header.writeBytes(varint(HUGE >>> 6));
        final byte[] corrupt = withHugeLength(encoded, 1, header.toByteArray());
        assertThrows(CodecException.class, () -> codec.decode(new UnsafeBuffer(corrupt), 0, corrupt.length));
    }

    @Test
    void corruptedUtf8InKryoStringsIsRejectedInsteadOfReturningStaleCharacters() {
        final KryoCodec<String> codec = KryoCodec.builder(String.class).checksum(false).build();
        // Fill this thread's Kryo char scratch with a previous, different value.
        final byte[] previous = CodecTesting.encode(codec, "Qé");
        assertEquals("Qé", codec.decode(new UnsafeBuffer(previous), 0, previous.length));
        // "éx" is C3 A9 78; rewrite the characters to 85 C3 A9: a stray continuation byte, then "é". Same byte count
        // and char count, so only the UTF-8 reader can notice.
        final byte[] encoded = CodecTesting.encode(codec, "éx");
        final int at = indexOf(encoded, new byte[] {(byte) 0xC3, (byte) 0xA9, 0x78});
        assertTrue(at > 0);
        encoded[at] = (byte) 0x85;
        encoded[at + 1] = (byte) 0xC3;
        encoded[at + 2] = (byte) 0xA9;
        final CodecException e = assertThrows(CodecException.class,
            () -> codec.decode(new UnsafeBuffer(encoded), 0, encoded.length),
            "a corrupted string must not decode to characters of an earlier value");
        assertNotNull(e.getMessage());
        // Invalid lead byte 0xF8 and a bad continuation byte.
        final byte[] bad = CodecTesting.encode(codec, "éx");
        bad[at] = (byte) 0xF8;
        assertThrows(CodecException.class, () -> codec.decode(new UnsafeBuffer(bad), 0, bad.length));
        final byte[] badContinuation = CodecTesting.encode(codec, "éx");
        badContinuation[at + 1] = 0x41;
        assertThrows(CodecException.class,
            () -> codec.decode(new UnsafeBuffer(badContinuation), 0, badContinuation.length));
    }

    @Test
    void kryoStringsStillRoundTripThroughTheGuardedReader() {
        final KryoCodec<String> codec = KryoCodec.builder(String.class).checksum(false).build();
        final long seed = CodecTesting.seed();
        final Random random = new Random(seed);
        for (String s : new String[] {"", "a", "ascii", "é", "\u0000", "\u07ff\u0800\uffff", "😀", "x".repeat(300),
            "é".repeat(200)}) {
            RoundTripAssertions.assertRoundTrip(codec, s, null, RoundTripAssertions.show(s));
        }
        for (int i = 0; i < scaled(200); i++) {
            final String s = CodecTesting.randomString(random, 40);
            RoundTripAssertions.assertRoundTrip(codec, s, null, "seed " + seed + ", " + RoundTripAssertions.show(s));
        }
        // Unpaired surrogates are legal in Java strings and Kryo writes them char by char: they round-trip.
        RoundTripAssertions.assertRoundTrip(codec, "a\ud800b\udc00", null, "unpaired surrogates through Kryo");
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int k = 0; k < needle.length; k++) {
                if (haystack[i + k] != needle[k]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Test
    void checksummedKryoRejectsEverySingleBitFlip() {
        final KryoCodec<Sample> codec = sampleCodec(true);
        final byte[] encoded = CodecTesting.encode(codec, sample(new Random(42)));
        for (int i = 0; i < encoded.length; i++) {
            for (int bit = 0; bit < 8; bit++) {
                final byte[] corrupt = encoded.clone();
                corrupt[i] ^= (byte) (1 << bit);
                try {
                    codec.decode(new UnsafeBuffer(corrupt), 0, corrupt.length);
                    fail("CRC-32C detects every single-bit error; byte " + i + " bit " + bit + " went unnoticed");
                } catch (CodecException expected) {
                    // the documented outcome
                }
            }
        }
    }
}
