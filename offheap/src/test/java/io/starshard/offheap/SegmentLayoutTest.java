package io.starshard.offheap;

import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Directed tests of table mechanics that random workloads rarely reach. */
class SegmentLayoutTest {
    private final EpochDomain epochs = new EpochDomain();
    private final OffHeapMemory memory = OffHeapMemory.unlimited();
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[8]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[8]);
    private final ExpandableArrayBuffer out = new ExpandableArrayBuffer(16);

    @AfterEach
    void allMemoryIsReturned() {
        assertEquals(0, memory.usedBytes());
        assertEquals(0, memory.liveAllocations());
    }

    /** Hash with home group 0 (bits 7..31 zero) or the last group (all ones), distinct per key in bits 32+. */
    private static long hash(int k, boolean lastGroup) {
        return ((long) k << 32) | (lastGroup ? 0xFFFF_FF80L : 0) | (k & 0x7F);
    }

    private boolean put(Segment s, int k, boolean lastGroup) {
        key.putInt(0, k, ByteOrder.LITTLE_ENDIAN);
        value.putInt(0, ~k, ByteOrder.LITTLE_ENDIAN);
        return s.put(hash(k, lastGroup), key, 0, 4, value, 0, 4);
    }

    private boolean remove(Segment s, int k, boolean lastGroup) {
        key.putInt(0, k, ByteOrder.LITTLE_ENDIAN);
        return s.remove(hash(k, lastGroup), key, 0, 4);
    }

    private int get(Segment s, int k, boolean lastGroup) {
        key.putInt(0, k, ByteOrder.LITTLE_ENDIAN);
        int n = s.optimisticGet(hash(k, lastGroup), key, 0, 4, out, 0);
        return n < 0 ? n : out.getInt(0, ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void tombstonesAreCleanedByASameSizeRebuild() {
        final int limit = 8 * Table.MAX_FILL_PER_GROUP;            // fill limit of a table of 8 groups
        final int fullGroups = (limit - 1) / 8;                    // limit - 1 keys: these groups full, 7 in the next
        final int removed = fullGroups * 8;
        try (Segment s = new Segment(SegmentSpec.indirect(16).withInitialEntries(limit), memory, epochs)) {
            assertEquals(64, s.capacity());
            for (int k = 0; k < limit - 1; k++) {
                assertTrue(put(s, k, false));
            }
            for (int k = 0; k < removed; k++) {                // empty the full groups: no EMPTY byte -> tombstones
                assertTrue(remove(s, k, false));
            }
            assertEquals(removed, s.stats().tombstones());
            s.verifyInvariants();
            assertTrue(put(s, 1000, true));                    // into group 7's EMPTY: 7 + 1 + removed = limit
            assertEquals(0, s.stats().rebuilds());
            assertTrue(put(s, 1001, true));                    // would pass the limit: rebuild, same size
            SegmentStats stats = s.stats();
            assertEquals(1, stats.rebuilds(), stats.toString());
            assertEquals(0, stats.growths());
            assertEquals(64, stats.capacity());
            assertEquals(0, stats.tombstones());
            assertEquals(limit - 1 - removed + 2, s.size());
            for (int k = removed; k < limit - 1; k++) {
                assertEquals(~k, get(s, k, false));
            }
            assertEquals(~1000, get(s, 1000, true));
            assertEquals(~1001, get(s, 1001, true));
            assertEquals(Segment.NOT_FOUND, get(s, 3, false));
            assertEquals(s.stats().allocatedBytes(), memory.usedBytes(), "the old table was freed");
            s.verifyInvariants();
        }
    }

    @Test
    void aRemovalInAGroupWithAnEmptyByteLeavesNoTombstone() {
        try (Segment s = new Segment(SegmentSpec.indirect(16).withInitialEntries(48), memory, epochs)) {
            for (int k = 0; k < 12; k++) {                     // group 0 full, 4 in group 1
                put(s, k, false);
            }
            assertTrue(remove(s, 9, false));                   // group 1 has EMPTY bytes
            assertEquals(0, s.stats().tombstones());
            assertTrue(remove(s, 2, false));                   // group 0 is full: probes pass through it
            assertEquals(1, s.stats().tombstones());
            s.verifyInvariants();
            for (int k = 0; k < 12; k++) {
                assertEquals(k == 9 || k == 2 ? Segment.NOT_FOUND : ~k, get(s, k, false), "key " + k);
            }
            assertTrue(put(s, 2, false));                      // reuses the tombstone
            assertEquals(0, s.stats().tombstones());
        }
    }

    @Test
    void aProbeOfAOneGroupTableEnds() {
        // One group at its fill limit, every entry homed in it: a lookup of an absent key wraps to itself and stops.
        final int limit = Table.MAX_FILL_PER_GROUP;
        try (Segment s = new Segment(SegmentSpec.indirect(16).withInitialEntries(0), memory, epochs)) {
            for (int k = 0; k < limit; k++) {
                assertTrue(put(s, k, true));
            }
            assertEquals(8, s.capacity());
            assertEquals(Segment.NOT_FOUND, get(s, 99, true));
            assertEquals(Segment.NOT_FOUND, get(s, 99, false));
            put(s, limit, true);                               // one more grows the table
            assertEquals(1, s.stats().growths());
            for (int k = 0; k <= limit; k++) {
                assertEquals(~k, get(s, k, true));
            }
        }
    }

    @Test
    void aProbeThatWrapsPastTheLastGroupFindsAndEnds() {
        // Two groups, every key homed in the last one: it fills, and the rest wraps around into group 0.
        final int limit = 2 * Table.MAX_FILL_PER_GROUP;
        try (Segment s = new Segment(SegmentSpec.indirect(16).withInitialEntries(limit), memory, epochs)) {
            assertEquals(16, s.capacity());
            for (int k = 0; k < limit; k++) {
                assertTrue(put(s, k, true));
            }
            assertEquals(16, s.capacity());
            for (int k = 0; k < limit; k++) {                  // the last 4 sit in group 0, past the wrap
                assertEquals(~k, get(s, k, true), "key " + k);
            }
            assertEquals(Segment.NOT_FOUND, get(s, 99, true)); // full last group, then group 0's EMPTY
            assertEquals(Segment.NOT_FOUND, get(s, 99, false));
            s.verifyInvariants();                              // probe paths that wrap are valid paths
            put(s, limit, true);
            assertEquals(1, s.stats().growths());
            for (int k = 0; k <= limit; k++) {
                assertEquals(~k, get(s, k, true), "key " + k);
            }
        }
    }

    @Test
    void theSlotAddressOfAMatchIsTheSlotOfItsLowestFlag() {
        Table t = Table.allocate(memory, 5, 16);
        try {
            SplittableRandom random = new SplittableRandom(11);
            for (int group = 0; group < t.groups; group++) {
                for (int n = 0; n < 2000; n++) {
                    long match = random.nextLong() & 0x8080_8080_8080_8080L;
                    if (match == 0) {
                        continue;
                    }
                    int slot = group * 8 + ControlBytes.lowestIndex(match);
                    assertEquals(t.slotAddress(slot), t.slot16AddressOfMatch(group, match), Long.toHexString(match));
                }
            }
        } finally {
            memory.free(t.address, t.bytes);
        }
    }

    @Test
    void getLongFindsKeysPastFalseTagMatchesAndPastTheWrap() {
        // Two groups; every hash has the last home group and the same tag, so each control byte of that group
        // matches every lookup: the fast path's first candidate is wrong for all but one key, and the keys past
        // the first 8 wrap around into group 0.
        final int limit = 2 * Table.MAX_FILL_PER_GROUP;
        try (Segment s = new Segment(SegmentSpec.inline(8, 8, new KeyHasher(5)).withInitialEntries(limit), memory,
            epochs)) {
            assertEquals(16, s.capacity());
            for (int k = 0; k < limit; k++) {
                assertTrue(s.putLong(sameTagLastGroup(k), 1000L + k));
            }
            assertEquals(16, s.capacity());
            for (int k = 0; k < limit; k++) {
                assertEquals(1000L + k, s.optimisticGetLong(sameTagLastGroup(k), -1L), "key " + k);
            }
            assertEquals(-1L, s.optimisticGetLong(sameTagLastGroup(limit), -1L));    // same group and tag, absent
            assertEquals(-1L, s.optimisticGetLong(sameTagLastGroup(0) ^ 1, -1L));    // other tag, absent
            s.verifyInvariants();
        }
    }

    private static long sameTagLastGroup(int k) {
        return ((long) (k + 1) << 32) | 0xFFFF_FF80L | 0x2A;
    }

    @Test
    void getLongOfAKeyOnlySegmentReadsNoValueBytes() {
        // Value width 0: the slot is [hash : 8] only. getLong must not read the next slot (or past the table).
        KeyHasher hasher = new KeyHasher(77);
        try (Segment s = new Segment(SegmentSpec.inline(8, 0, hasher), memory, epochs)) {
            UnsafeBuffer none = new UnsafeBuffer(new byte[0]);
            for (long k = 0; k < 5000; k++) {
                key.putLong(0, k, ByteOrder.LITTLE_ENDIAN);
                assertTrue(s.put(hasher.hashFixed(k), key, 0, 8, none, 0, 0));
            }
            for (long k = 0; k < 5000; k++) {
                assertEquals(0L, s.optimisticGetLong(hasher.hashFixed(k), -1L), "key " + k);
                assertEquals(-1L, s.optimisticGetLong(hasher.hashFixed(k + 5000), -1L));
            }
            int last = -1;
            for (int slot = s.nextFull(0); slot >= 0; slot = s.nextFull(slot + 1)) {
                last = slot;
                assertEquals(0L, s.readValueLong(slot));
            }
            assertTrue(last >= 0);
        }
    }
}
