package io.starshard.offheap;

import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory comes back: a segment whose values are replaced keeps its footprint near its live bytes, a segment that
 * lost most of its entries gives its chunks and its table back, and a refused allocation compacts first.
 */
class SegmentCompactionTest {
    private final EpochDomain epochs = new EpochDomain();
    private final KeyHasher hasher = new KeyHasher(11);
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[8]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[8192]);

    private void put(Segment s, int k, int valueLength, boolean maintain) {
        key.putInt(0, k, ByteOrder.LITTLE_ENDIAN);
        key.putInt(4, valueLength, ByteOrder.LITTLE_ENDIAN);   // the key says what its value must be
        value.setMemory(0, valueLength, (byte) k);
        s.put(hash(k), key, 0, 4, value, 0, valueLength);
        if (maintain && s.maintenanceDue()) {
            s.maintain();   // what the map does after every write
        }
    }

    private long hash(int k) {
        key.putInt(0, k, ByteOrder.LITTLE_ENDIAN);
        return hasher.hash(key, 0, 4);
    }

    /** Every key in {@code lengths} (-1: absent) reads back with its value. */
    private void assertContents(Segment s, int[] lengths) {
        ExpandableArrayBuffer out = new ExpandableArrayBuffer(64);
        int present = 0;
        for (int k = 0; k < lengths.length; k++) {
            long h = hash(k);
            int r = s.optimisticGet(h, key, 0, 4, out, 0);
            if (lengths[k] < 0) {
                assertEquals(Segment.NOT_FOUND, r, "key " + k + " was removed");
                continue;
            }
            present++;
            assertEquals(lengths[k], r, "key " + k);
            byte[] expected = new byte[r];
            java.util.Arrays.fill(expected, (byte) k);
            byte[] actual = new byte[r];
            out.getBytes(0, actual);
            assertArrayEquals(expected, actual, "value of key " + k);
        }
        assertEquals(present, s.size());
        s.verifyInvariants();
    }

    @Test
    void replacingValuesOfRandomSizesKeepsTheFootprintNearTheLiveBytes() {
        OffHeapMemory memory = OffHeapMemory.unlimited();
        try (Segment s = new Segment(SegmentSpec.indirect(10_000), memory, epochs)) {
            SplittableRandom random = new SplittableRandom(1);
            int keys = 4000;
            int[] lengths = new int[keys];
            for (int k = 0; k < keys; k++) {
                lengths[k] = 64 + random.nextInt(4033);
                put(s, k, lengths[k], true);
            }
            long peakAfterHalf = 0;
            for (int round = 0; round < 20 * keys; round++) {
                int k = random.nextInt(keys);
                lengths[k] = 64 + random.nextInt(4033);
                put(s, k, lengths[k], true);
                if (round == 10 * keys) {
                    peakAfterHalf = s.stats().arenaBytes();
                }
            }
            SegmentStats stats = s.stats();
            assertTrue(stats.relocatedBytes() > 0, "compaction ran: " + stats);
            // At most a sixth dead, well within a quarter (plus the slack a segment keeps and the open chunk's end).
            assertTrue(stats.arenaBytes() <= stats.liveEntryBytes() * 5 / 4 + EntryArena.MIN_FREE_BYTES
                + EntryArena.MAX_CHUNK_BYTES, "footprint follows the live bytes: " + stats);
            assertTrue(stats.arenaBytes() <= peakAfterHalf + 2L * EntryArena.MAX_CHUNK_BYTES,
                "no growth in the second half: " + peakAfterHalf + " -> " + stats);
            assertContents(s, lengths);
        }
        epochs.synchronize();
        assertEquals(0, memory.usedBytes());
    }

    @Test
    void afterRemovingNinetyNinePercentCompactionGivesTheChunksAndTheTableBack() {
        OffHeapMemory memory = OffHeapMemory.unlimited();
        try (Segment s = new Segment(SegmentSpec.indirect(10_000), memory, epochs)) {
            int keys = 50_000;
            int[] lengths = new int[keys];
            for (int k = 0; k < keys; k++) {
                lengths[k] = 40 + k % 200;
                put(s, k, lengths[k], false);
            }
            int bigCapacity = s.capacity();
            long live = 0;
            for (int k = 0; k < keys; k++) {
                if (k % 100 != 0) {
                    s.remove(hash(k), key, 0, 4);
                    lengths[k] = -1;
                } else {
                    live += EntryDescriptor.entryBytes(4, lengths[k]);
                }
            }
            int steps = 0;
            while (s.compact()) {
                steps++;
                assertContents(s, lengths);   // consistent between any two steps
            }
            assertTrue(steps > 0, "the work took more than one step");
            SegmentStats stats = s.stats();
            assertEquals(live, stats.liveEntryBytes());
            assertTrue(stats.arenaBytes() <= 2 * live + EntryArena.MAX_CHUNK_BYTES, "chunks came back: " + stats);
            assertTrue(s.capacity() * 8 <= bigCapacity, "the table shrank: " + bigCapacity + " -> " + s.capacity());
            assertTrue(stats.shrinks() > 0);
            assertFalse(s.maintenanceDue());
            epochs.synchronize();
            assertEquals(stats.allocatedBytes(), memory.usedBytes(), "what the segment holds is what is allocated");
            assertContents(s, lengths);
            // Growing again after the shrink works as usual.
            for (int k = 0; k < keys; k++) {
                if (lengths[k] < 0) {
                    lengths[k] = 10 + k % 50;
                    put(s, k, lengths[k], true);
                }
            }
            assertContents(s, lengths);
        }
        epochs.synchronize();
        assertEquals(0, memory.usedBytes());
    }

    @Test
    void aPutThatTheBudgetRefusesCompactsFirst() {
        OffHeapMemory memory = new OffHeapMemory(4 << 20);
        try (Segment s = new Segment(SegmentSpec.indirect(10_000), memory, epochs)) {
            int k = 0;
            try {
                while (true) {
                    put(s, k, 1000, false);
                    k++;
                }
            } catch (OffHeapMemoryExhaustedException full) {
                assertTrue(full.getMessage().contains("free after compaction"), full.getMessage());
            }
            int[] lengths = new int[k];
            for (int i = 0; i < k; i++) {
                if (i % 2 == 0) {
                    s.remove(hash(i), key, 0, 4);
                    lengths[i] = -1;
                } else {
                    lengths[i] = 1000;
                }
            }
            // No maintenance ran; the next puts find the budget full. Each refused put has compacted within one
            // pause first; what a pause could not finish, the steps the map runs next (locks released between them)
            // do, and the put then fits.
            int added = 0;
            for (int i = 0; i < k / 4; i++) {   // back to three quarters of the fill: room only compaction makes
                try {
                    put(s, k + i, 1000, false);
                } catch (OffHeapMemoryExhaustedException refused) {
                    int steps = 0;
                    while (s.compact()) {
                        assertTrue(++steps < 10_000);
                    }
                    put(s, k + i, 1000, false);
                }
                added++;
            }
            assertTrue(s.stats().relocatedBytes() > 0, "compaction made the room");
            int[] all = java.util.Arrays.copyOf(lengths, k + added);
            java.util.Arrays.fill(all, k, k + added, 1000);
            assertContents(s, all);
        }
        epochs.synchronize();
        assertEquals(0, memory.usedBytes());
    }
}
