package io.starshard.offheap;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Incremental growth: the old table drains into the new one over later inserts, and nothing is lost meanwhile. */
class TableGrowthTest {
    private static final KeyHasher HASHER = new KeyHasher(99);
    private final EpochDomain epochs = new EpochDomain();

    @Test
    void everyKeyStaysReachableWhileTheOldTableDrains() {
        final OffHeapMemory memory = OffHeapMemory.unlimited();
        try (Segment s = new Segment(SegmentSpec.inline(8, 8, HASHER), memory, epochs, 0)) {
            long key = 0;
            while (s.draining() == null) {
                s.putLong(HASHER.hashFixed(key), key * 7);
                key++;
            }
            final long insertedBeforeGrowth = key;
            final Table old = s.draining();
            assertTrue(old.capacity < s.capacity(), "the new table is larger");
            // The entries still in the old table are found through every lookup, and slot numbers flag them.
            boolean sawFlagged = false;
            for (long k = 0; k < key; k++) {
                assertEquals(k * 7, s.optimisticGetLong(HASHER.hashFixed(k), -1), "key " + k);
                final int slot = s.find(HASHER.hashFixed(k), null, 0, 0);
                assertTrue(slot >= 0);
                sawFlagged |= (slot & Segment.DRAINING_SLOT) != 0;
                assertEquals(k, s.readKeyBits(slot));
            }
            assertTrue(sawFlagged, "some entries were still in the draining table");
            s.verifyInvariants();
            // Remove and update keys of both tables while it drains.
            for (long k = 0; k < insertedBeforeGrowth; k += 3) {
                s.removeAt(s.find(HASHER.hashFixed(k), null, 0, 0));
            }
            for (long k = 1; k < insertedBeforeGrowth; k += 3) {
                s.replaceValueLong(s.find(HASHER.hashFixed(k), null, 0, 0), -k);
            }
            s.verifyInvariants();
            int inserts = 0;
            while (s.draining() != null) {
                s.putLong(HASHER.hashFixed(key), key * 7);
                key++;
                inserts++;
            }
            assertTrue(inserts <= old.groups / TableGrowth.DRAIN_GROUPS_PER_INSERT + 1, "drained at its rate");
            s.verifyInvariants();
            for (long k = 0; k < key; k++) {
                final long expected = k < insertedBeforeGrowth && k % 3 == 0 ? -1 : k < insertedBeforeGrowth && k % 3 == 1
                    ? -k : k * 7;
                assertEquals(expected, s.optimisticGetLong(HASHER.hashFixed(k), -1), "key " + k);
            }
        }
        assertEquals(0, memory.usedBytes());
    }

    @Test
    void theNextTableIsPreparedAheadAndPublishedWithoutCopying() {
        final OffHeapMemory memory = OffHeapMemory.unlimited();
        try (Segment s = new Segment(SegmentSpec.inline(8, 8, HASHER), memory, epochs)) {
            // Above the default threshold: the prepared path of a real growth, not only of tests.
            boolean sawDraining = false;
            for (long k = 0; k < 400_000; k++) {
                s.putLong(HASHER.hashFixed(k), k);
                sawDraining |= s.draining() != null;
            }
            assertTrue(sawDraining, "large tables drain incrementally");
            assertTrue(s.stats().growths() > 10);
            s.verifyInvariants();
            for (long k = 0; k < 400_000; k++) {
                assertEquals(k, s.optimisticGetLong(HASHER.hashFixed(k), -1));
            }
        }
        assertEquals(0, memory.usedBytes());
    }

    @Test
    void aPresizedTablePreparesNoSecondTableUntilItPassesItsExpectedEntries() {
        final OffHeapMemory memory = OffHeapMemory.unlimited();
        final int expected = 100_000;
        try (Segment s = new Segment(SegmentSpec.inline(8, 8, HASHER).withInitialEntries(expected), memory, epochs)) {
            final long firstTable = s.stats().tableBytes();
            long key = 0;
            for (; key < expected; key++) {
                s.putLong(HASHER.hashFixed(key), key);
            }
            assertEquals(firstTable, s.stats().tableBytes(), "at its expected entries a presized segment holds one table");
            assertEquals(firstTable, memory.usedBytes());
            // Past them, it grows without a synchronous fill: the next table is ready by the switch.
            final int capacity = s.capacity();
            while (s.capacity() == capacity) {
                s.putLong(HASHER.hashFixed(key), key);
                key++;
            }
            assertNotNull(s.draining(), "the grown table drains incrementally");
            s.verifyInvariants();
            for (long k = 0; k < key; k++) {
                assertEquals(k, s.optimisticGetLong(HASHER.hashFixed(k), -1));
            }
        }
        assertEquals(0, memory.usedBytes());
    }

    @Test
    void clearAndReleaseWhileDrainingFreeBothTables() {
        final OffHeapMemory memory = OffHeapMemory.unlimited();
        final UnsafeBuffer keyBuffer = new UnsafeBuffer(new byte[16]);
        final UnsafeBuffer value = new UnsafeBuffer(new byte[40]);
        final Segment s = new Segment(SegmentSpec.indirect(100), memory, epochs, 0);
        long k = 0;
        while (s.draining() == null) {
            keyBuffer.putLong(0, k++);
            s.insert(HASHER.hash(keyBuffer, 0, 8), keyBuffer, 0, 8, value, 0, 40);
        }
        s.clear();
        assertNull(s.draining(), "a clear leaves nothing to drain");
        assertEquals(0, s.size());
        s.verifyInvariants();
        while (s.draining() == null) {
            keyBuffer.putLong(0, k++);
            s.insert(HASHER.hash(keyBuffer, 0, 8), keyBuffer, 0, 8, value, 0, 40);
        }
        assertNotNull(s.draining());
        s.close();
        assertEquals(0, memory.usedBytes(), "release frees the table, the draining table and the arena");
        assertEquals(0, memory.liveAllocations());
    }

    @Test
    void aGrowthTheBudgetRefusesChangesNothing() {
        final long firstTable = Table.bytesFor(Table.groupsFor(SegmentSpec.DEFAULT_INITIAL_ENTRIES), 16);
        final OffHeapMemory memory = new OffHeapMemory(firstTable + Table.bytesFor(2, 16) + 8);
        try (Segment s = new Segment(SegmentSpec.inline(8, 8, HASHER), memory, epochs, 0)) {
            long k = 0;
            OffHeapMemoryExhaustedException refused = null;
            while (refused == null) {
                try {
                    s.putLong(HASHER.hashFixed(k), k);
                    k++;
                } catch (OffHeapMemoryExhaustedException e) {
                    refused = e;
                }
            }
            assertEquals(k, s.size(), "the refused insert added nothing");
            s.verifyInvariants();
            for (long i = 0; i < k; i++) {
                assertEquals(i, s.optimisticGetLong(HASHER.hashFixed(i), -1));
            }
            final long refusedKey = k;
            assertThrows(OffHeapMemoryExhaustedException.class, () -> s.putLong(HASHER.hashFixed(refusedKey), 1));
        }
        assertEquals(0, memory.usedBytes());
    }
}
