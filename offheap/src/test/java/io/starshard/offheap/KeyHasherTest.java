package io.starshard.offheap;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KeyHasherTest {
    private static final int MAX_LENGTH = 200;

    @Test
    void seedMattersForEveryKeyLength() {
        SplittableRandom random = new SplittableRandom(11);
        UnsafeBuffer key = new UnsafeBuffer(new byte[MAX_LENGTH + 16]);
        for (int length = 0; length <= MAX_LENGTH; length++) {
            for (int trial = 0; trial < 20; trial++) {
                for (int i = 0; i < key.capacity(); i++) {
                    key.putByte(i, (byte) random.nextInt());
                }
                int offset = random.nextInt(16);
                Set<Long> hashes = new HashSet<>();
                for (int s = 0; s < 8; s++) {
                    hashes.add(new KeyHasher(random.nextLong()).hash(key, offset, length));
                }
                assertEquals(8, hashes.size(), "key of " + length + " bytes: 8 seeds gave only " + hashes.size()
                    + " distinct hashes");
            }
        }
    }

    @Test
    void seedMattersForKeysWhoseHalvesMirrorEachOther() {
        // A 2-lane hash that XORs its lanes cancels the seed when lane 2 sees lane 1's data xor the lane constants.
        UnsafeBuffer key = new UnsafeBuffer(new byte[128]);
        SplittableRandom random = new SplittableRandom(12);
        for (int length = 33; length <= 128; length++) {
            for (int i = 0; i < 128; i++) {
                key.putByte(i, (byte) random.nextInt());
            }
            for (int i = 0; i + 32 <= length; i += 32) {
                key.putLong(i + 16, key.getLong(i) ^ 0xd6e8feb86659fd93L ^ 0x8cb92ba72f3d8dd7L);
                key.putLong(i + 24, key.getLong(i + 8));
            }
            assertNotEquals(new KeyHasher(1).hash(key, 0, length), new KeyHasher(2).hash(key, 0, length),
                "length " + length);
        }
    }

    @Test
    void everyBitOfTheKeyAndTheLengthMatter() {
        SplittableRandom random = new SplittableRandom(13);
        KeyHasher hasher = new KeyHasher(random.nextLong());
        UnsafeBuffer key = new UnsafeBuffer(new byte[80]);
        for (int length = 0; length <= 72; length++) {
            for (int i = 0; i < key.capacity(); i++) {
                key.putByte(i, (byte) random.nextInt());
            }
            long h = hasher.hash(key, 0, length);
            if (length < key.capacity()) {
                assertNotEquals(h, hasher.hash(key, 0, length + 1), "length " + length + " vs " + (length + 1));
            }
            for (int bit = 0; bit < length * 8; bit++) {
                int at = bit >>> 3;
                byte b = key.getByte(at);
                key.putByte(at, (byte) (b ^ (1 << (bit & 7))));
                long flipped = hasher.hash(key, 0, length);
                key.putByte(at, b);
                assertNotEquals(h, flipped, "length " + length + ", bit " + bit);
                // Rough avalanche: a single bit flip changes many output bits (a sum, so not flaky per key).
                assertTrue(Long.bitCount(h ^ flipped) > 2, "length " + length + ", bit " + bit);
            }
            assertEquals(h, hasher.hash(key, 0, length), "deterministic");
        }
    }

    @Test
    void hashIgnoresBytesOutsideTheRegion() {
        KeyHasher hasher = new KeyHasher(5);
        UnsafeBuffer a = new UnsafeBuffer(new byte[100]);
        UnsafeBuffer b = new UnsafeBuffer(new byte[100]);
        for (int length = 0; length <= 64; length++) {
            a.setMemory(0, 100, (byte) 1);
            b.setMemory(0, 100, (byte) 2);
            for (int i = 0; i < length; i++) {
                a.putByte(10 + i, (byte) i);
                b.putByte(20 + i, (byte) i);
            }
            assertEquals(hasher.hash(a, 10, length), hasher.hash(b, 20, length), "length " + length);
        }
    }

    @Test
    void hashFixedIsABijectionInvertedByUnhashFixed() {
        SplittableRandom random = new SplittableRandom(14);
        for (int s = 0; s < 10; s++) {
            KeyHasher hasher = new KeyHasher(random.nextLong());
            for (int n = 0; n < 100_000; n++) {
                long k = n < 1000 ? n - 500 : random.nextLong();
                assertEquals(k, hasher.unhashFixed(hasher.hashFixed(k)));
                long h = random.nextLong();
                assertEquals(h, hasher.hashFixed(hasher.unhashFixed(h)));
            }
            assertNotEquals(hasher.hashFixed(0), new KeyHasher(hasher.seed() + 1).hashFixed(0));
        }
    }

    @Test
    void fixedKeyBitsReadsLittleEndianZeroExtended() {
        UnsafeBuffer buffer = new UnsafeBuffer(new byte[16]);
        for (int i = 0; i < 16; i++) {
            buffer.putByte(i, (byte) (0xA0 + i));
        }
        for (int width = 1; width <= 8; width++) {
            long expected = 0;
            for (int i = width - 1; i >= 0; i--) {
                expected = (expected << 8) | (0xA0 + 3 + i);
            }
            assertEquals(expected, KeyHasher.fixedKeyBits(buffer, 3, width), "width " + width);
            KeyHasher hasher = new KeyHasher(9);
            assertEquals(hasher.hashFixed(expected), hasher.hashFixed(buffer, 3, width));
        }
        assertThrows(IllegalArgumentException.class, () -> KeyHasher.fixedKeyBits(buffer, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> KeyHasher.fixedKeyBits(buffer, 0, 9));
        assertThrows(IndexOutOfBoundsException.class, () -> KeyHasher.fixedKeyBits(buffer, 12, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> new KeyHasher(1).hash(buffer, -1, 4));
        assertThrows(IndexOutOfBoundsException.class, () -> new KeyHasher(1).hash(buffer, 10, 7));
    }

    @Test
    void shardIndexIsInRangeAndUsesTheHighBits() {
        SplittableRandom random = new SplittableRandom(15);
        int[] counts = {1, 3, 64, 1000, 262_144};
        for (int n = 0; n < 100_000; n++) {
            long h = random.nextLong();
            for (int count : counts) {
                int s = KeyHasher.shardIndex(h, count);
                assertTrue(s >= 0 && s < count);
                assertEquals(s, KeyHasher.shardIndex(h ^ (random.nextLong() >>> 32), count), "low bits ignored");
            }
        }
        assertEquals(999, KeyHasher.shardIndex(-1L, 1000));
        assertEquals(0, KeyHasher.shardIndex(0xFFFF_FFFFL, 1000));
    }
}
