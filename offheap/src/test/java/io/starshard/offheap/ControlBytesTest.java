package io.starshard.offheap;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SWAR matching over a control word, against a byte-by-byte loop on random words. */
class ControlBytesTest {
    private static final int WORDS = 200_000;

    /** A control byte as a table holds it: EMPTY, DELETED or a 7-bit tag (tags biased towards a few values). */
    private static byte randomControl(SplittableRandom random) {
        int kind = random.nextInt(8);
        if (kind == 0) {
            return ControlBytes.EMPTY;
        }
        if (kind == 1) {
            return ControlBytes.DELETED;
        }
        return (byte) (kind < 4 ? random.nextInt(4) : random.nextInt(128));
    }

    private static long word(byte[] bytes) {
        long w = 0;
        for (int i = 7; i >= 0; i--) {
            w = (w << 8) | (bytes[i] & 0xFF);
        }
        return w;
    }

    private static boolean flagged(long mask, int i) {
        return (mask >>> (i * 8 + 7) & 1) != 0;
    }

    @Test
    void matchTagFindsEveryTrueMatchAndTheLowestExactly() {
        SplittableRandom random = new SplittableRandom(1);
        byte[] bytes = new byte[8];
        for (int n = 0; n < WORDS; n++) {
            for (int i = 0; i < 8; i++) {
                bytes[i] = randomControl(random);
            }
            byte tag = (byte) (random.nextBoolean() ? bytes[random.nextInt(8)] & 0x7F : random.nextInt(128));
            long mask = ControlBytes.matchTag(word(bytes), ControlBytes.broadcast(tag));
            assertEquals(0, mask & ~0x8080_8080_8080_8080L, "only high bits may be set");
            int lowestTrue = -1;
            for (int i = 0; i < 8; i++) {
                boolean match = bytes[i] == tag;
                if (match) {
                    assertTrue(flagged(mask, i), "missed true match at byte " + i + " of " + Long.toHexString(word(bytes)));
                    if (lowestTrue < 0) {
                        lowestTrue = i;
                    }
                } else if (flagged(mask, i)) {
                    // Documented: a false positive can only sit above a true match (borrow propagation).
                    assertTrue(lowestTrue >= 0 && lowestTrue < i, "false positive at byte " + i + " without a true"
                        + " match below it, word " + Long.toHexString(word(bytes)) + " tag " + tag);
                }
            }
            if (lowestTrue >= 0) {
                assertEquals(lowestTrue, ControlBytes.lowestIndex(mask));
            } else {
                assertEquals(0, mask, "no match in " + Long.toHexString(word(bytes)) + " for tag " + tag);
            }
        }
    }

    @Test
    void matchEmptyAndEmptyOrDeletedAreExact() {
        SplittableRandom random = new SplittableRandom(2);
        byte[] bytes = new byte[8];
        for (int n = 0; n < WORDS; n++) {
            for (int i = 0; i < 8; i++) {
                bytes[i] = randomControl(random);
            }
            long w = word(bytes);
            long empty = ControlBytes.matchEmpty(w);
            long free = ControlBytes.matchEmptyOrDeleted(w);
            long full = ~w & 0x8080_8080_8080_8080L;   // how nextFull and install find FULL slots
            for (int i = 0; i < 8; i++) {
                assertEquals(bytes[i] == ControlBytes.EMPTY, flagged(empty, i), "EMPTY byte " + i);
                assertEquals(bytes[i] == ControlBytes.EMPTY || bytes[i] == ControlBytes.DELETED, flagged(free, i));
                assertEquals(ControlBytes.isFull(bytes[i]), flagged(full, i));
            }
            assertEquals(0, empty & ~0x8080_8080_8080_8080L);
        }
    }

    @Test
    void tagIsTheLowSevenBitsAndAlwaysFull() {
        SplittableRandom random = new SplittableRandom(3);
        for (int n = 0; n < 10_000; n++) {
            long hash = random.nextLong();
            byte tag = ControlBytes.tag(hash);
            assertEquals(hash & 0x7F, tag);
            assertTrue(ControlBytes.isFull(tag));
        }
        assertTrue(!ControlBytes.isFull(ControlBytes.EMPTY) && !ControlBytes.isFull(ControlBytes.DELETED));
    }

    @Test
    void homeGroupIsInRangeAndIgnoresTagAndHighBits() {
        SplittableRandom random = new SplittableRandom(4);
        int[] sizes = {1, 2, 3, 7, 8, 100, 1 << 10, (1 << 20) + 3, ControlBytes.MAX_GROUPS};
        for (int n = 0; n < 100_000; n++) {
            long hash = random.nextLong();
            for (int groups : sizes) {
                int g = ControlBytes.homeGroup(hash, groups);
                assertTrue(g >= 0 && g < groups, g + " outside " + groups);
                long other = hash ^ 0x7F ^ (random.nextLong() << 32);   // other tag and shard bits
                assertEquals(g, ControlBytes.homeGroup(other, groups));
            }
        }
        // Every group is reachable: the top and bottom of hash bits 7..31.
        assertEquals(0, ControlBytes.homeGroup(0L, 1000));
        assertEquals(999, ControlBytes.homeGroup(-1L, 1000));
    }
}
