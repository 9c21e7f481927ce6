package io.starshard.codec;

import static io.starshard.codec.RoundTripAssertions.assertRoundTrip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
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
}
