package io.starshard.codec;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/** Shared helpers: seeded randomness, the buffer kinds every codec is exercised on, sentinel checks. */
final class CodecTesting {
    /** Byte that fills buffers before a test writes into them; any other value outside a region was written. */
    static final byte SENTINEL = (byte) 0x5A;
    /** Longer randomised runs with {@code -Dstarshard.stress=true}. */
    static final boolean STRESS = Boolean.getBoolean("starshard.stress");
    /** Offsets every round trip is tried at (odd ones break any alignment assumption). */
    static final int[] OFFSETS = {0, 1, 7, 64};

    private CodecTesting() {
    }

    /** A seed: {@code -Dstarshard.seed=N} replays a failure. */
    static long seed() {
        return Long.getLong("starshard.seed", System.nanoTime());
    }

    static int scaled(int iterations) {
        return STRESS ? iterations * 20 : iterations;
    }

    /** The buffer kinds: heap array, heap array wrapped at an offset (wrapAdjustment != 0), native memory. */
    enum Kind {
        HEAP {
            @Override
            UnsafeBuffer allocate(int capacity) {
                return new UnsafeBuffer(new byte[capacity]);
            }
        },
        HEAP_SLICE {
            @Override
            UnsafeBuffer allocate(int capacity) {
                final byte[] array = new byte[capacity + 13];
                Arrays.fill(array, SENTINEL);
                return new UnsafeBuffer(array, 5, capacity);
            }
        },
        DIRECT {
            @Override
            UnsafeBuffer allocate(int capacity) {
                return new UnsafeBuffer(ByteBuffer.allocateDirect(capacity));
            }
        };

        abstract UnsafeBuffer allocate(int capacity);

        /** A buffer of {@code capacity} bytes, all {@link #SENTINEL}. */
        UnsafeBuffer sentinelFilled(int capacity) {
            final UnsafeBuffer buffer = allocate(capacity);
            buffer.setMemory(0, capacity, SENTINEL);
            return buffer;
        }

        /** A buffer holding exactly {@code bytes}. */
        UnsafeBuffer holding(byte[] bytes) {
            final UnsafeBuffer buffer = allocate(bytes.length);
            buffer.putBytes(0, bytes);
            return buffer;
        }
    }

    static byte[] copy(DirectBuffer buffer, int offset, int length) {
        final byte[] bytes = new byte[length];
        buffer.getBytes(offset, bytes);
        return bytes;
    }

    /** Asserts every byte of the buffer outside {@code [from, to)} is still the sentinel. */
    static void assertSentinelOutside(DirectBuffer buffer, int from, int to, String context) {
        final byte[] array = buffer.byteArray();
        if (array != null) {
            // A view onto part of an array: the rest of the array is outside the region too.
            final int start = buffer.wrapAdjustment();
            for (int i = 0; i < array.length; i++) {
                if ((i < start || i >= start + buffer.capacity()) && array[i] != SENTINEL) {
                    fail(context + ": backing array byte " + i + " outside the view [" + start + ", "
                        + (start + buffer.capacity()) + ") was written");
                }
            }
        }
        for (int i = 0; i < buffer.capacity(); i++) {
            if ((i < from || i >= to) && buffer.getByte(i) != SENTINEL) {
                fail(context + ": byte " + i + " outside the region [" + from + ", " + to + ") was written");
            }
        }
    }

    /** Encodes into a fresh sentinel-filled buffer of kind {@code kind} and returns the encoding's bytes. */
    static <T> byte[] encode(Codec<T> codec, T value) {
        final MutableDirectBuffer buffer = new UnsafeBuffer(new byte[1 << 16]);
        final int length = codec.encode(value, buffer, 0, 1 << 16);
        return copy(buffer, 0, length);
    }

    static String randomString(Random random, int maxChars) {
        final int n = random.nextInt(maxChars + 1);
        final StringBuilder sb = new StringBuilder(n);
        while (sb.length() < n) {
            switch (random.nextInt(5)) {
                case 0, 1 -> sb.append((char) random.nextInt(0x80));                  // ASCII
                case 2 -> sb.append((char) (0x80 + random.nextInt(0x800 - 0x80)));   // 2-byte
                case 3 -> {                                                          // 3-byte, no surrogates
                    char c = (char) (0x800 + random.nextInt(0x10000 - 0x800));
                    sb.append(Character.isSurrogate(c) ? 'x' : c);
                }
                default -> sb.appendCodePoint(0x10000 + random.nextInt(0x10FFFF - 0x10000 + 1)); // pair
            }
        }
        return sb.toString();
    }

    static String randomAscii(Random random, int maxChars) {
        final int n = random.nextInt(maxChars + 1);
        final char[] chars = new char[n];
        for (int i = 0; i < n; i++) {
            chars[i] = (char) random.nextInt(0x80);
        }
        return new String(chars);
    }
}
