package io.starshard.offheap;

import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SegmentSmokeTest {
    private final EpochDomain epochs = new EpochDomain();

    @Test
    void inlineLongToLongSurvivesGrowthAndRemoval() {
        OffHeapMemory memory = OffHeapMemory.unlimited();
        KeyHasher hasher = new KeyHasher(42);
        try (Segment segment = new Segment(SegmentSpec.inline(8, 8, hasher), memory, epochs)) {
            for (long k = 0; k < 100_000; k++) {
                assertTrue(segment.putLong(hasher.hashFixed(k), k * 3));
            }
            assertEquals(100_000, segment.size());
            for (long k = 0; k < 100_000; k += 2) {
                int slot = segment.find(hasher.hashFixed(k), null, 0, 0);
                assertEquals(k, segment.readKeyBits(slot));
                segment.removeAt(slot);
            }
            for (long k = 0; k < 100_000; k++) {
                assertEquals(k % 2 == 0 ? -1 : k * 3, segment.optimisticGetLong(hasher.hashFixed(k), -1));
            }
        }
        assertEquals(0, memory.usedBytes());
        assertEquals(0, memory.liveAllocations());
    }

    @Test
    void indirectVariableEntriesRoundTrip() {
        OffHeapMemory memory = OffHeapMemory.unlimited();
        KeyHasher hasher = new KeyHasher(7);
        UnsafeBuffer key = new UnsafeBuffer(new byte[64]);
        UnsafeBuffer value = new UnsafeBuffer(new byte[200_000]);
        ExpandableArrayBuffer out = new ExpandableArrayBuffer(16);
        try (Segment segment = new Segment(SegmentSpec.indirect(300_000), memory, epochs)) {
            for (int i = 0; i < 20_000; i++) {
                key.putInt(0, i, ByteOrder.LITTLE_ENDIAN);
                int vlen = i % 1000 == 0 ? 100_000 + i : i % 300;
                value.setMemory(0, vlen, (byte) i);
                assertTrue(segment.put(hasher.hash(key, 0, 4 + i % 20), key, 0, 4 + i % 20, value, 0, vlen));
            }
            for (int i = 0; i < 20_000; i++) {
                key.putInt(0, i, ByteOrder.LITTLE_ENDIAN);
                int vlen = i % 1000 == 0 ? 100_000 + i : i % 300;
                int got = segment.optimisticGet(hasher.hash(key, 0, 4 + i % 20), key, 0, 4 + i % 20, out, 0);
                assertEquals(vlen, got, "length of " + i);
                for (int j = 0; j < vlen; j += 97) {
                    assertEquals((byte) i, out.getByte(j));
                }
            }
            for (int i = 0; i < 20_000; i += 3) {
                key.putInt(0, i, ByteOrder.LITTLE_ENDIAN);
                assertTrue(segment.remove(hasher.hash(key, 0, 4 + i % 20), key, 0, 4 + i % 20));
                assertFalse(segment.remove(hasher.hash(key, 0, 4 + i % 20), key, 0, 4 + i % 20));
            }
            assertEquals(20_000 - 6667, segment.size());
        }
        assertEquals(0, memory.usedBytes());
    }
}
