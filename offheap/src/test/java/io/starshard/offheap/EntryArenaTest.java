package io.starshard.offheap;

import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EntryArenaTest {
    private static final int MAX_ENTRY = 200_000;
    private final EpochDomain epochs = new EpochDomain();
    private final OffHeapMemory memory = OffHeapMemory.unlimited();
    private final EntryArena arena = new EntryArena(memory, epochs, MAX_ENTRY);
    private final UnsafeBuffer key = new UnsafeBuffer(new byte[64]);
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[MAX_ENTRY]);

    @AfterEach
    void retireEverything() {
        arena.reset();
        epochs.synchronize();   // blocks of 1 MiB and more are freed by the releaser thread; this waits for it
        assertEquals(0, memory.usedBytes(), "arena memory after reset");
        assertEquals(0, memory.liveAllocations());
    }

    private long put(int keyLength, int valueLength, int fill) {
        key.setMemory(0, keyLength, (byte) fill);
        value.setMemory(0, valueLength, (byte) ~fill);
        return arena.allocateEntry(key, 0, keyLength, value, 0, valueLength);
    }

    private void assertEntry(long ref, int keyLength, int valueLength, int fill) {
        key.setMemory(0, keyLength, (byte) fill);
        ExpandableArrayBuffer out = new ExpandableArrayBuffer(8);
        assertEquals(valueLength, arena.readIfKey(ref, key, 0, keyLength, out, 3));
        for (int i = 0; i < valueLength; i++) {
            assertEquals((byte) ~fill, out.getByte(3 + i));
        }
        assertEquals(keyLength, EntryArena.keyLength(arena.trustedAddress(ref)));
        assertEquals(valueLength, EntryArena.valueLength(arena.trustedAddress(ref)));
    }

    /** The block an entry of these lengths takes: its bytes rounded up to 8. */
    private static int block(int keyLength, int valueLength) {
        return EntryDescriptor.blockBytes(EntryDescriptor.entryBytes(keyLength, valueLength));
    }

    @Test
    void entriesArePackedOneAfterAnotherWithNoRoundingBeyondEightBytes() {
        long a = put(8, 8, 1);          // 24 B
        long b = put(3, 10, 2);         // 21 -> 24 B
        long c = put(8, 100, 3);        // 116 -> 120 B
        assertEquals(EntryDescriptor.refChunkId(a), EntryDescriptor.refChunkId(c));
        assertEquals(0, EntryDescriptor.refOffset(a));
        assertEquals(24, EntryDescriptor.refOffset(b));
        assertEquals(48, EntryDescriptor.refOffset(c));
        assertEquals(24 + 21 + 116, arena.liveEntryBytes());
        assertEquals(EntryArena.FIRST_CHUNK_BYTES, arena.reservedBytes());
        assertEquals(EntryArena.FIRST_CHUNK_BYTES - 168, arena.freeBytes());
        arena.free(b);
        assertEquals(EntryArena.FIRST_CHUNK_BYTES - 144, arena.freeBytes(), "a freed entry's block is free bytes");
        long d = put(1, 1, 4);
        assertEquals(168, EntryDescriptor.refOffset(d), "carved from the end, not from the freed block");
        assertEntry(a, 8, 8, 1);
        assertEntry(c, 8, 100, 3);
        assertEntry(d, 1, 1, 4);
        assertEquals(null, census(a, c, d));
    }

    @Test
    void chunksGrowAndAnEmptiedChunkGoesBackAtOnce() {
        List<Long> refs = new ArrayList<>();
        for (int i = 0; i < 3000; i++) {
            refs.add(put(16, 1000, i));  // 1024 B blocks
        }
        assertEquals(memory.usedBytes(), arena.reservedBytes());
        for (int i = 0; i < refs.size(); i += 97) {
            assertEntry(refs.get(i), 16, 1000, i);
        }
        // Chunks double up to the maximum.
        Set<Integer> chunkIds = new HashSet<>();
        refs.forEach(r -> chunkIds.add(EntryDescriptor.refChunkId(r)));
        assertTrue(chunkIds.size() < 3000L * 1024 / EntryArena.FIRST_CHUNK_BYTES / 4, "chunks grew: " + chunkIds.size());
        // Remove every entry of the first (closed) chunk: it is returned, the others keep theirs.
        int first = EntryDescriptor.refChunkId(refs.get(0));
        long reserved = arena.reservedBytes();
        List<Long> kept = new ArrayList<>();
        for (long ref : refs) {
            if (EntryDescriptor.refChunkId(ref) == first) {
                arena.free(ref);
            } else {
                kept.add(ref);
            }
        }
        assertEquals(reserved - EntryArena.FIRST_CHUNK_BYTES, arena.reservedBytes());
        epochs.synchronize();
        assertEquals(arena.reservedBytes(), memory.usedBytes(), "the emptied chunk's memory is freed");
        assertEquals(null, census(kept.stream().mapToLong(Long::longValue).toArray()));
    }

    @Test
    void anEmptiedOpenChunkIsCarvedAgainFromItsStart() {
        long a = put(8, 8, 1);
        long b = put(8, 8, 2);
        arena.free(a);
        arena.free(b);
        assertEquals(EntryArena.FIRST_CHUNK_BYTES, arena.reservedBytes(), "the open chunk is kept");
        long c = put(8, 8, 3);
        assertEquals(a, c, "carved again from offset 0");
        assertEntry(c, 8, 8, 3);
    }

    @Test
    void dedicatedChunksAreRetiredThroughTheEpochDomain() {
        long ref = put(10, 100_000, 7);
        assertEquals(EntryDescriptor.blockBytes(8 + 10 + 100_000), arena.reservedBytes());
        assertEntry(ref, 10, 100_000, 7);
        EpochDomain.Reader reader = epochs.reader();
        reader.enter();
        try {
            arena.free(ref);
            assertEquals(0, arena.reservedBytes());
            assertEquals(EntryDescriptor.blockBytes(8 + 10 + 100_000), memory.usedBytes(), "held while a reader is inside");
            key.setMemory(0, 10, (byte) 7);
            assertEquals(EntryArena.INVALID, arena.readIfKey(ref, key, 0, 10, null, 0), "freed chunk id is gone");
        } finally {
            reader.exit();
        }
        epochs.reclaim();
        assertEquals(0, memory.usedBytes());
    }

    @Test
    void inPlaceUpdatesWhenTheBlockDoesNotGrowAndAShrunkBlockFreesItsRest() {
        long ref = put(8, 40, 1);       // 56 B block
        long live = arena.liveEntryBytes();
        long free = arena.freeBytes();
        value.setMemory(0, 41, (byte) 0x55);
        assertEquals(EntryArena.DOES_NOT_FIT, arena.writeValueIfItFits(ref, value, 0, 41), "64 B > 56");
        assertEquals(live, arena.liveEntryBytes(), "nothing written");
        assertEquals(EntryArena.WRITTEN, arena.writeValueIfItFits(ref, value, 0, 36));   // 52 -> 56 B: same block
        assertEquals(free, arena.freeBytes());
        assertEquals(EntryArena.WRITTEN_SHRUNK, arena.writeValueIfItFits(ref, value, 0, 30));   // 46 -> 48 B
        assertEquals(live - 10, arena.liveEntryBytes());
        assertEquals(free + 8, arena.freeBytes(), "the rest of the block is free bytes");
        assertEquals(EntryArena.DOES_NOT_FIT, arena.writeValueIfItFits(ref, value, 0, 40), "the block is now 48 bytes");
        assertEquals(null, census(ref));
        key.setMemory(0, 8, (byte) 1);
        ExpandableArrayBuffer out = new ExpandableArrayBuffer(8);
        assertEquals(30, arena.readIfKey(ref, key, 0, 8, out, 0));
        assertEquals((byte) 0x55, out.getByte(29));
        long moved = arena.allocateWithNewValue(ref, value, 0, 500);
        arena.free(ref);
        assertEquals(500, arena.readIfKey(moved, key, 0, 8, out, 0));
        long large = put(8, 40_000, 2);                           // a dedicated chunk of 40,016 bytes
        assertEquals(EntryArena.WRITTEN, arena.writeValueIfItFits(large, value, 0, 30_000));
        assertEquals(EntryArena.DOES_NOT_FIT, arena.writeValueIfItFits(large, value, 0, 19_000), "half empty");
        assertEquals(null, census(moved, large));
    }

    @Test
    void readIfKeyRejectsEveryMalformedReferenceAndHeader() {
        long ref = put(8, 16, 9);
        key.setMemory(0, 8, (byte) 9);
        int chunk = (int) (ref >>> 32);
        int offset = (int) ref;
        assertEquals(16, arena.readIfKey(ref, key, 0, 8, null, 0) + 16);
        assertEquals(EntryArena.KEY_MISMATCH, arena.readIfKey(ref, key, 0, 7, null, 0));
        key.putByte(7, (byte) 0);
        assertEquals(EntryArena.KEY_MISMATCH, arena.readIfKey(ref, key, 0, 8, null, 0));
        long[] bad = {
            EntryDescriptor.ref(chunk + 1, offset), EntryDescriptor.ref(-1, offset), EntryDescriptor.ref(1 << 20, 0),
            EntryDescriptor.ref(chunk, offset + 4), EntryDescriptor.ref(chunk, -8), EntryDescriptor.ref(chunk, 1 << 30),
            EntryDescriptor.ref(chunk, EntryArena.FIRST_CHUNK_BYTES - 4),
            EntryDescriptor.ref(chunk, EntryArena.FIRST_CHUNK_BYTES),
            -1L, Long.MIN_VALUE,
        };
        for (long r : bad) {
            assertEquals(EntryArena.INVALID, arena.readIfKey(r, key, 0, 8, null, 0), Long.toHexString(r));
        }
        long address = arena.trustedAddress(ref);
        // Headers a racing writer could leave: another entry's bytes, huge and negative lengths, past the chunk end.
        long[] headers = {
            EntryDescriptor.ref(chunk, EntryArena.FIRST_CHUNK_BYTES - 8), -1L, 0x7FFF_FFFF_0000_0008L,
            0x8000_0000_0000_0008L, ((long) (EntryArena.FIRST_CHUNK_BYTES) << 32) | 8, 0x00FF_FFFFL,
        };
        ExpandableArrayBuffer out = new ExpandableArrayBuffer(8);
        for (long header : headers) {
            MemoryAccess.putLong(address, header);
            int r = arena.readIfKey(ref, key, 0, 8, out, 0);
            assertTrue(r == EntryArena.INVALID || r == EntryArena.KEY_MISMATCH, Long.toHexString(header) + " -> " + r);
        }
        assertTrue(out.capacity() <= 64, "nothing was copied");
        MemoryAccess.putLong(address, 8L | (16L << 32));  // restore: key 8, value 16, packed
        key.setMemory(0, 8, (byte) 9);
        assertEquals(16, arena.readIfKey(ref, key, 0, 8, out, 0));
    }

    @Test
    void randomAllocateFreeKeepsEveryLiveEntryIntactAndAccounted() {
        SplittableRandom random = new SplittableRandom(21);
        List<long[]> live = new ArrayList<>();   // {ref, keyLength, valueLength, fill}
        long liveBytes = 0;
        for (int op = 0; op < 40_000; op++) {
            if (live.isEmpty() || random.nextInt(100) < 55) {
                int k = random.nextInt(65);
                int v = random.nextInt(20) == 0 ? random.nextInt(MAX_ENTRY - 64) : random.nextInt(600);
                int fill = random.nextInt(256);
                live.add(new long[] {put(k, v, fill), k, v, fill});
                liveBytes += 8 + k + v;
            } else {
                long[] e = live.remove(random.nextInt(live.size()));
                if (random.nextBoolean()) {
                    assertEntry(e[0], (int) e[1], (int) e[2], (int) e[3]);
                }
                arena.free(e[0]);
                liveBytes -= 8 + e[1] + e[2];
            }
            assertEquals(liveBytes, arena.liveEntryBytes());
        }
        for (long[] e : live) {
            assertEntry(e[0], (int) e[1], (int) e[2], (int) e[3]);
        }
        assertEquals(memory.usedBytes(), arena.reservedBytes());
        assertTrue(arena.freeBytes() + arena.liveEntryBytes() <= arena.reservedBytes());
        assertEquals(null, census(live.stream().mapToLong(e -> e[0]).toArray()), "every chunk accounted");
    }

    /** Runs a census with these live references; returns the first violation or null. */
    private String census(long... liveRefs) {
        EntryArena.Census census = arena.census();
        for (long ref : liveRefs) {
            String problem = census.addLive(ref);
            if (problem != null) {
                return problem;
            }
        }
        return census.finish();
    }

    @Test
    void compactionEmptiesTheSparsestChunksAndKeepsEveryEntry() {
        List<long[]> live = new ArrayList<>();   // {ref, keyLength, valueLength, fill}
        for (int i = 0; i < 4000; i++) {
            live.add(new long[] {put(8, 200 + i % 300, i), 8, 200 + i % 300, i});
        }
        SplittableRandom random = new SplittableRandom(5);
        List<long[]> kept = new ArrayList<>();
        for (long[] e : live) {
            if (random.nextInt(10) < 7) {
                arena.free(e[0]);                 // 70 % removed, spread over every chunk
            } else {
                kept.add(e);
            }
        }
        long reserved = arena.reservedBytes();
        assertTrue(arena.compactionDue(), "more than a sixth is dead");
        int rounds = 0;
        while (arena.chooseVictims(true, true)) {      // each round copies at most one maximum chunk of live entries
            for (long[] e : kept) {              // what the segment's walk of its slots does
                if (arena.isEvacuating(e[0])) {
                    e[0] = arena.relocate(e[0]);
                }
            }
            assertFalse(arena.evacuating(), "every chosen chunk emptied and returned");
            assertEquals(null, census(kept.stream().mapToLong(e -> e[0]).toArray()));
            assertTrue(++rounds < 100);
        }
        assertTrue(arena.reservedBytes() < reserved && arena.reservedBytes()
            <= arena.liveEntryBytes() + 2L * EntryArena.MAX_CHUNK_BYTES, "what is left is the live entries, the open"
            + " chunk and the chunk they were copied into: " + arena.reservedBytes() + " of " + reserved);
        assertTrue(arena.relocatedBytes() > 0);
        for (long[] e : kept) {
            assertEntry(e[0], (int) e[1], (int) e[2], (int) e[3]);
        }
        assertEquals(null, census(kept.stream().mapToLong(e -> e[0]).toArray()));
        epochs.synchronize();
        assertEquals(arena.reservedBytes(), memory.usedBytes());
        assertFalse(arena.compactionDue(), "what is left free is below the threshold");
    }

    /**
     * Allocates entries of an 8-byte key and {@code valueLength} bytes in {@code arena} until its budget refuses
     * one, short of the compaction reserve; returns their references.
     */
    private List<Long> fillUntilRefused(EntryArena arena, int valueLength) {
        List<Long> refs = new ArrayList<>();
        try {
            while (true) {
                key.setMemory(0, 8, (byte) refs.size());
                refs.add(arena.allocateEntry(key, 0, 8, value, 0, valueLength));
            }
        } catch (OffHeapMemoryExhaustedException full) {
            assertTrue(full.getMessage().contains("kept for compaction"), full.getMessage());
        }
        return refs;
    }

    @Test
    void underABudgetChunksShrinkNearTheEndAndCompactionMayUseTheReserve() {
        OffHeapMemory budget = new OffHeapMemory(4 << 20);
        EntryArena small = new EntryArena(budget, epochs, MAX_ENTRY);
        List<Long> refs = fillUntilRefused(small, 1000);
        long live = small.liveEntryBytes();
        assertTrue(live > 0.95 * (budget.budgetBytes() - budget.compactionReserveBytes()),
            "the budget fills: " + live + " of " + budget.budgetBytes());
        // Half the entries go; compaction empties chunks through the reserve although ordinary allocations fail.
        List<Long> kept = freeEveryOther(small, refs);
        // Round after round, as the segment's compaction for room does: each round's copies must fit what the
        // budget has left, and the chunks it empties are freed before the next round chooses.
        int rounds = 0;
        while (small.chooseVictims(true, false)) {
            for (int i = 0; i < kept.size(); i++) {
                if (small.isEvacuating(kept.get(i))) {
                    kept.set(i, small.relocate(kept.get(i)));
                }
            }
            assertFalse(small.evacuating());
            epochs.synchronize();
            assertTrue(++rounds < 1000);
        }
        assertTrue(rounds > 1, "the reserve alone does not hold half the entries: several rounds");
        assertTrue(budget.usedBytes() < 0.6 * budget.budgetBytes(), "half came back: " + budget);
        small.reset();
        epochs.synchronize();
        assertEquals(0, budget.usedBytes());
    }

    @Test
    void chunksAreChosenOnlyWhenTheBudgetHoldsTheirSurvivors() {
        OffHeapMemory budget = new OffHeapMemory(1 << 20);
        EntryArena small = new EntryArena(budget, epochs, MAX_ENTRY);
        List<Long> refs = fillUntilRefused(small, 500);
        List<Long> kept = freeEveryOther(small, refs);
        // Something else takes the reserve: no survivor chunk fits, so nothing is chosen and nothing changes.
        long squatBytes = budget.availableBytes(true);
        long squatter = budget.allocate(squatBytes, "the test", true);
        long reserved = small.reservedBytes();
        assertFalse(small.chooseVictims(true, false));
        assertFalse(small.evacuating());
        assertEquals(reserved, small.reservedBytes());
        EntryArena.Census census = small.census();
        for (long ref : kept) {
            assertEquals(null, census.addLive(ref));
        }
        assertEquals(null, census.finish());
        budget.free(squatter, squatBytes);
        assertTrue(small.chooseVictims(true, false), "with the reserve back, compaction can start");
        for (int i = 0; i < kept.size(); i++) {
            if (small.isEvacuating(kept.get(i))) {
                kept.set(i, small.relocate(kept.get(i)));
            }
        }
        assertFalse(small.evacuating());
        small.reset();
        epochs.synchronize();
        assertEquals(0, budget.usedBytes());
    }

    @Test
    void theCensusPassesAHealthyArenaWithRecycledTailsAndDedicatedChunks() {
        List<Long> live = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            live.add(put(i % 60, 30 + i * 7 % 900, i));       // several chunks: tails recycled into free blocks
        }
        live.add(put(10, 100_000, 1));                           // a dedicated chunk
        for (int i = 0; i < live.size(); i += 3) {
            arena.free(live.get(i));
        }
        long[] refs = new long[live.size()];
        int n = 0;
        for (int i = 0; i < live.size(); i++) {
            if (i % 3 != 0) {
                refs[n++] = live.get(i);
            }
        }
        assertEquals(null, census(java.util.Arrays.copyOf(refs, n)));
    }

    @Test
    void theCensusNamesALeakedEntry() {
        long a = put(8, 16, 1);
        put(8, 16, 2);                                            // live, but no slot will name it
        String problem = census(a);
        assertTrue(problem != null && problem.contains("live entries hold 32 bytes, the arena accounts 64"), problem);
    }

    @Test
    void theCensusNamesAReferenceToAFreedEntry() {
        long a = put(8, 16, 1);
        long b = put(8, 16, 2);
        arena.free(b);
        String problem = census(a, b);                            // b is free, yet a slot names it
        assertTrue(problem != null && problem.contains("the arena accounts 32"), problem);
    }

    @Test
    void theCensusNamesAReferenceHeldTwice() {
        long a = put(8, 16, 1);
        String problem = census(a, a);
        assertTrue(problem != null && problem.contains("a reference held twice"), problem);
    }

    @Test
    void theCensusNamesAnEntryPastTheCarvedEndOfTheOpenChunk() {
        long a = put(8, 16, 1);
        long beyond = EntryDescriptor.ref(EntryDescriptor.refChunkId(a), 2048);   // never carved
        MemoryAccess.putLong(arena.trustedAddress(beyond), 8L | (16L << 32));
        String problem = census(a, beyond);
        assertTrue(problem != null && problem.contains("ends past 32"), problem);
    }

    @Test
    void theCensusNamesAChunkMarkedForEmptyingThatIsNotCounted() {
        List<Long> refs = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            refs.add(put(8, 500, i));
        }
        for (int i = 0; i < 90; i++) {
            arena.free(refs.get(i));
        }
        assertTrue(arena.chooseVictims(true, true));
        assertEquals(null, census(refs.subList(90, 100).stream().mapToLong(Long::longValue).toArray()));
        arena.abandonVictims();
        assertEquals(null, census(refs.subList(90, 100).stream().mapToLong(Long::longValue).toArray()));
    }

    /** Frees the entries at even positions and returns the others, in order. */
    private static List<Long> freeEveryOther(EntryArena arena, List<Long> refs) {
        List<Long> kept = new ArrayList<>();
        for (int i = 0; i < refs.size(); i++) {
            if (i % 2 == 0) {
                arena.free(refs.get(i));
            } else {
                kept.add(refs.get(i));
            }
        }
        return kept;
    }
}
