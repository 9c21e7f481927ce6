package io.starshard.offheap;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.util.Arrays;
import java.util.BitSet;

/**
 * Off-heap storage for the entries of an indirect segment: chunks carved into size-classed blocks. The entry
 * header, the free-list link and the reference format are laid out in {@link EntryDescriptor}.
 *
 * <h2>Size classes</h2>
 * Blocks are 8..128 bytes in steps of 8, then four classes per doubling up to {@value #MAX_SMALL_BLOCK}
 * bytes (at most 25% rounding). Each class has an intrusive free list. Larger entries get a dedicated chunk.
 * The block's class is in its header, so an update whose new entry still fits the block (and would not waste
 * half of it) is written in place.
 *
 * <h2>Read safety</h2>
 * Regular chunks are type-stable while the arena lives: removing or replacing entries never unmaps them, so an
 * optimistic reader that follows a stale reference reads bytes of some block, never unmapped memory. Memory goes
 * back only through the {@link EpochDomain}: dedicated chunks when their entry goes, and every chunk when the
 * segment is cleared or released ({@link #reset}), after its table no longer refers to them. Every reference and every
 * length read from shared memory is checked against the chunk it names ({@link #readIfKey}) before use, and
 * the header is loaded once: the lengths used are exactly the lengths checked.
 * Chunk sizes grow from {@value #FIRST_CHUNK_BYTES} bytes to {@value #MAX_CHUNK_BYTES} so that small shards stay
 * small.
 *
 * <h2>Tiling</h2>
 * Every byte of a regular chunk below its end (the bump offset for the chunk being carved, the chunk size for
 * the others) belongs to exactly one block, live or free: a chunk is carved from its start, and when the next
 * block does not fit, the unused tail is cut into free blocks. {@link Census} checks this.
 *
 * <p>Not thread-safe for writing: the owning segment's writer lock serialises every mutating call. Only
 * {@link #readIfKey} may run concurrently with a writer.
 */
final class EntryArena {
    /** Largest block of a size class; a larger entry gets a dedicated chunk. */
    static final int MAX_SMALL_BLOCK = 1 << 16;
    /** Number of size classes, 8 bytes to {@link #MAX_SMALL_BLOCK}. */
    static final int CLASS_COUNT = 52;
    /** Size of the first regular chunk: a lazily created small shard stays small. */
    static final int FIRST_CHUNK_BYTES = 4096;
    /** Largest regular chunk; each new one doubles up to this size. */
    static final int MAX_CHUNK_BYTES = 1 << 20;

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
    /** Chunk by id; replaced by a larger copy when full. Freed dedicated chunks leave null. */
    private volatile Chunk[] chunks = new Chunk[8];
    private int chunkIdLimit;
    private int[] freeChunkIds = new int[8];
    private int freeChunkIdCount;
    private final long[] freeHeads = new long[CLASS_COUNT];
    private int currentChunkId = -1;
    private int currentChunkSize;
    private int bumpOffset;
    private int nextChunkBytes = FIRST_CHUNK_BYTES;
    private long reservedBytes;
    private long liveEntryBytes;
    private long freeListBytes;

    EntryArena(OffHeapMemory memory, EpochDomain epochs, int maxEntryBytes) {
        this.memory = memory;
        this.epochs = epochs;
        this.maxEntryBytes = maxEntryBytes;
        Arrays.fill(freeHeads, EntryDescriptor.NO_BLOCK);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Size classes
    // ---------------------------------------------------------------------------------------------------------

    /** Smallest class whose blocks hold {@code size} bytes; size is a multiple of 8 in [8, MAX_SMALL_BLOCK]. */
    static int classIndex(int size) {
        if (size <= 128) {
            return (size >>> 3) - 1;
        }
        int k = 31 - Integer.numberOfLeadingZeros(size - 1); // 2^k < size <= 2^(k+1), k >= 7
        int shift = k - 2;
        int sub = (size - (1 << k) + (1 << shift) - 1) >>> shift; // 1..4
        return 16 + (k - 7) * 4 + sub - 1;
    }

    /** Block size of a class. */
    static int classSize(int index) {
        if (index < 16) {
            return (index + 1) << 3;
        }
        int j = index - 16;
        int k = 7 + (j >>> 2);
        return (1 << k) + ((j & 3) + 1) * (1 << (k - 2));
    }

    /** Largest class whose blocks fit in {@code bytes} (a multiple of 8, at least 8). */
    private static int largestClassWithin(int bytes) {
        int c = classIndex(Math.min(bytes, MAX_SMALL_BLOCK));
        return classSize(c) > bytes ? c - 1 : c;
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
     * is not safe: a concurrent {@link #free} overwrites the first 8 bytes of the block with a free-list link,
     * and a copy that re-read its length from there could run past the chunk and crash the JVM
     * ({@code SegmentTortureTest} races readers against exactly such frees).
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
            MemoryAccess.getInt(entryAddress + EntryDescriptor.KEY_LENGTH_AND_CLASS_OFFSET));
    }

    /** Value length of an entry the writer knows to be valid (under the lock). */
    static int valueLength(long entryAddress) {
        return MemoryAccess.getInt(entryAddress + EntryDescriptor.VALUE_LENGTH_OFFSET);
    }

    private static int blockClass(long entryAddress) {
        return EntryDescriptor.classOf(MemoryAccess.getInt(entryAddress + EntryDescriptor.KEY_LENGTH_AND_CLASS_OFFSET));
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
        final long ref = allocateFor(keyLength, valueLength);
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
        final long oldAddress = trustedAddress(oldRef);
        final int keyLength = keyLength(oldAddress);
        final long ref = allocateFor(keyLength, valueLength);
        final long address = trustedAddress(ref);
        MemoryAccess.copy(oldAddress + EntryDescriptor.KEY_OFFSET, address + EntryDescriptor.KEY_OFFSET, keyLength);
        MemoryAccess.copyFromBuffer(value, valueOffset, address + EntryDescriptor.valueOffset(keyLength), valueLength);
        return ref;
    }

    /** Allocates the block of an entry of these lengths, writes its header and accounts it; may throw first. */
    private long allocateFor(int keyLength, int valueLength) {
        final long entryBytes = EntryDescriptor.entryBytes(keyLength, valueLength);
        final int size = EntryDescriptor.blockBytes(entryBytes);
        final long ref;
        final int blockClass;
        if (size > MAX_SMALL_BLOCK) {
            ref = allocateDedicated(size);
            blockClass = EntryDescriptor.DEDICATED_CLASS;
        } else {
            blockClass = classIndex(size);
            ref = allocateBlock(blockClass);
        }
        final long address = trustedAddress(ref);
        MemoryAccess.putInt(address + EntryDescriptor.KEY_LENGTH_AND_CLASS_OFFSET,
            EntryDescriptor.keyLengthAndClass(keyLength, blockClass));
        MemoryAccess.putInt(address + EntryDescriptor.VALUE_LENGTH_OFFSET, valueLength);
        liveEntryBytes += entryBytes;
        return ref;
    }

    /**
     * Whether the value of entry {@code ref} can be replaced by one of {@code valueLength} bytes in place: the
     * entry still fits its block, and would not leave more than half of it unused.
     */
    boolean fitsInPlace(long ref, int valueLength) {
        final long address = trustedAddress(ref);
        final long size = EntryDescriptor.blockBytes(EntryDescriptor.entryBytes(keyLength(address), valueLength));
        final long block = blockBytes(ref, blockClass(address));
        return size <= block && size * 2 > block;
    }

    /** Bytes of the block of entry {@code ref} whose header names {@code blockClass}. */
    private int blockBytes(long ref, int blockClass) {
        return blockClass == EntryDescriptor.DEDICATED_CLASS ? chunks[EntryDescriptor.refChunkId(ref)].size
            : classSize(blockClass);
    }

    /** Overwrites the value of entry {@code ref} in place; {@link #fitsInPlace} must have said yes. */
    void writeValueInPlace(long ref, DirectBuffer value, int valueOffset, int valueLength) {
        final long address = trustedAddress(ref);
        final int keyLength = keyLength(address);
        liveEntryBytes += valueLength - valueLength(address);
        MemoryAccess.putInt(address + EntryDescriptor.VALUE_LENGTH_OFFSET, valueLength);
        MemoryAccess.copyFromBuffer(value, valueOffset, address + EntryDescriptor.valueOffset(keyLength), valueLength);
    }

    /** Returns the block of entry {@code ref} to its free list, or retires its dedicated chunk. */
    void free(long ref) {
        final long address = trustedAddress(ref);
        final int blockClass = blockClass(address);
        liveEntryBytes -= EntryDescriptor.entryBytes(keyLength(address), valueLength(address));
        if (blockClass == EntryDescriptor.DEDICATED_CLASS) {
            final int id = EntryDescriptor.refChunkId(ref);
            final Chunk chunk = chunks[id];
            chunks[id] = null;
            releaseChunkId(id);
            reservedBytes -= chunk.size;
            // A reader may have loaded this chunk before we cleared it: free only once readers have moved on.
            epochs.retire(memory, chunk.address, chunk.size);
        } else {
            pushFree(blockClass, ref, address);
        }
    }

    /** Puts the block {@code ref} (at {@code address}) of class {@code blockClass} on its free list. */
    private void pushFree(int blockClass, long ref, long address) {
        MemoryAccess.putLong(address + EntryDescriptor.FREE_LINK_OFFSET, freeHeads[blockClass]);
        freeHeads[blockClass] = ref;
        freeListBytes += classSize(blockClass);
    }

    /** The address of a reference the writer knows to be valid (read under the lock). */
    long trustedAddress(long ref) {
        final Chunk chunk = chunks[EntryDescriptor.refChunkId(ref)];
        return chunk.address + EntryDescriptor.refOffset(ref);
    }

    private long allocateBlock(int blockClass) {
        final int block = classSize(blockClass);
        final long head = freeHeads[blockClass];
        if (head != EntryDescriptor.NO_BLOCK) {
            freeHeads[blockClass] = MemoryAccess.getLong(trustedAddress(head) + EntryDescriptor.FREE_LINK_OFFSET);
            freeListBytes -= block;
            return head;
        }
        if (currentChunkId < 0 || bumpOffset > currentChunkSize - block) {
            startChunk(block);
        }
        final long ref = EntryDescriptor.ref(currentChunkId, bumpOffset);
        bumpOffset += block;
        return ref;
    }

    private void startChunk(int firstBlock) {
        final int size = Math.max(nextChunkBytes, firstBlock);
        final long address = memory.allocate(size, "an arena chunk");   // throws before any change
        final int id = registerChunk(new Chunk(address, size, false));
        if (currentChunkId >= 0) {
            recycleTail(currentChunkId, bumpOffset, currentChunkSize);
        }
        currentChunkId = id;
        currentChunkSize = size;
        bumpOffset = 0;
        reservedBytes += size;
        nextChunkBytes = Math.min(MAX_CHUNK_BYTES, nextChunkBytes << 1);
    }

    /** Puts the unused end of a retired bump chunk on the free lists, largest blocks first. */
    private void recycleTail(int chunkId, int from, int size) {
        int offset = from;
        while (size - offset >= EntryDescriptor.BLOCK_ALIGNMENT) {
            final int blockClass = largestClassWithin(size - offset);
            final long ref = EntryDescriptor.ref(chunkId, offset);
            pushFree(blockClass, ref, trustedAddress(ref));
            offset += classSize(blockClass);
        }
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
            current = Arrays.copyOf(current, current.length * 2);
            current[id] = chunk;
            chunks = current;   // volatile publish of the larger array; readers holding the old one stay valid
        } else {
            current[id] = chunk;
        }
        return id;
    }

    private void releaseChunkId(int id) {
        if (freeChunkIdCount == freeChunkIds.length) {
            freeChunkIds = Arrays.copyOf(freeChunkIds, freeChunkIdCount * 2);
        }
        freeChunkIds[freeChunkIdCount++] = id;
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
        chunkIdLimit = 0;
        freeChunkIdCount = 0;
        Arrays.fill(freeHeads, EntryDescriptor.NO_BLOCK);
        currentChunkId = -1;
        currentChunkSize = 0;
        bumpOffset = 0;
        nextChunkBytes = FIRST_CHUNK_BYTES;
        reservedBytes = 0;
        liveEntryBytes = 0;
        freeListBytes = 0;
    }

    long reservedBytes() {
        return reservedBytes;
    }

    long liveEntryBytes() {
        return liveEntryBytes;
    }

    long freeListBytes() {
        return freeListBytes;
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
     * One pass of the arena check. It marks, per chunk, the 8-byte units each block covers, so a block
     * referenced twice, a live block also on a free list, a free-list cycle and a leaked block (covered by
     * nothing) all show up as an overlap or a gap. Each method returns a description of the first violation
     * it finds, or null.
     */
    final class Census {
        private final Chunk[] snapshot = chunks;
        private final BitSet[] units = new BitSet[snapshot.length];
        private long entryBytes;

        private Census() {
        }

        /**
         * Checks and counts one live reference: it names an aligned block inside a live chunk, the header's
         * class fits that chunk, the entry fits its block and wastes less than half of it, and the block
         * overlaps no block counted before.
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
            final int blockClass = blockClass(address);
            final int block;
            if (blockClass == EntryDescriptor.DEDICATED_CLASS) {
                if (!chunk.dedicated || offset != 0) {
                    return where + " has the dedicated class but is not the start of a dedicated chunk";
                }
                block = chunk.size;
            } else if (blockClass >= CLASS_COUNT || chunk.dedicated) {
                return where + " has block class " + blockClass + " in a " + (chunk.dedicated ? "dedicated" : "regular")
                    + " chunk";
            } else {
                block = classSize(blockClass);
                if (offset > chunk.size - block) {
                    return where + ": its block of " + block + " bytes ends past its chunk of " + chunk.size;
                }
            }
            final long bytes = EntryDescriptor.entryBytes(keyLength, valueLength);
            if (valueLength < 0 || (long) keyLength + valueLength > maxEntryBytes) {
                return where + " declares key " + keyLength + " and value " + valueLength
                    + " bytes, beyond the maximum entry of " + maxEntryBytes;
            }
            final long aligned = EntryDescriptor.blockBytes(bytes);
            if (aligned > block || aligned * 2 <= block) {
                return where + ": an entry of " + bytes + " bytes in a block of " + block
                    + " (must fit, and use more than half)";
            }
            final String overlap = mark(id, offset, block);
            if (overlap != null) {
                return where + ": its block " + overlap + " (a reference held twice?)";
            }
            entryBytes += bytes;
            return null;
        }

        /**
         * Walks the free lists, then checks the accounting (live entry bytes, free-list bytes, reserved bytes)
         * and that every chunk is tiled by the blocks counted.
         *
         * @return null, or the first violation
         */
        String finish() {
            long freeBytes = 0;
            for (int c = 0; c < CLASS_COUNT; c++) {
                final int block = classSize(c);
                for (long ref = freeHeads[c]; ref != EntryDescriptor.NO_BLOCK; ) {
                    final int id = EntryDescriptor.refChunkId(ref);
                    final int offset = EntryDescriptor.refOffset(ref);
                    final String where = "free block " + Long.toHexString(ref) + " of class " + c + " (" + block
                        + " bytes, chunk " + id + ", offset " + offset + ")";
                    if (id < 0 || id >= snapshot.length || snapshot[id] == null || snapshot[id].dedicated) {
                        return where + " names no live regular chunk";
                    }
                    if (offset < 0 || offset % EntryDescriptor.BLOCK_ALIGNMENT != 0 || offset > end(id) - block) {
                        return where + " is not an aligned block below its chunk's end " + end(id);
                    }
                    final String overlap = mark(id, offset, block);
                    if (overlap != null) {
                        return where + ": " + overlap + " (a free block also live, or a free-list cycle?)";
                    }
                    freeBytes += block;
                    ref = MemoryAccess.getLong(snapshot[id].address + offset + EntryDescriptor.FREE_LINK_OFFSET);
                }
            }
            if (entryBytes != liveEntryBytes) {
                return "live entries hold " + entryBytes + " bytes, the arena accounts " + liveEntryBytes;
            }
            if (freeBytes != freeListBytes) {
                return "free lists hold " + freeBytes + " bytes, the arena accounts " + freeListBytes;
            }
            long chunkBytes = 0;
            for (int id = 0; id < snapshot.length; id++) {
                final Chunk chunk = snapshot[id];
                if (chunk == null) {
                    continue;
                }
                if (id >= chunkIdLimit) {
                    return "chunk " + id + " is past the chunk id limit " + chunkIdLimit;
                }
                chunkBytes += chunk.size;
                final BitSet covered = units[id] == null ? new BitSet() : units[id];
                final int endUnit = end(id) / EntryDescriptor.BLOCK_ALIGNMENT;
                final int gap = covered.nextClearBit(0);
                if (gap < endUnit || covered.length() > endUnit) {
                    return (chunk.dedicated ? "dedicated" : "regular") + " chunk " + id + " of " + chunk.size
                        + " bytes: its blocks cover [0, " + (long) gap * EntryDescriptor.BLOCK_ALIGNMENT
                        + ") of [0, " + end(id) + ") (bytes that no live entry or free block holds: leaked)";
                }
            }
            if (chunkBytes != reservedBytes) {
                return "chunks hold " + chunkBytes + " bytes, the arena accounts " + reservedBytes + " reserved";
            }
            for (int i = 0; i < freeChunkIdCount; i++) {
                final int id = freeChunkIds[i];
                if (id < 0 || id >= chunkIdLimit || (id < snapshot.length && snapshot[id] != null)) {
                    return "free chunk id " + id + " is in use or out of range (limit " + chunkIdLimit + ")";
                }
            }
            return null;
        }

        /** Where the blocks of chunk {@code id} end: the bump offset for the chunk being carved, else its size. */
        private int end(int id) {
            return id == currentChunkId ? bumpOffset : snapshot[id].size;
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
