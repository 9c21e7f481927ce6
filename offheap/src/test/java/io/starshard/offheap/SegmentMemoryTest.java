package io.starshard.offheap;

import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Accounting, the budget, the entry size limit, and use after close. */
class SegmentMemoryTest {
    private final EpochDomain epochs = new EpochDomain();
    private final KeyHasher hasher = new KeyHasher(3);
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[64]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[300_000]);

    private long putIndirect(Segment s, int k, int valueLength) {
        key.putInt(0, k, ByteOrder.LITTLE_ENDIAN);
        value.setMemory(0, valueLength, (byte) k);
        long hash = hasher.hash(key, 0, 4);
        s.put(hash, key, 0, 4, value, 0, valueLength);
        return hash;
    }

    /** Everything observable about a segment: size, stats, every record, and the accountant. */
    private static String snapshot(Segment s, OffHeapMemory memory) {
        ExpandableArrayBuffer records = new ExpandableArrayBuffer(64);
        long r = s.exportRange(0, Integer.MAX_VALUE, records, 0, Integer.MAX_VALUE - 16);
        byte[] bytes = new byte[Segment.exportBytes(r)];
        records.getBytes(0, bytes);
        // The longest maintenance step is a duration, not state: a refused write may have tried to compact.
        String stats = s.stats().toString().replaceAll("longestMaintenanceStepNanos=\\d+", "");
        return s.size() + " " + stats + " used=" + memory.usedBytes() + " allocations=" + memory.liveAllocations()
            + " records=" + java.util.Arrays.hashCode(bytes) + "/" + bytes.length;
    }

    private static void assertExhausted(OffHeapMemory memory, Executable write) {
        OffHeapMemoryExhaustedException e = assertThrows(OffHeapMemoryExhaustedException.class, write);
        assertEquals(memory.budgetBytes(), e.budgetBytes());
        assertTrue(e.requestedBytes() > memory.budgetBytes() - memory.usedBytes(), e.getMessage());
        assertTrue(e.getMessage().contains(Long.toString(memory.budgetBytes())), "names the budget: " + e.getMessage());
        assertTrue(e.getMessage().contains(Long.toString(e.requestedBytes())), "names the request: " + e.getMessage());
    }

    @Test
    void clearReturnsTheSegmentToTheFootprintOfANewOne() {
        OffHeapMemory memory = OffHeapMemory.unlimited();
        Segment fresh = new Segment(SegmentSpec.indirect(300_000), memory, epochs);
        final long newFootprint = memory.usedBytes();
        fresh.close();
        Segment s = new Segment(SegmentSpec.indirect(300_000), memory, epochs);
        for (int k = 0; k < 20_000; k++) {
            putIndirect(s, k, 64 + (k * 37) % 4000);
        }
        putIndirect(s, -1, 200_000);   // a dedicated chunk too
        assertTrue(memory.usedBytes() > 50 * newFootprint, "loaded: " + memory.usedBytes());
        s.clear();
        epochs.synchronize();   // retired memory is freed once no reader can still be inside it
        assertEquals(0, s.size());
        assertEquals(newFootprint, memory.usedBytes(), "cleared: the table and arena of a new segment");
        s.verifyInvariants();
        for (int k = 0; k < 1000; k++) {   // and it works as a new one
            putIndirect(s, k, 100);
        }
        assertEquals(1000, s.size());
        s.verifyInvariants();
        s.close();
        assertEquals(0, memory.usedBytes());
    }

    @Test
    void accountingReturnsToZeroAfterCloseForEveryFormat() {
        for (SegmentSpec spec : List.of(SegmentSpec.indirect(300_000), SegmentSpec.inline(8, 8, hasher),
                                        SegmentSpec.inline(3, 0, hasher), SegmentSpec.inline(8, 16, hasher))) {
            OffHeapMemory memory = OffHeapMemory.unlimited();
            Segment s = new Segment(spec, memory, epochs);
            for (int k = 0; k < 5000; k++) {
                if (spec.isInline()) {
                    key.putLong(0, k, ByteOrder.LITTLE_ENDIAN);
                    s.put(hasher.hashFixed(key, 0, spec.keyWidth()), key, 0, spec.keyWidth(), value, 0, spec.valueWidth());
                } else {
                    putIndirect(s, k, k % 100 == 0 ? 100_000 : k % 500);
                }
            }
            assertTrue(memory.usedBytes() > 0);
            assertEquals(s.stats().allocatedBytes(), memory.usedBytes(), spec.toString());
            assertTrue(memory.peakBytes() >= memory.usedBytes());
            s.close();
            s.close();   // idempotent
            assertEquals(0, memory.usedBytes(), spec.toString());
            assertEquals(0, memory.liveAllocations(), spec.toString());
        }
    }

    @Test
    void releaseWithAReaderInsideFreesWhenTheReaderLeaves() {
        OffHeapMemory memory = OffHeapMemory.unlimited();
        Segment s = new Segment(SegmentSpec.indirect(1000), memory, epochs);
        putIndirect(s, 1, 10);
        EpochDomain.Reader reader = epochs.reader();
        reader.enter();
        try {
            s.release();
            assertTrue(memory.usedBytes() > 0, "a reader inside may still touch the memory");
            assertThrows(IllegalStateException.class, () -> s.optimisticGet(1, key, 0, 4, value, 0));
        } finally {
            reader.exit();
        }
        epochs.synchronize();
        assertEquals(0, memory.usedBytes());
        assertEquals(0, memory.liveAllocations());
    }

    @Test
    void aFirstTableOverTheBudgetFailsTheConstructor() {
        OffHeapMemory memory = new OffHeapMemory(100);
        assertExhausted(memory, () -> new Segment(SegmentSpec.inline(8, 8, hasher).withInitialEntries(1000), memory,
            epochs));
        assertEquals(0, memory.usedBytes());
        assertEquals(0, memory.liveAllocations());
    }

    @Test
    void aWriteOverTheBudgetThrowsAndChangesNothing() {
        // Room for the table (no growth needed) and exactly one 4 KiB arena chunk, besides the compaction reserve.
        SegmentSpec spec = SegmentSpec.indirect(300_000).withInitialEntries(1000);
        long table = Table.bytesFor(Table.groupsFor(1000), 16);
        long usable = table + EntryArena.FIRST_CHUNK_BYTES;
        OffHeapMemory memory = new OffHeapMemory(usable * 64 / 63 + 64);
        assertTrue(memory.budgetBytes() - memory.compactionReserveBytes() - usable < EntryArena.FIRST_CHUNK_BYTES);
        try (Segment s = new Segment(spec, memory, epochs)) {
            int k = 0;
            while (true) {
                String before = snapshot(s, memory);
                try {
                    putIndirect(s, k, 40);
                } catch (OffHeapMemoryExhaustedException e) {
                    assertTrue(e.getMessage().contains("arena chunk"), e.getMessage());
                    assertEquals(before, snapshot(s, memory), "a refused put changed the segment");
                    s.verifyInvariants();
                    final int again = k;
                    assertExhausted(memory, () -> putIndirect(s, again, 40));
                    break;
                }
                k++;
            }
            assertEquals(EntryArena.FIRST_CHUNK_BYTES / 56, k, "the first chunk was used up");
            String before = snapshot(s, memory);
            // A large entry needs a dedicated chunk: refused.
            OffHeapMemoryExhaustedException e = assertThrows(OffHeapMemoryExhaustedException.class,
                () -> putIndirect(s, -1, 100_000));
            assertTrue(e.getMessage().contains("dedicated chunk"), e.getMessage());
            assertEquals(before, snapshot(s, memory));
            // Replacing a value by one that needs a new block is refused, keeping the old value.
            key.putInt(0, 0, ByteOrder.LITTLE_ENDIAN);
            long hash = hasher.hash(key, 0, 4);
            value.setMemory(0, 200_000, (byte) 99);
            assertExhausted(memory, () -> s.put(hash, key, 0, 4, value, 0, 200_000));
            assertExhausted(memory, () -> s.replace(hash, key, 0, 4, value, 0, 200));
            int slot = s.find(hash, key, 0, 4);
            assertExhausted(memory, () -> s.replaceValue(slot, value, 0, 1000));
            assertEquals(before, snapshot(s, memory));
            s.verifyInvariants();
            ExpandableArrayBuffer out = new ExpandableArrayBuffer(64);
            assertEquals(40, s.optimisticGet(hash, key, 0, 4, out, 0));
            byte[] actual = new byte[40];
            out.getBytes(0, actual);
            assertArrayEquals(new byte[40], actual, "old value of key 0 (bytes 0)");
            // An update that fits in place needs no memory. A removed entry's block is free, but only compaction
            // can reuse it, and with a single chunk there is nowhere to move the others: the refusal says so.
            value.setMemory(0, 40, (byte) 7);
            assertFalse(s.put(hash, key, 0, 4, value, 0, 36));
            assertTrue(s.remove(hash, key, 0, 4));
            OffHeapMemoryExhaustedException refused = assertThrows(OffHeapMemoryExhaustedException.class,
                () -> putIndirect(s, -5, 40));
            assertTrue(refused.getMessage().contains("this shard holds " + (k - 1) + " entries of "
                + (long) (k - 1) * 52 + " bytes in 4096 bytes of arena chunks (" + (4096 - (k - 1) * 56)
                + " free after compaction)"), refused.getMessage());
            assertEquals(table + EntryArena.FIRST_CHUNK_BYTES, memory.usedBytes());
            s.verifyInvariants();
        }
        assertEquals(0, memory.usedBytes());
        assertEquals(0, memory.liveAllocations());
    }

    @Test
    void aRefusedEntryAfterAGrownTableWasReservedFreesTheTable() {
        // The insert past one group's fill limit needs a table of 2 groups (fits the budget) and a dedicated
        // chunk (does not).
        final int limit = Table.MAX_FILL_PER_GROUP;
        long firstTable = Table.bytesFor(1, 16);
        OffHeapMemory memory = new OffHeapMemory(firstTable + EntryArena.FIRST_CHUNK_BYTES + Table.bytesFor(2, 16)
            + 1000);
        try (Segment s = new Segment(SegmentSpec.indirect(300_000), memory, epochs)) {
            for (int k = 0; k < limit; k++) {
                putIndirect(s, k, 20);
            }
            assertEquals(8, s.capacity());
            String before = snapshot(s, memory);
            long peak = memory.peakBytes();
            OffHeapMemoryExhaustedException e = assertThrows(OffHeapMemoryExhaustedException.class,
                () -> putIndirect(s, limit, 100_000));
            assertTrue(e.getMessage().contains("dedicated chunk"), e.getMessage());
            assertTrue(memory.peakBytes() > peak, "the grown table was reserved first");
            assertEquals(before, snapshot(s, memory), "the reserved table was freed, nothing published");
            s.verifyInvariants();
            assertEquals(8, s.capacity());
            putIndirect(s, limit, 20);                  // the growth alone fits
            assertEquals(16, s.capacity());
        }
        assertEquals(0, memory.usedBytes());
        assertEquals(0, memory.liveAllocations());
    }

    @Test
    void growthOverTheBudgetThrowsAndChangesNothing() {
        for (SegmentSpec spec : List.of(SegmentSpec.inline(8, 8, hasher), SegmentSpec.indirect(100))) {
            OffHeapMemory memory = new OffHeapMemory(Table.bytesFor(1, 16) + 2 * EntryArena.FIRST_CHUNK_BYTES);
            try (Segment s = new Segment(spec, memory, epochs)) {
                int k = 0;
                while (true) {
                    String before = snapshot(s, memory);
                    key.putLong(0, k, ByteOrder.LITTLE_ENDIAN);
                    long hash = spec.isInline() ? hasher.hashFixed(k) : hasher.hash(key, 0, 8);
                    try {
                        s.put(hash, key, 0, 8, value, 0, 8);
                    } catch (OffHeapMemoryExhaustedException e) {
                        assertEquals(before, snapshot(s, memory), spec + ": a refused growth changed the segment");
                        assertTrue(e.getMessage().contains("segment table"), e.getMessage());
                        assertEquals(k, s.size());
                        s.verifyInvariants();
                        break;
                    }
                    k++;
                }
                assertTrue(k >= 7, spec + " held " + k);
                // Still fully usable: updates in place need no memory.
                key.putLong(0, 0, ByteOrder.LITTLE_ENDIAN);
                long hash = spec.isInline() ? hasher.hashFixed(0) : hasher.hash(key, 0, 8);
                value.putLong(0, 42, ByteOrder.LITTLE_ENDIAN);
                assertFalse(s.put(hash, key, 0, 8, value, 0, 8));
                ExpandableArrayBuffer out = new ExpandableArrayBuffer(16);
                assertEquals(8, s.optimisticGet(hash, key, 0, 8, out, 0));
                assertEquals(42, out.getLong(0, ByteOrder.LITTLE_ENDIAN));
            }
            assertEquals(0, memory.usedBytes());
        }
    }

    @Test
    void anEntryOverTheMaximumIsRejectedWithBothSizes() {
        OffHeapMemory memory = OffHeapMemory.unlimited();
        try (Segment s = new Segment(SegmentSpec.indirect(1000), memory, epochs)) {
            long hash = putIndirect(s, 1, 996);          // exactly the maximum: 4 + 996
            String before = snapshot(s, memory);
            EntryTooLargeException e = assertThrows(EntryTooLargeException.class,
                () -> s.put(hash, key, 0, 4, value, 0, 997));
            assertEquals(1001, e.entryBytes());
            assertEquals(1000, e.maxEntryBytes());
            assertTrue(e.getMessage().contains("1001") && e.getMessage().contains("1000"), e.getMessage());
            assertThrows(EntryTooLargeException.class, () -> s.putIfAbsent(hash + 1, key, 1, 4, value, 0, 997));
            assertThrows(EntryTooLargeException.class, () -> s.insert(hash + 1, key, 1, 4, value, 0, 997));
            int slot = s.find(hash, key, 0, 4);
            assertThrows(EntryTooLargeException.class, () -> s.replaceValue(slot, value, 0, 997));
            assertEquals(before, snapshot(s, memory));
        }
        try (Segment s = new Segment(SegmentSpec.inline(8, 8, hasher), memory, epochs)) {
            assertThrows(IllegalArgumentException.class, () -> s.put(hasher.hashFixed(0), key, 0, 8, value, 0, 9));
            assertThrows(IllegalArgumentException.class, () -> s.put(hasher.hashFixed(0), key, 0, 7, value, 0, 8));
            assertEquals(0, s.size());
        }
    }

    @Test
    void everyUseAfterCloseThrowsIllegalStateException() {
        for (SegmentSpec spec : List.of(SegmentSpec.indirect(100), SegmentSpec.inline(8, 8, hasher))) {
            OffHeapMemory memory = OffHeapMemory.unlimited();
            Segment s = new Segment(spec, memory, epochs);
            key.putLong(0, 5, ByteOrder.LITTLE_ENDIAN);
            long hash = spec.isInline() ? hasher.hashFixed(5) : hasher.hash(key, 0, 8);
            s.put(hash, key, 0, 8, value, 0, 8);
            int slot = s.find(hash, key, 0, 8);
            ExpandableArrayBuffer out = new ExpandableArrayBuffer(16);
            s.close();
            assertTrue(s.isClosed());
            assertEquals(0, memory.usedBytes());
            List<Executable> uses = new ArrayList<>(List.of(
                () -> s.optimisticGet(hash, key, 0, 8, out, 0),
                () -> s.optimisticLookup(hash, key, 0, 8),
                () -> s.find(hash, key, 0, 8),
                () -> s.hashAt(slot),
                () -> s.keyLength(slot),
                () -> s.readKey(slot, out, 0),
                () -> s.valueLength(slot),
                () -> s.readValue(slot, out, 0),
                () -> s.nextFull(0),
                () -> s.put(hash, key, 0, 8, value, 0, 8),
                () -> s.putIfAbsent(hash, key, 0, 8, value, 0, 8),
                () -> s.replace(hash, key, 0, 8, value, 0, 8),
                () -> s.remove(hash, key, 0, 8),
                () -> s.insert(hash, key, 0, 8, value, 0, 8),
                () -> s.replaceValue(slot, value, 0, 8),
                () -> s.removeAt(slot),
                () -> s.clear(),
                () -> s.capacity(),
                () -> s.exportRange(0, 100, out, 0, 1000),
                () -> s.importRecords(out, 0, 0),
                () -> s.verifyInvariants()));
            if (spec.isInline()) {
                uses.add(() -> s.optimisticGetLong(hash, 0));
                uses.add(() -> s.putLong(hash, 1));
                uses.add(() -> s.insertLong(hash + 1, 1));
                uses.add(() -> s.readKeyBits(slot));
                uses.add(() -> s.readValueLong(slot));
                uses.add(() -> s.replaceValueLong(slot, 1));
            }
            for (int i = 0; i < uses.size(); i++) {
                IllegalStateException e = assertThrows(IllegalStateException.class, uses.get(i), spec + ", use " + i);
                assertTrue(e.getMessage().contains("closed"), e.getMessage());
            }
            assertEquals(0, memory.usedBytes(), "no use after close allocated anything");
            s.release();
            s.close();
            assertEquals("Segment{closed}", s.toString());
        }
    }
}
