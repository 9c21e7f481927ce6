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

    @Test
    void sizeClassesCoverEverySizeWithAtMostQuarterRounding() {
        int previous = 0;
        for (int c = 0; c < EntryArena.CLASS_COUNT; c++) {
            int size = EntryArena.classSize(c);
            assertTrue(size > previous && size % 8 == 0, "class " + c + " size " + size);
            assertEquals(c, EntryArena.classIndex(size));
            previous = size;
        }
        assertEquals(EntryArena.MAX_SMALL_BLOCK, EntryArena.classSize(EntryArena.CLASS_COUNT - 1));
        for (int size = 8; size <= EntryArena.MAX_SMALL_BLOCK; size += 8) {
            int c = EntryArena.classIndex(size);
            int block = EntryArena.classSize(c);
            assertTrue(block >= size, "size " + size + " in class " + c + " of " + block);
            assertTrue(c == 0 || EntryArena.classSize(c - 1) < size, "size " + size + " not in the smallest class");
            assertTrue(size <= 128 ? block == size : block - size <= size / 4, "rounding of " + size + " to " + block);
        }
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

    @Test
    void freeListsAreLastInFirstOutPerClassAndAccounted() {
        long a = put(8, 8, 1);          // 24 B -> class of 24
        long b = put(8, 8, 2);
        long big = put(8, 100, 3);      // 116 -> 120
        assertEquals(3 * 0 + 8 + 8 + 8 + 8 + 8 + 8 + 8 + 8 + 100, arena.liveEntryBytes());
        long reserved = arena.reservedBytes();
        assertEquals(EntryArena.FIRST_CHUNK_BYTES, reserved);
        assertEquals(reserved, memory.usedBytes());
        arena.free(a);
        assertEquals(24, arena.freeListBytes());
        arena.free(b);
        assertEquals(48, arena.freeListBytes());
        long c = put(4, 12, 4);         // same class (24 B): reuses b, then a
        long d = put(10, 6, 5);
        assertEquals(b, c);
        assertEquals(a, d);
        assertEquals(0, arena.freeListBytes());
        assertEquals(reserved, arena.reservedBytes(), "reuse allocates nothing");
        assertEntry(c, 4, 12, 4);
        assertEntry(d, 10, 6, 5);
        assertEntry(big, 8, 100, 3);
    }

    @Test
    void chunksGrowAndTheirTailsAreRecycled() {
        List<Long> refs = new ArrayList<>();
        Set<Long> distinct = new HashSet<>();
        for (int i = 0; i < 3000; i++) {
            long ref = put(16, 1000, i);  // 1024 B blocks
            refs.add(ref);
            assertTrue(distinct.add(ref));
        }
        assertTrue(arena.reservedBytes() > 3000L * 1024);
        assertEquals(memory.usedBytes(), arena.reservedBytes());
        // Every block lies in its chunk and holds what was written.
        for (int i = 0; i < refs.size(); i += 97) {
            assertEntry(refs.get(i), 16, 1000, i);
        }
        // The small tails cut off when chunks filled up are on free lists: small entries use them first.
        long before = arena.reservedBytes();
        long tails = arena.freeListBytes();
        for (long used = 0; used + 8 <= tails; used += 8) {
            put(0, 0, 0);   // 8-byte entries: any free block of class 8 ... none may need a new chunk
            if (arena.freeListBytes() == tails) {
                break;      // no 8-byte tails left; larger tail blocks are not split
            }
        }
        assertEquals(before, arena.reservedBytes());
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
    void inPlaceUpdatesOnlyWhenTheBlockFitsAndIsNotHalfEmpty() {
        long ref = put(8, 40, 1);       // 56 B block
        assertTrue(arena.fitsInPlace(ref, 40));
        assertTrue(arena.fitsInPlace(ref, 20));      // 40 B > 28
        assertFalse(arena.fitsInPlace(ref, 41));     // 64 B > 56
        assertTrue(arena.fitsInPlace(ref, 12));      // 32 B: more than half of 56
        assertFalse(arena.fitsInPlace(ref, 4));      // 24 B: would waste more than half
        value.setMemory(0, 30, (byte) 0x55);
        long live = arena.liveEntryBytes();
        arena.writeValueInPlace(ref, value, 0, 30);
        assertEquals(live - 10, arena.liveEntryBytes());
        key.setMemory(0, 8, (byte) 1);
        ExpandableArrayBuffer out = new ExpandableArrayBuffer(8);
        assertEquals(30, arena.readIfKey(ref, key, 0, 8, out, 0));
        assertEquals((byte) 0x55, out.getByte(29));
        long moved = arena.allocateWithNewValue(ref, value, 0, 500);
        arena.free(ref);
        assertEquals(500, arena.readIfKey(moved, key, 0, 8, out, 0));
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
            EntryDescriptor.NO_BLOCK, Long.MIN_VALUE,
        };
        for (long r : bad) {
            assertEquals(EntryArena.INVALID, arena.readIfKey(r, key, 0, 8, null, 0), Long.toHexString(r));
        }
        long address = arena.trustedAddress(ref);
        // Headers a racing writer could leave: a free-list link, huge and negative lengths, past the chunk end.
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
        MemoryAccess.putLong(address, 8L | (16L << 32) | ((long) EntryArena.classIndex(32) << 24));  // restore
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
        assertTrue(arena.freeListBytes() + arena.liveEntryBytes() <= arena.reservedBytes());
        assertEquals(null, census(live.stream().mapToLong(e -> e[0]).toArray()), "every chunk tiled and accounted");
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
    void theCensusNamesALeakedBlock() {
        long a = put(8, 16, 1);
        put(8, 16, 2);                                            // live, but no slot will name it
        String problem = census(a);
        assertTrue(problem != null && problem.contains("live entries hold 32 bytes, the arena accounts 64"), problem);
    }

    @Test
    void theCensusNamesAReferenceToAFreedBlock() {
        long a = put(8, 16, 1);
        long b = put(8, 16, 2);
        arena.free(b);
        String problem = census(a, b);                            // b is free, yet a slot names it
        assertTrue(problem != null && problem.contains("reference " + Long.toHexString(b)), problem);
    }

    @Test
    void theCensusNamesAFreeListCycle() {
        long a = put(8, 16, 1);
        long b = put(8, 16, 2);
        long c = put(8, 16, 3);
        arena.free(a);
        arena.free(b);                                            // list: b -> a -> end
        MemoryAccess.putLong(arena.trustedAddress(a) + EntryDescriptor.FREE_LINK_OFFSET, b);   // a -> b: a cycle
        String problem = census(c);
        assertTrue(problem != null && problem.contains("free-list cycle"), problem);
        MemoryAccess.putLong(arena.trustedAddress(a) + EntryDescriptor.FREE_LINK_OFFSET, EntryDescriptor.NO_BLOCK);
        assertEquals(null, census(c));
    }

    @Test
    void theCensusNamesAFreeLinkOutsideTheCarvedPartOfTheChunk() {
        long a = put(8, 16, 1);
        long c = put(8, 16, 3);
        arena.free(a);
        // The chunk being carved ends at its bump offset (64): a block at 2048 was never handed out.
        MemoryAccess.putLong(arena.trustedAddress(a) + EntryDescriptor.FREE_LINK_OFFSET,
            EntryDescriptor.ref(EntryDescriptor.refChunkId(a), 2048));
        String problem = census(c);
        assertTrue(problem != null && problem.contains("is not an aligned block below its chunk's end 64"), problem);
        MemoryAccess.putLong(arena.trustedAddress(a) + EntryDescriptor.FREE_LINK_OFFSET, EntryDescriptor.NO_BLOCK);
    }
}
