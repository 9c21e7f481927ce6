package io.starshard.offheap;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.util.Arrays;
import java.util.BitSet;

/**
 * Off-heap storage for the entries of an indirect segment: entries packed one after another into chunks, and
 * compaction that empties sparse chunks. The entry header and the reference format are laid out in
 * {@link EntryDescriptor}.
 *
 * <h2>Why packing and evacuation, not size classes</h2>
 * An entry takes exactly its bytes rounded up to 8, carved from the end of the segment's <em>open</em> chunk
 * (a bump pointer). A freed entry only lowers its chunk's live count; its bytes stay dead until the chunk is
 * emptied, by removals (the chunk is then returned at once) or by compaction, which copies the chunk's live
 * entries into the open chunk, repoints their slots and returns the chunk. Free space therefore serves any size,
 * there is no rounding beyond 8 bytes and no free list to walk, and every byte comes back to the budget once
 * its chunk is empty. The price is the copying, paid in bounded steps ({@link Compaction}), and only for chunks
 * that are at least {@code 1/}{@value #VICTIM_FREE_SHARE} free. Size classes with per-class free lists round
 * up to 25 % per entry and keep freed blocks for their class only; splitting and coalescing allocators
 * (buddy, TLSF) reuse any size but still cannot return a chunk with one live entry left in it, and the
 * fragmentation they leave needs the same evacuation to undo.
 *
 * <h2>Chunks</h2>
 * Chunk sizes double from {@value #FIRST_CHUNK_BYTES} bytes to {@value #MAX_CHUNK_BYTES}, so a small segment
 * stays small; under a budget a new chunk takes at most a 64th of what is left of it, so that near the end of
 * the budget the segments' open chunks are small and the budget fills up. An entry whose block is larger
 * than {@value #MAX_PACKED_BLOCK} bytes gets a dedicated chunk of its own size, so the tail a chunk loses when
 * the next entry does not fit is at most a 16th of it.
 *
 * <h2>Read safety</h2>
 * A chunk is unmapped only through the {@link EpochDomain}, after its last entry left it: no reader can reach
 * it from the table any more, and one that loaded a reference before stays inside mapped memory until it
 * leaves its section. Bytes of a chunk that is still mapped may be rewritten under a reader (a value updated in
 * place, the open chunk refilled from its start once emptied); the reader's stamp validation rejects what it
 * read then. Every reference and every length read from shared memory is checked against the chunk it names
 * ({@link #readIfKey}) before use, and the header is loaded once: the lengths used are exactly the lengths
 * checked.
 *
 * <p>Not thread-safe for writing: the owning segment's writer lock serialises every mutating call. Only
 * {@link #readIfKey} may run concurrently with a writer.
 */
final class EntryArena {
    /** Size of the first chunk: a lazily created small shard stays small. */
    static final int FIRST_CHUNK_BYTES = 4096;
    /** Largest chunk; each new one doubles up to this size. */
    static final int MAX_CHUNK_BYTES = 256 * 1024;
    /** Largest block packed into the chunks; a larger entry gets a dedicated chunk. */
    static final int MAX_PACKED_BLOCK = MAX_CHUNK_BYTES / 16;
    /** A closed chunk is worth emptying once at least {@code 1/VICTIM_FREE_SHARE} of it is free. */
    static final int VICTIM_FREE_SHARE = 8;
    /** Compaction is due when more than {@code 1/DUE_FREE_SHARE} of the packed chunks' bytes is dead ... */
    static final int DUE_FREE_SHARE = 6;
    /** ... and at least this many bytes: the slack each segment keeps without compacting. */
    static final int MIN_FREE_BYTES = 64 * 1024;
    /** Compaction started by {@link #DUE_FREE_SHARE} brings the dead bytes down to {@code 1/TARGET_FREE_SHARE}. */
    static final int TARGET_FREE_SHARE = 12;
    /** Under a budget, a new chunk takes at most {@code 1/BUDGET_SHARE} of what the budget has left. */
    static final int BUDGET_SHARE = 64;

    /** An off-heap chunk; immutable, so a reader that loads one sees an address and a size that belong together. */
    static final class Chunk {
        final long address;
        final int size;
        final boolean dedicated;

        Chunk(long address, int size, boolean dedicated) {
            this.address = address;
            this.size = size;
            this.dedicated = dedicated;
        }
    }

    private final OffHeapMemory memory;
    private final EpochDomain epochs;
    private final int maxEntryBytes;
    /** Chunk by id; replaced by a larger copy when full. Ids of returned chunks hold null until reused. */
    private volatile Chunk[] chunks = new Chunk[8];
    /** Per chunk id: bytes of the blocks of the live entries packed in it (0 for dedicated and unused ids). */
    private int[] packedLive = new int[8];
    /** Per chunk id: compaction is emptying it, so nothing new is packed there. */
    private boolean[] evacuating = new boolean[8];
    private int evacuatingCount;
    private int chunkIdLimit;
    private int[] freeChunkIds = new int[8];
    private int freeChunkIdCount;
    /** The chunk new entries are carved from, or -1. */
    private int openChunkId = -1;
    private int openChunkSize;
    private int bumpOffset;
    /**
     * The chunk compaction copies entries into, or -1: allocated when the chunks to empty are chosen, exactly large
     * enough for their live entries, so that copying never needs memory the budget might refuse half way.
     */
    private int survivorChunkId = -1;
    private int survivorOffset;
    private int nextChunkBytes = FIRST_CHUNK_BYTES;
    /** Every chunk's bytes. */
    private long reservedBytes;
    /** Bytes of the chunks entries are packed into (all but the dedicated ones). */
    private long packedChunkBytes;
    /** Sum of {@link #packedLive}. */
    private long packedLiveBytes;
    /** Entry bytes (headers, keys, values) of every live entry, packed or dedicated. */
    private long liveEntryBytes;
    /** Bytes compaction has copied, for the stats. */
    private long relocatedBytes;
    /** Dead bytes below which {@link #compactionDue} stays quiet after a selection found no chunk worth emptying. */
    private long quietBelowFreeBytes;

    EntryArena(OffHeapMemory memory, EpochDomain epochs, int maxEntryBytes) {
        this.memory = memory;
        this.epochs = epochs;
        this.maxEntryBytes = maxEntryBytes;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Reads that may race with the writer: every value read from shared memory is checked before it is used.
    // ---------------------------------------------------------------------------------------------------------

    /** {@link #readIfKey} result: the reference named a well-formed entry whose key differs. */
    static final int KEY_MISMATCH = -1;
    /** {@link #readIfKey} result: the reference or header does not describe an entry (racing a writer). */
    static final int INVALID = -2;

    /**
     * Racy read: if {@code ref} names an entry with exactly this key, copies its value into {@code out} (when
     * {@code out} is not null) and returns the value length.
     *
     * <p>Why one method: the header is loaded <em>once</em>, as one {@code long}, and exactly the lengths that
     * were checked are used for the key comparison and the copy. Reading the header again after checking it
     * is not safe: a concurrent writer may rewrite those 8 bytes (a value updated in place, another entry
     * carved where a freed one was), and a copy that re-read its length could run past the chunk and crash the
     * JVM ({@code SegmentTortureTest} races readers against exactly such writes).
     *
     * @return the value length (0 if {@code out} is null), {@link #KEY_MISMATCH}, or {@link #INVALID} if the
     *         reference or the header does not describe an entry lying wholly inside a live chunk
     */
    int readIfKey(long ref, DirectBuffer key, int keyOffset, int keyLength, MutableDirectBuffer out,
                  int outOffset) {
        final int id = EntryDescriptor.refChunkId(ref);
        final int offset = EntryDescriptor.refOffset(ref);
        final Chunk[] snapshot = chunks;
        if (id < 0 || id >= snapshot.length) {
            return INVALID;
        }
        final Chunk chunk = snapshot[id];
        if (chunk == null || offset < 0 || (offset & (EntryDescriptor.BLOCK_ALIGNMENT - 1)) != 0
            || offset > chunk.size - EntryDescriptor.HEADER_BYTES) {
            return INVALID;
        }
        final long address = chunk.address + offset;
        final long header = MemoryAccess.getLong(address);   // the one load of the header; see above
        final int storedKeyLength = EntryDescriptor.headerKeyLength(header);
        final int valueLength = EntryDescriptor.headerValueLength(header);
        if (valueLength < 0 || (long) storedKeyLength + valueLength > maxEntryBytes
            || EntryDescriptor.entryBytes(storedKeyLength, valueLength) > (long) chunk.size - offset) {
            return INVALID;
        }
        if (storedKeyLength != keyLength
            || !MemoryAccess.equals(address + EntryDescriptor.KEY_OFFSET, key, keyOffset, keyLength)) {
            return KEY_MISMATCH;
        }
        if (out == null) {
            return 0;
        }
        if (outOffset + valueLength > out.capacity()) {
            out.checkLimit(outOffset + valueLength);
        }
        MemoryAccess.copyToBuffer(address + EntryDescriptor.valueOffset(storedKeyLength), out, outOffset, valueLength);
        return valueLength;
    }

    /** Key length of an entry the writer knows to be valid (under the lock); racy readers use {@link #readIfKey}. */
    static int keyLength(long entryAddress) {
        return EntryDescriptor.keyLengthOf(
            MemoryAccess.getInt(entryAddress + EntryDescriptor.KEY_LENGTH_AND_KIND_OFFSET));
    }

    /** Value length of an entry the writer knows to be valid (under the lock). */
    static int valueLength(long entryAddress) {
        return MemoryAccess.getInt(entryAddress + EntryDescriptor.VALUE_LENGTH_OFFSET);
    }

    /**
     * Copies the value of an entry the caller knows to be valid (read under the lock) into {@code out} at
     * {@code outOffset}, expanding {@code out} if it is expandable. Not for racy reads: it reads the header
     * without checking it ({@link #readIfKey} is the checked variant).
     *
     * @return the value length
     */
    static int copyValue(long entryAddress, MutableDirectBuffer out, int outOffset) {
        final int keyLength = keyLength(entryAddress);
        final int valueLength = valueLength(entryAddress);
        if (outOffset + valueLength > out.capacity()) {
            out.checkLimit(outOffset + valueLength);
        }
        MemoryAccess.copyToBuffer(entryAddress + EntryDescriptor.valueOffset(keyLength), out, outOffset, valueLength);
        return valueLength;
    }

    /** Copies the key of an entry the caller knows to be valid into {@code out}; as {@link #copyValue}. */
    static int copyKey(long entryAddress, MutableDirectBuffer out, int outOffset) {
        final int keyLength = keyLength(entryAddress);
        if (outOffset + keyLength > out.capacity()) {
            out.checkLimit(outOffset + keyLength);
        }
        MemoryAccess.copyToBuffer(entryAddress + EntryDescriptor.KEY_OFFSET, out, outOffset, keyLength);
        return keyLength;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Writer side (under the owner's exclusive lock)
    // ---------------------------------------------------------------------------------------------------------

    /**
     * Allocates a block for an entry of {@code keyLength + valueLength} bytes and writes the entry into it.
     * Either succeeds or throws {@link OffHeapMemoryExhaustedException} with the arena unchanged.
     *
     * @return the new entry's reference
     */
    long allocateEntry(DirectBuffer key, int keyOffset, int keyLength, DirectBuffer value, int valueOffset,
                       int valueLength) {
        final long ref = allocateFor(keyLength, valueLength, false);
        final long address = trustedAddress(ref);
        MemoryAccess.copyFromBuffer(key, keyOffset, address + EntryDescriptor.KEY_OFFSET, keyLength);
        MemoryAccess.copyFromBuffer(value, valueOffset, address + EntryDescriptor.valueOffset(keyLength), valueLength);
        return ref;
    }

    /**
     * Allocates a block for the key of entry {@code oldRef} with a new value and writes it; the old entry is
     * left in place (the caller swaps the reference, then {@link #free}s the old one).
     */
    long allocateWithNewValue(long oldRef, DirectBuffer value, int valueOffset, int valueLength) {
        final int keyLength = keyLength(trustedAddress(oldRef));
        final long ref = allocateFor(keyLength, valueLength, false);
        final long address = trustedAddress(ref);
        MemoryAccess.copy(trustedAddress(oldRef) + EntryDescriptor.KEY_OFFSET, address + EntryDescriptor.KEY_OFFSET,
            keyLength);
        MemoryAccess.copyFromBuffer(value, valueOffset, address + EntryDescriptor.valueOffset(keyLength), valueLength);
        return ref;
    }

    /** Allocates the block of an entry of these lengths, writes its header and accounts it; may throw first. */
    private long allocateFor(int keyLength, int valueLength, boolean forCompaction) {
        final long entryBytes = EntryDescriptor.entryBytes(keyLength, valueLength);
        final int block = EntryDescriptor.blockBytes(entryBytes);
        final long ref;
        final int kind;
        if (block > MAX_PACKED_BLOCK) {
            ref = allocateDedicated(block);
            kind = EntryDescriptor.DEDICATED;
        } else {
            ref = carve(block, forCompaction);
            kind = EntryDescriptor.PACKED;
        }
        final long address = trustedAddress(ref);
        MemoryAccess.putInt(address + EntryDescriptor.KEY_LENGTH_AND_KIND_OFFSET,
            EntryDescriptor.keyLengthAndKind(keyLength, kind));
        MemoryAccess.putInt(address + EntryDescriptor.VALUE_LENGTH_OFFSET, valueLength);
        liveEntryBytes += entryBytes;
        return ref;
    }

    /** Carves {@code block} bytes from the open chunk, opening a new one first if they do not fit. */
    private long carve(int block, boolean forCompaction) {
        if (openChunkId < 0 || bumpOffset > openChunkSize - block) {
            openChunk(block, forCompaction);
        }
        final long ref = EntryDescriptor.ref(openChunkId, bumpOffset);
        bumpOffset += block;
        packedLive[openChunkId] += block;
        packedLiveBytes += block;
        return ref;
    }

    /** Opens a new chunk for at least {@code block} bytes; the one it replaces is closed (returned if empty). */
    private void openChunk(int block, boolean forCompaction) {
        long size = nextChunkBytes;
        final long share = memory.availableBytes(forCompaction) / BUDGET_SHARE & -FIRST_CHUNK_BYTES;
        if (share < size) {
            size = share;
        }
        final long reserve = memory.compactionReserveBytes() & -FIRST_CHUNK_BYTES;
        if (reserve > 0 && reserve < size) {
            size = reserve;   // a chunk's live entries must fit the reserve, or compaction could never empty it
        }
        size = Math.max(size, (block + FIRST_CHUNK_BYTES - 1) & -FIRST_CHUNK_BYTES);
        final long address = memory.allocate(size, "an arena chunk", forCompaction);   // throws before any change
        final int id = registerChunk(new Chunk(address, (int) size, false));
        final int closed = openChunkId;
        openChunkId = id;
        openChunkSize = (int) size;
        bumpOffset = 0;
        reservedBytes += size;
        packedChunkBytes += size;
        if (size >= nextChunkBytes) {
            nextChunkBytes = Math.min(MAX_CHUNK_BYTES, nextChunkBytes << 1);
        }
        if (closed >= 0 && packedLive[closed] == 0) {
            retireChunk(closed);
        }
    }

    /** {@link #writeValueIfItFits} result: the new value does not fit the entry's block; nothing was written. */
    static final int DOES_NOT_FIT = -1;
    /** {@link #writeValueIfItFits} result: written in place, the block unchanged. */
    static final int WRITTEN = 0;
    /** {@link #writeValueIfItFits} result: written in place, and the block shrank: its rest became free bytes. */
    static final int WRITTEN_SHRUNK = 1;

    /**
     * Replaces the value of entry {@code ref} in place if the new entry's block is not larger than the old one (a
     * packed entry may shrink: the rest of its block becomes free), and a dedicated chunk would not be left more
     * than half empty. One look at the entry's header and chunk decides and writes.
     *
     * @return {@link #DOES_NOT_FIT} (nothing written), {@link #WRITTEN} or {@link #WRITTEN_SHRUNK}
     */
    int writeValueIfItFits(long ref, DirectBuffer value, int valueOffset, int valueLength) {
        final int id = EntryDescriptor.refChunkId(ref);
        final Chunk chunk = chunks[id];
        final long address = chunk.address + EntryDescriptor.refOffset(ref);
        final int keyLength = keyLength(address);
        final int oldValueLength = valueLength(address);
        final int block = EntryDescriptor.blockBytes(EntryDescriptor.entryBytes(keyLength, valueLength));
        int shrunk = 0;
        if (chunk.dedicated) {
            if (block > chunk.size || block * 2L <= chunk.size) {
                return DOES_NOT_FIT;
            }
        } else {
            shrunk = EntryDescriptor.blockBytes(EntryDescriptor.entryBytes(keyLength, oldValueLength)) - block;
            if (shrunk < 0) {
                return DOES_NOT_FIT;
            }
            packedLive[id] -= shrunk;   // never to 0: the entry keeps its header
            packedLiveBytes -= shrunk;
        }
        liveEntryBytes += valueLength - oldValueLength;
        MemoryAccess.putInt(address + EntryDescriptor.VALUE_LENGTH_OFFSET, valueLength);
        MemoryAccess.copyFromBuffer(value, valueOffset, address + EntryDescriptor.valueOffset(keyLength), valueLength);
        return shrunk == 0 ? WRITTEN : WRITTEN_SHRUNK;
    }

    /** Releases entry {@code ref}: its chunk's live count drops, and an emptied chunk is returned. */
    void free(long ref) {
        final long address = trustedAddress(ref);
        final long entryBytes = EntryDescriptor.entryBytes(keyLength(address), valueLength(address));
        liveEntryBytes -= entryBytes;
        final int id = EntryDescriptor.refChunkId(ref);
        if (chunks[id].dedicated) {
            retireChunk(id);
        } else {
            releasePacked(id, EntryDescriptor.blockBytes(entryBytes));
        }
    }

    /** Takes {@code block} bytes off the live count of packed chunk {@code id}; returns or rewinds it when empty. */
    private void releasePacked(int id, int block) {
        packedLive[id] -= block;
        packedLiveBytes -= block;
        if (packedLive[id] == 0) {
            if (id == openChunkId) {
                bumpOffset = 0;   // carve it again from its start; readers still on old bytes fail validation
            } else if (id != survivorChunkId) {
                retireChunk(id);
            }
        }
    }

    /**
     * Returns chunk {@code id} to the budget through the epoch domain: a reader that loaded it before it left the
     * array may still be reading it, so it is freed only once readers have moved on.
     */
    private void retireChunk(int id) {
        final Chunk chunk = chunks[id];
        chunks[id] = null;
        if (!chunk.dedicated) {
            packedChunkBytes -= chunk.size;
        }
        if (evacuating[id]) {
            evacuating[id] = false;
            if (--evacuatingCount == 0 && survivorChunkId >= 0) {
                closeSurvivorChunk();   // the last chosen chunk emptied (by removals, or by the last copy)
            }
        }
        releaseChunkId(id);
        reservedBytes -= chunk.size;
        epochs.retire(memory, chunk.address, chunk.size);
    }

    /** The address of a reference the writer knows to be valid (read under the lock). */
    long trustedAddress(long ref) {
        final Chunk chunk = chunks[EntryDescriptor.refChunkId(ref)];
        return chunk.address + EntryDescriptor.refOffset(ref);
    }

    private long allocateDedicated(int size) {
        final long address = memory.allocate(size, "a dedicated chunk for a " + size + "-byte entry");
        final int id = registerChunk(new Chunk(address, size, true));
        reservedBytes += size;
        return EntryDescriptor.ref(id, 0);
    }

    private int registerChunk(Chunk chunk) {
        final int id;
        if (freeChunkIdCount > 0) {
            id = freeChunkIds[--freeChunkIdCount];
        } else {
            id = chunkIdLimit++;
        }
        Chunk[] current = chunks;
        if (id >= current.length) {
            packedLive = Arrays.copyOf(packedLive, current.length * 2);
            evacuating = Arrays.copyOf(evacuating, current.length * 2);
            current = Arrays.copyOf(current, current.length * 2);
            current[id] = chunk;
            chunks = current;   // volatile publish of the larger array; readers holding the old one stay valid
        } else {
            current[id] = chunk;
        }
        packedLive[id] = 0;
        return id;
    }

    private void releaseChunkId(int id) {
        if (freeChunkIdCount == freeChunkIds.length) {
            freeChunkIds = Arrays.copyOf(freeChunkIds, freeChunkIdCount * 2);
        }
        freeChunkIds[freeChunkIdCount++] = id;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Compaction (driven by the segment's Compaction, under the owner's exclusive lock)
    // ---------------------------------------------------------------------------------------------------------

    /** Free bytes of the packed chunks: dead entries, shrunk blocks, the open chunk's uncarved end. */
    long freeBytes() {
        return packedChunkBytes - packedLiveBytes;
    }

    /**
     * Free bytes that only compaction can reuse: {@link #freeBytes} without the open chunk's uncarved end, which
     * the next entries take anyway.
     */
    private long deadBytes() {
        return packedChunkBytes - packedLiveBytes - (openChunkId < 0 ? 0 : openChunkSize - bumpOffset)
            - (survivorChunkId < 0 ? 0 : chunks[survivorChunkId].size - survivorOffset);
    }

    /**
     * Whether compaction has chunks to empty, or should choose some: more than {@code 1/}{@value #DUE_FREE_SHARE}
     * of the packed bytes and at least {@value #MIN_FREE_BYTES} bytes are dead (free, and not the open chunk's
     * uncarved end). Cheap: called after writes.
     */
    boolean compactionDue() {
        if (evacuatingCount > 0) {
            return true;
        }
        final long dead = deadBytes();
        return dead > MIN_FREE_BYTES && dead * DUE_FREE_SHARE > packedChunkBytes && dead >= quietBelowFreeBytes;
    }

    /** Whether some chunk is being emptied. */
    boolean evacuating() {
        return evacuatingCount > 0;
    }

    /** Whether entry {@code ref} (valid, read under the lock) lies in a chunk being emptied. */
    boolean isEvacuating(long ref) {
        return evacuating[EntryDescriptor.refChunkId(ref)];
    }

    /**
     * Chooses the chunks to empty, sparsest first: closed packed chunks at least {@code 1/}
     * {@value #VICTIM_FREE_SHARE} free, until emptying them would bring the dead bytes down to {@code 1/}
     * {@value #TARGET_FREE_SHARE} of the packed bytes ({@code all}: every such chunk), with at most {@value #MAX_CHUNK_BYTES} live bytes in all (under
     * a budget, at most its compaction reserve) — and allocates the survivor chunk their live entries are copied
     * into. A sparse open chunk (three quarters of what was carved from it dead; with {@code giveBack}, half of it
     * free) is closed first so that it can be chosen too, and the next chunks are sized for the live bytes left.
     * If the budget refuses the survivor chunk, nothing is chosen.
     *
     * @param all      choose every chunk worth emptying (an explicit compaction, or room for a refused allocation)
     * @param giveBack the memory is to be returned (an explicit compaction), not reused at once: a half empty open
     *                 chunk is emptied too. Not when making room, where its uncarved end is the room wanted.
     * @return whether any chunk is being emptied now
     */
    boolean chooseVictims(boolean all, boolean giveBack) {
        if (evacuatingCount > 0) {
            return true;
        }
        if (openChunkId >= 0 && (giveBack ? packedLive[openChunkId] * 2L <= openChunkSize
                : bumpOffset * 2 >= openChunkSize && packedLive[openChunkId] * 4L <= bumpOffset)) {
            final int closed = openChunkId;
            openChunkId = -1;   // closed with its uncarved end free; the next allocation opens a new chunk
            if (packedLive[closed] == 0) {
                retireChunk(closed);
            }
        }
        // The next chunks are sized for what the segment holds now: one that lost most of its entries starts
        // again with small chunks instead of carving a maximal one for the few that are left.
        nextChunkBytes = (int) Math.max(FIRST_CHUNK_BYTES, Math.min(nextChunkBytes,
            Long.highestOneBit(Math.max(1, packedLiveBytes / 4))));
        final Chunk[] snapshot = chunks;
        long[] candidates = new long[16];
        int count = 0;
        for (int id = 0; id < chunkIdLimit; id++) {
            final Chunk chunk = snapshot[id];
            if (chunk == null || chunk.dedicated || id == openChunkId) {
                continue;
            }
            final long free = chunk.size - packedLive[id];
            if (free * VICTIM_FREE_SHARE >= chunk.size) {
                if (count == candidates.length) {
                    candidates = Arrays.copyOf(candidates, count * 2);
                }
                final long liveShare = ((long) packedLive[id] << 20) / chunk.size;   // sparsest sorts first
                candidates[count++] = liveShare << 32 | id;
            }
        }
        Arrays.sort(candidates, 0, count);
        long toGain = all ? Long.MAX_VALUE : deadBytes() - packedChunkBytes / TARGET_FREE_SHARE;
        final long reserve = memory.compactionReserveBytes();
        long room = reserve > 0 ? Math.min(reserve, MAX_CHUNK_BYTES) : MAX_CHUNK_BYTES;
        long survivors = 0;
        for (int i = 0; i < count && toGain > 0; i++) {
            final int id = (int) candidates[i];
            if (packedLive[id] > room) {
                continue;
            }
            room -= packedLive[id];
            survivors += packedLive[id];
            evacuating[id] = true;
            evacuatingCount++;
            toGain -= snapshot[id].size - packedLive[id];
        }
        if (evacuatingCount > 0) {
            try {
                openSurvivorChunk((int) survivors);
            } catch (OffHeapMemoryExhaustedException refused) {
                abandonVictims();
            }
        }
        quietBelowFreeBytes = evacuatingCount > 0 ? 0 : deadBytes() + MAX_CHUNK_BYTES / 4;
        return evacuatingCount > 0;
    }

    /** Allocates the survivor chunk for {@code bytes} of entries (the previous one, if any, is closed first). */
    private void openSurvivorChunk(int bytes) {
        closeSurvivorChunk();
        if (bytes == 0) {
            return;   // the chosen chunks hold nothing live: they go back as soon as the walk confirms it
        }
        final long address = memory.allocate(bytes, "a compaction chunk", true);   // throws before any change
        survivorChunkId = registerChunk(new Chunk(address, bytes, false));
        survivorOffset = 0;
        reservedBytes += bytes;
        packedChunkBytes += bytes;
    }

    /** The survivor chunk becomes an ordinary closed chunk (returned if nothing in it is live). */
    private void closeSurvivorChunk() {
        final int id = survivorChunkId;
        survivorChunkId = -1;
        if (id >= 0 && packedLive[id] == 0) {
            retireChunk(id);
        }
    }

    /** Stops emptying every chosen chunk (the segment found none of their entries: they hold none). */
    void abandonVictims() {
        for (int id = 0; id < chunkIdLimit; id++) {
            if (evacuating[id]) {
                evacuating[id] = false;
                if (packedLive[id] == 0 && chunks[id] != null) {
                    retireChunk(id);
                }
            }
        }
        evacuatingCount = 0;
        closeSurvivorChunk();
    }

    /**
     * Copies entry {@code ref} (valid, in a chunk being emptied) into the survivor chunk and releases the old copy;
     * the caller repoints the slot to the returned reference. The old bytes stay readable until their chunk is
     * returned through the epoch domain. Needs no memory: the survivor chunk was sized for every live entry of
     * the chosen chunks, and their live bytes only shrink while they are being emptied.
     *
     * @return the entry's new reference
     */
    long relocate(long ref) {
        final long from = trustedAddress(ref);
        final long entryBytes = EntryDescriptor.entryBytes(keyLength(from), valueLength(from));
        final int block = EntryDescriptor.blockBytes(entryBytes);
        final int id = survivorChunkId;
        if (id < 0 || survivorOffset > chunks[id].size - block) {
            throw new IllegalStateException("the survivor chunk has no room for a " + block + "-byte entry: the chunks"
                + " being emptied hold more live bytes than when they were chosen");
        }
        final long moved = EntryDescriptor.ref(id, survivorOffset);
        survivorOffset += block;
        packedLive[id] += block;
        packedLiveBytes += block;
        MemoryAccess.copy(from, trustedAddress(moved), entryBytes);
        relocatedBytes += block;
        releasePacked(EntryDescriptor.refChunkId(ref), block);   // the last copy out closes the survivor chunk
        return moved;
    }

    /** Bytes compaction has copied since the arena started (or was reset). */
    long relocatedBytes() {
        return relocatedBytes;
    }

    /**
     * Retires every chunk and starts over as a new, empty arena (the segment was cleared or released, and its
     * table replaced first). A racy reader still holding an old reference finds no chunk under its id, or a new
     * chunk that the bounds checks of {@link #readIfKey} keep it inside; the retired chunks stay mapped until it
     * leaves.
     */
    void reset() {
        final Chunk[] snapshot = chunks;
        for (int i = 0; i < snapshot.length; i++) {
            final Chunk chunk = snapshot[i];
            if (chunk != null) {
                snapshot[i] = null;
                epochs.retire(memory, chunk.address, chunk.size);
            }
        }
        chunks = new Chunk[8];
        packedLive = new int[8];
        evacuating = new boolean[8];
        evacuatingCount = 0;
        chunkIdLimit = 0;
        freeChunkIdCount = 0;
        openChunkId = -1;
        openChunkSize = 0;
        bumpOffset = 0;
        survivorChunkId = -1;
        survivorOffset = 0;
        nextChunkBytes = FIRST_CHUNK_BYTES;
        reservedBytes = 0;
        packedChunkBytes = 0;
        packedLiveBytes = 0;
        liveEntryBytes = 0;
        quietBelowFreeBytes = 0;
    }

    long reservedBytes() {
        return reservedBytes;
    }

    long liveEntryBytes() {
        return liveEntryBytes;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Validation (tests and debugging; exclusive or read access)
    // ---------------------------------------------------------------------------------------------------------

    /**
     * Starts a check of the whole arena against the references its segment holds: feed every live reference to
     * {@link Census#addLive}, then call {@link Census#finish}.
     *
     * @return a fresh census of this arena
     */
    Census census() {
        return new Census();
    }

    /**
     * One pass of the arena check. It marks, per chunk, the 8-byte units each live entry's block covers, so a
     * block referenced twice shows up as an overlap; and it recounts every chunk's live bytes, so a leaked or
     * doubly freed entry shows up as a difference from the arena's counts. Each method returns a description of
     * the first violation it finds, or null.
     */
    final class Census {
        private final Chunk[] snapshot = chunks;
        private final BitSet[] units = new BitSet[snapshot.length];
        private final long[] counted = new long[snapshot.length];
        private long entryBytes;

        private Census() {
        }

        /**
         * Checks and counts one live reference: it names an aligned entry inside a live chunk (below the carved
         * end of the open chunk), the header's kind matches the chunk, its lengths are within the limits, and its
         * block overlaps no block counted before.
         *
         * @param ref a reference held by a FULL slot
         * @return null, or what is wrong with it
         */
        String addLive(long ref) {
            final int id = EntryDescriptor.refChunkId(ref);
            final int offset = EntryDescriptor.refOffset(ref);
            final String where = "reference " + Long.toHexString(ref) + " (chunk " + id + ", offset " + offset + ")";
            if (id < 0 || id >= snapshot.length || snapshot[id] == null) {
                return where + " names no live chunk";
            }
            final Chunk chunk = snapshot[id];
            if (offset < 0 || offset % EntryDescriptor.BLOCK_ALIGNMENT != 0
                || offset > chunk.size - EntryDescriptor.HEADER_BYTES) {
                return where + " is not an aligned header inside its chunk of " + chunk.size + " bytes";
            }
            final long address = chunk.address + offset;
            final int keyLength = keyLength(address);
            final int valueLength = valueLength(address);
            final int kind = EntryDescriptor.kindOf(MemoryAccess.getInt(address
                + EntryDescriptor.KEY_LENGTH_AND_KIND_OFFSET));
            if (valueLength < 0 || (long) keyLength + valueLength > maxEntryBytes) {
                return where + " declares key " + keyLength + " and value " + valueLength
                    + " bytes, beyond the maximum entry of " + maxEntryBytes;
            }
            final long bytes = EntryDescriptor.entryBytes(keyLength, valueLength);
            final int block = EntryDescriptor.blockBytes(bytes);
            if (chunk.dedicated) {
                if (kind != EntryDescriptor.DEDICATED || offset != 0 || block > chunk.size) {
                    return where + " of kind " + kind + " in a dedicated chunk of " + chunk.size
                        + " bytes: must be its only entry, at offset 0, of the dedicated kind, and fit";
                }
            } else if (kind != EntryDescriptor.PACKED) {
                return where + " has kind " + kind + " in a packed chunk";
            } else if (offset > end(id) - block) {
                return where + ": its block of " + block + " bytes ends past " + end(id)
                    + " (the chunk's size, or the carved end of the open chunk)";
            }
            final String overlap = mark(id, offset, chunk.dedicated ? chunk.size : block);
            if (overlap != null) {
                return where + ": its block " + overlap + " (a reference held twice?)";
            }
            counted[id] += block;
            entryBytes += bytes;
            return null;
        }

        /**
         * Checks the accounting against what {@link #addLive} counted: live entry bytes, every packed chunk's live
         * bytes, reserved and packed chunk bytes, the chunks being emptied and the free chunk ids.
         *
         * @return null, or the first violation
         */
        String finish() {
            if (entryBytes != liveEntryBytes) {
                return "live entries hold " + entryBytes + " bytes, the arena accounts " + liveEntryBytes;
            }
            long chunkBytes = 0;
            long packedBytes = 0;
            long live = 0;
            int victims = 0;
            for (int id = 0; id < snapshot.length; id++) {
                final Chunk chunk = snapshot[id];
                if (chunk == null) {
                    if (id < chunkIdLimit && (packedLive[id] != 0 || evacuating[id])) {
                        return "unused chunk id " + id + " has live bytes " + packedLive[id] + " or is being emptied";
                    }
                    continue;
                }
                if (id >= chunkIdLimit) {
                    return "chunk " + id + " is past the chunk id limit " + chunkIdLimit;
                }
                chunkBytes += chunk.size;
                if (chunk.dedicated) {
                    if (counted[id] == 0) {
                        return "dedicated chunk " + id + " of " + chunk.size + " bytes holds no live entry (leaked)";
                    }
                    continue;
                }
                packedBytes += chunk.size;
                if (counted[id] != packedLive[id]) {
                    return "packed chunk " + id + ": its live entries' blocks take " + counted[id]
                        + " bytes, the arena accounts " + packedLive[id] + " (an entry leaked or freed twice?)";
                }
                if (counted[id] == 0 && id != openChunkId && id != survivorChunkId && !evacuating[id]) {
                    return "closed packed chunk " + id + " holds no live entry but was not returned";
                }
                if (evacuating[id]) {
                    if (id == openChunkId || id == survivorChunkId) {
                        return "chunk " + id + " is being emptied and filled at once";
                    }
                    victims++;
                }
                live += counted[id];
            }
            if (live != packedLiveBytes) {
                return "packed chunks hold " + live + " live bytes, the arena accounts " + packedLiveBytes;
            }
            if (chunkBytes != reservedBytes || packedBytes != packedChunkBytes) {
                return "chunks hold " + chunkBytes + " bytes (" + packedBytes + " packed), the arena accounts "
                    + reservedBytes + " reserved (" + packedChunkBytes + " packed)";
            }
            if (victims != evacuatingCount) {
                return victims + " chunks are marked for emptying, the arena counts " + evacuatingCount;
            }
            for (int i = 0; i < freeChunkIdCount; i++) {
                final int id = freeChunkIds[i];
                if (id < 0 || id >= chunkIdLimit || (id < snapshot.length && snapshot[id] != null)) {
                    return "free chunk id " + id + " is in use or out of range (limit " + chunkIdLimit + ")";
                }
            }
            return null;
        }

        /** Where entries of chunk {@code id} may end: the bump offset for the open chunk, else its size. */
        private int end(int id) {
            return id == openChunkId ? bumpOffset : id == survivorChunkId ? survivorOffset : snapshot[id].size;
        }

        /** Marks a block's units; describes the overlap if one was marked already. */
        private String mark(int id, int offset, int block) {
            if (units[id] == null) {
                units[id] = new BitSet(snapshot[id].size / EntryDescriptor.BLOCK_ALIGNMENT);
            }
            final BitSet covered = units[id];
            final int from = offset / EntryDescriptor.BLOCK_ALIGNMENT;
            final int to = from + block / EntryDescriptor.BLOCK_ALIGNMENT;
            final int taken = covered.nextSetBit(from);
            if (taken >= 0 && taken < to) {
                return "overlaps a block counted before at offset " + (long) taken * EntryDescriptor.BLOCK_ALIGNMENT;
            }
            covered.set(from, to);
            return null;
        }
    }
}
