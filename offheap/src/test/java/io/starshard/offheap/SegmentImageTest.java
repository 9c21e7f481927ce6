package io.starshard.offheap;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link SegmentImage}: a copy that finds every key and only those, and frees itself with its last reference; the
 * segment's change hook, which copy-on-write snapshots rely on. */
class SegmentImageTest {
    private final EpochDomain epochs = new EpochDomain();
    private final KeyHasher hasher = new KeyHasher(3);

    private static UnsafeBuffer key(int k) {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[4]);
        b.putInt(0, k, ByteOrder.LITTLE_ENDIAN);
        return b;
    }

    private void put(Segment s, int k, int valueLength) {
        final UnsafeBuffer value = new UnsafeBuffer(new byte[valueLength]);
        value.setMemory(0, valueLength, (byte) k);
        s.put(hasher.hash(key(k), 0, 4), key(k), 0, 4, value, 0, valueLength);
    }

    @Test
    void anImageFindsEveryKeyWithItsValueAndNoOther() {
        final OffHeapMemory memory = OffHeapMemory.unlimited();
        final OffHeapMemory copies = OffHeapMemory.unlimited();
        final Segment s = new Segment(SegmentSpec.indirect(1000), memory, epochs);
        for (int k = 0; k < 5_000; k++) {
            put(s, k, k % 50);
        }
        final SegmentImage image = SegmentImage.copyOf(copies, new Segment[] {s}, 0, 1L << 32);
        for (int k = 0; k < 5_000; k += 2) {
            s.remove(hasher.hash(key(k), 0, 4), key(k), 0, 4);   // the copy does not change
        }
        assertEquals(5_000, image.size());
        for (int k = 0; k < 5_000; k++) {
            final int at = image.find(hasher.hash(key(k), 0, 4), key(k), 0, 4);
            assertTrue(at >= 0, "key " + k);
            assertEquals(k % 50, RecordDescriptor.valueLength(image.buffer(), at));
        }
        assertEquals(-1, image.find(hasher.hash(key(-1), 0, 4), key(-1), 0, 4));
        final Set<Integer> seen = new HashSet<>();
        for (int slot = 0; slot < image.indexSlots(); slot++) {
            final int at = image.recordAt(slot);
            if (at >= 0) {
                assertTrue(seen.add(image.buffer().getInt(RecordDescriptor.keyOffset(at), ByteOrder.LITTLE_ENDIAN)));
            }
        }
        assertEquals(5_000, seen.size(), "the index visits every record once");
        assertTrue(image.tryAcquire());
        image.release();   // the reader's
        image.release();   // the owner's: freed
        assertEquals(0, copies.usedBytes());
        assertFalse(image.tryAcquire(), "a freed image cannot be acquired");
        assertThrows(IllegalStateException.class, image::release);
        s.close();
    }

    @Test
    void anEmptySegmentGivesTheSharedEmptyImage() {
        final Segment s = new Segment(SegmentSpec.indirect(1000), OffHeapMemory.unlimited(), epochs);
        final SegmentImage image = SegmentImage.copyOf(OffHeapMemory.unlimited(), new Segment[] {s}, 0, 1L << 32);
        assertSame(SegmentImage.EMPTY, image);
        image.release();
        assertTrue(image.tryAcquire(), "EMPTY is never freed");
        assertEquals(-1, image.find(1, key(1), 0, 4));
        s.close();
    }

    @Test
    void theChangeHookRunsOnceBeforeTheFirstChangeAndStaysIfItThrows() {
        final Segment s = new Segment(SegmentSpec.indirect(1000), OffHeapMemory.unlimited(), epochs);
        put(s, 1, 10);
        final int[] runs = new int[1];
        s.beforeNextChange(segment -> {
            runs[0]++;
            assertEquals(1, segment.size(), "the hook sees the segment unchanged");
            if (runs[0] == 1) {
                throw new IllegalStateException("refused");
            }
        });
        assertThrows(IllegalStateException.class, () -> put(s, 2, 10));
        assertEquals(1, s.size(), "a hook that throws stops the change");
        assertTrue(s.pendingChangeHook() != null, "still armed");
        s.compact();   // moves nothing visible: not a change
        assertEquals(1, runs[0]);
        put(s, 2, 10);
        assertEquals(2, runs[0]);
        put(s, 3, 10);
        s.clear();
        assertEquals(2, runs[0], "one shot");
        assertEquals(null, s.pendingChangeHook());
        s.close();
    }
}
