package io.starshard.codec;

import static io.starshard.codec.RoundTripAssertions.assertRoundTrip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.LinkedList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** {@link Codecs#forClass}, and null arguments everywhere. */
class CodecsTest {

    record Money(long cents, String currency) {
    }

    @Test
    void builtInCodecsForKnownClassesAndTheirPrimitives() {
        assertSame(LongCodec.INSTANCE, Codecs.forClass(Long.class));
        assertSame(LongCodec.INSTANCE, Codecs.forClass(long.class));
        assertSame(IntegerCodec.INSTANCE, Codecs.forClass(Integer.class));
        assertSame(IntegerCodec.INSTANCE, Codecs.forClass(int.class));
        assertSame(DoubleCodec.INSTANCE, Codecs.forClass(Double.class));
        assertSame(DoubleCodec.INSTANCE, Codecs.forClass(double.class));
        assertSame(StringCodec.INSTANCE, Codecs.forClass(String.class));
        assertSame(ByteArrayCodec.INSTANCE, Codecs.forClass(byte[].class));
        for (Class<?> c : List.of(Long.class, long.class, Integer.class, int.class, Double.class, double.class,
            String.class, byte[].class)) {
            assertTrue(Codecs.isBuiltIn(c), c.getName());
        }
        assertFalse(Codecs.isBuiltIn(Money.class));
        assertFalse(Codecs.isBuiltIn(short.class));
    }

    @Test
    void kryoForOtherClasses() {
        final Codec<Money> codec = Codecs.forClass(Money.class);
        assertInstanceOf(KryoCodec.class, codec);
        assertEquals(Money.class, codec.type());
        assertRoundTrip(codec, new Money(-5, "EUR"), null, "record through forClass");
    }

    @Test
    void primitivesWithoutABuiltInCodecGetAWorkingKryoCodecOfTheirWrapper() {
        assertRoundTrip(Codecs.forClass(short.class), (short) -12345, null, "short");
        assertRoundTrip(Codecs.forClass(byte.class), (byte) -7, null, "byte");
        assertRoundTrip(Codecs.forClass(char.class), 'é', null, "char");
        assertRoundTrip(Codecs.forClass(boolean.class), true, null, "boolean");
        assertRoundTrip(Codecs.forClass(float.class), Float.MIN_VALUE, null, "float");
        assertRoundTrip(Codecs.forClass(Short.class), Short.MAX_VALUE, null, "Short");
        for (Class<?> c : List.of(short.class, byte.class, char.class, boolean.class, float.class)) {
            final Class<?> type = Codecs.forClass(c).type();
            assertFalse(type.isPrimitive(), c + ": Codec.type() is never a primitive class, got " + type);
        }
        assertEquals(Short.class, KryoCodec.builder(short.class).build().type());
    }

    @Test
    void voidHasNoCodec() {
        final IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> Codecs.forClass(void.class));
        assertTrue(e.getMessage().contains("void"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Codecs.forClass(Void.class));
    }

    @Test
    void nullTypeIsRejectedNamingTheArgument() {
        assertNpeNaming("type", () -> Codecs.forClass(null));
        assertNpeNaming("type", () -> Codecs.isBuiltIn(null));
        assertNpeNaming("type", () -> KryoCodec.builder(null));
        assertNpeNaming("type", () -> KryoCodec.of(null));
        assertNpeNaming("cls", () -> KryoCodec.builder(Money.class).register(null));
        assertNpeNaming("serializer", () -> KryoCodec.builder(Money.class).register(Money.class, null));
        assertNpeNaming("customizer", () -> KryoCodec.builder(Money.class).configure(null));
    }

    @Test
    void nullValuesAreRejectedNamingTheArgumentAndNothingIsWritten() {
        final List<Codec<?>> codecs = List.of(LongCodec.INSTANCE, IntegerCodec.INSTANCE, DoubleCodec.INSTANCE,
            StringCodec.INSTANCE, ByteArrayCodec.INSTANCE, KryoCodec.of(Money.class), Codecs.forClass(short.class));
        for (Codec<?> codec : codecs) {
            @SuppressWarnings("unchecked")
            final Codec<Object> c = (Codec<Object>) codec;
            final UnsafeBuffer buffer = CodecTesting.Kind.HEAP.sentinelFilled(64);
            assertNpeNaming("value", () -> c.encode(null, buffer, 0, 64));
            CodecTesting.assertSentinelOutside(buffer, 0, 0, codec + ": null value");
        }
    }

    private static void assertNpeNaming(String argument, Executable call) {
        final NullPointerException e = assertThrows(NullPointerException.class, call);
        assertEquals(argument, e.getMessage(), "the message names the argument");
    }

    @Test
    @SuppressWarnings("rawtypes")
    void collectionInterfacesRoundTripTheUsualImplementationsWithoutConfiguration() {
        final Codec<List> lists = Codecs.forClass(List.class);
        final Codec<Map> maps = Codecs.forClass(Map.class);
        final Codec<Set> sets = Codecs.forClass(Set.class);
        final Codec<Collection> collections = Codecs.forClass(Collection.class);
        for (List<?> list : List.<List<?>>of(List.of(), List.of("a"), List.of("a", "b", "c"), new ArrayList<>(List.of(1, 2)),
                new LinkedList<>(List.of(3L)), List.copyOf(new ArrayList<>(List.of("x", "y", "z"))).subList(1, 3))) {
            assertEquals(list, roundTrip(lists, list));
            assertEquals(list, roundTrip(collections, list));
        }
        for (Map<?, ?> map : List.<Map<?, ?>>of(Map.of(), Map.of("k", 1), Map.of("a", 1, "b", 2, "c", 3),
                new HashMap<>(Map.of("h", 1)), new LinkedHashMap<>(Map.of("l", 2)), new TreeMap<>(Map.of("t", 3)))) {
            assertEquals(map, roundTrip(maps, map));
        }
        for (Set<?> set : List.<Set<?>>of(Set.of(), Set.of(1), Set.of(1, 2, 3), new HashSet<>(Set.of("h")),
                new LinkedHashSet<>(Set.of("l")), new TreeSet<>(Set.of("t")))) {
            assertEquals(set, roundTrip(sets, set));
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object roundTrip(Codec codec, Object value) {
        final org.agrona.ExpandableArrayBuffer buffer = new org.agrona.ExpandableArrayBuffer(64);
        final int length = codec.encode(value, buffer, 0, 1 << 20);
        return codec.decode(buffer, 0, length);
    }
}
