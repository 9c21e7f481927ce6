package io.starshard.offheap;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * An immutable off-heap copy of the entries of one or more segments in one routing range: what a snapshot holds
 * for a shard. It costs the Java heap nothing (one small object), however many entries it holds, and it outlives
 * the segments it was copied from.
 *
 * <p>Layout of the one block it owns:
 * <pre>
 *   0                                   recordsLength            recordsLength + 4 * indexSlots
 *   +-----------------------------------+------------------------+
 *   | records (RecordDescriptor format) | index: int per slot    |
 *   +-----------------------------------+------------------------+
 *   index slot = 1 + offset of a record, 0 = empty; open addressing with linear probing on the hash's low bits
 * </pre>
 * The records are exactly what {@link Segment#exportRange} writes, so iteration decodes them in place and a
 * persisted snapshot could write them as they are. The index (load factor at most one half) makes
 * {@link #find} a few probes, so a snapshot is a map, not only a list.
 *
 * <p>Safety: every read goes through a bounds-checked {@link UnsafeBuffer} over the block, and the block is freed
 * only when the last reference is released ({@link #tryAcquire}/{@link #release}): a reader that acquired the
 * image reads mapped memory even if every snapshot holding it is closed meanwhile.
 */
public final class SegmentImage {
    /** An image with no entries; owns no memory. */
    public static final SegmentImage EMPTY = new SegmentImage(null, 0, 0, new UnsafeBuffer(new byte[0]), 0, 0, 0);

    /** The largest block one image may take: its offsets are {@code int}s. */
    static final long MAX_BLOCK_BYTES = Integer.MAX_VALUE - 8;

    private final OffHeapMemory memory;
    private final long address;
    private final long blockBytes;
    private final UnsafeBuffer buffer;
    private final int recordsLength;
    private final int count;
    /** Index slots minus one; the index has a power-of-two number of slots. */
    private final int indexMask;
    private final AtomicInteger references = new AtomicInteger(1);

    private SegmentImage(OffHeapMemory memory, long address, long blockBytes, UnsafeBuffer buffer, int recordsLength,
                         int count, int indexMask) {
        this.memory = memory;
        this.address = address;
        this.blockBytes = blockBytes;
        this.buffer = buffer;
        this.recordsLength = recordsLength;
        this.count = count;
        this.indexMask = indexMask;
    }

    /**
     * Copies the entries of {@code segments} whose routing bits lie in {@code [routingFrom, routingTo)}. The
     * caller holds every segment's lock (read or write) for the whole call; a key must not be in two of them.
     *
     * @param memory      the accountant the image's block is allocated from
     * @param segments    the segments, open
     * @param routingFrom first routing value copied
     * @param routingTo   end of the routing values copied
     * @return an image holding one reference, the caller's
     * @throws OffHeapMemoryExhaustedException if {@code memory} refuses the block
     * @throws IllegalStateException           if the range holds more than one image can (about 2 GiB of records
     *                                         and index): the message says to use more shards
     */
    public static SegmentImage copyOf(OffHeapMemory memory, Segment[] segments, long routingFrom, long routingTo) {
        long maxRecordBytes = 0;
        long maxCount = 0;
        for (Segment s : segments) {
            maxCount += s.size();
            maxRecordBytes += (long) s.size() * RecordDescriptor.HEADER_BYTES + s.payloadBytes();
        }
        if (maxCount == 0) {
            return EMPTY;
        }
        final long indexSlots = Math.max(2, Long.highestOneBit(maxCount * 2 - 1) << 1);
        final long blockBytes = maxRecordBytes + indexSlots * Integer.BYTES;
        if (blockBytes > MAX_BLOCK_BYTES) {
            throw new IllegalStateException("a snapshot copies each shard into one block of at most "
                + MAX_BLOCK_BYTES + " bytes, and this shard needs " + blockBytes + " (" + maxCount
                + " entries): use more shards so that each holds less");
        }
        final long address = memory.allocate(blockBytes, "a snapshot's copy of a shard");
        final UnsafeBuffer buffer = new UnsafeBuffer(address, (int) blockBytes);
        try {
            int written = 0;
            for (Segment s : segments) {
                int slot = 0;
                final int end = s.slotLimit();
                while (slot < end) {
                    final long r = s.exportRange(slot, end, buffer, written, (int) maxRecordBytes - written,
                        routingFrom, routingTo);
                    final int next = Segment.exportNextSlot(r);
                    if (next <= slot && Segment.exportBytes(r) == 0) {
                        throw new IllegalStateException("segment held more than its size and payload promised");
                    }
                    written += Segment.exportBytes(r);
                    slot = next;
                }
            }
            final int indexOffset = (int) maxRecordBytes;
            buffer.setMemory(indexOffset, (int) (indexSlots * Integer.BYTES), (byte) 0);
            final int mask = (int) indexSlots - 1;
            final UnsafeBuffer index = new UnsafeBuffer(buffer, indexOffset, (int) (indexSlots * Integer.BYTES));
            int count = 0;
            for (int at = 0; at < written; at += RecordDescriptor.checkedRecordLength(buffer, at, written)) {
                int i = (int) RecordDescriptor.hash(buffer, at) & mask;
                while (index.getInt(i * Integer.BYTES) != 0) {
                    i = (i + 1) & mask;
                }
                index.putInt(i * Integer.BYTES, at + 1);
                count++;
            }
            return new SegmentImage(memory, address, blockBytes, buffer, written, count, mask);
        } catch (RuntimeException | Error e) {
            memory.free(address, blockBytes);
            throw e;
        }
    }

    /**
     * Takes a reference for a read, unless the image has been freed.
     *
     * @return false if the last reference was already released (the image must not be read)
     */
    public boolean tryAcquire() {
        if (memory == null) {
            return true;   // EMPTY owns nothing and is never freed
        }
        int n;
        do {
            n = references.get();
            if (n <= 0) {
                return false;
            }
        } while (!references.compareAndSet(n, n + 1));
        return true;
    }

    /** Releases one reference; the last one frees the block. */
    public void release() {
        if (memory == null) {
            return;
        }
        final int left = references.decrementAndGet();
        if (left == 0 && memory != null) {
            memory.free(address, blockBytes);
        } else if (left < 0) {
            references.incrementAndGet();
            throw new IllegalStateException("image released more often than acquired");
        }
    }

    /**
     * The record offset of a key, or -1. The caller holds a reference.
     *
     * @param hash      the key's hash, as the map computes it
     * @param key       the encoded key
     * @param keyOffset where it starts
     * @param keyLength its length
     * @return the offset of its record in {@link #buffer()}, or -1 if absent
     */
    public int find(long hash, DirectBuffer key, int keyOffset, int keyLength) {
        if (count == 0) {
            return -1;
        }
        final int indexOffset = indexOffset();
        for (int i = (int) hash & indexMask; ; i = (i + 1) & indexMask) {
            final int entry = buffer.getInt(indexOffset + i * Integer.BYTES);
            if (entry == 0) {
                return -1;
            }
            final int at = entry - 1;
            if (RecordDescriptor.hash(buffer, at) == hash && RecordDescriptor.keyLength(buffer, at) == keyLength
                && sameBytes(RecordDescriptor.keyOffset(at), key, keyOffset, keyLength)) {
                return at;
            }
        }
    }

    private boolean sameBytes(int at, DirectBuffer key, int keyOffset, int keyLength) {
        int i = 0;
        for (; i + Long.BYTES <= keyLength; i += Long.BYTES) {
            if (buffer.getLong(at + i) != key.getLong(keyOffset + i)) {
                return false;
            }
        }
        for (; i < keyLength; i++) {
            if (buffer.getByte(at + i) != key.getByte(keyOffset + i)) {
                return false;
            }
        }
        return true;
    }

    /** Where the index starts: records take the block up to their bound, which the index follows. */
    private int indexOffset() {
        return (int) (blockBytes - (long) (indexMask + 1) * Integer.BYTES);
    }

    /**
     * The record an index slot points to, or -1 for an empty slot: iterating slots {@code 0..indexSlots()} visits
     * every record once, and a range of slots is a part of the image that a parallel scan can take alone.
     *
     * @param indexSlot a slot in {@code [0, indexSlots())}
     * @return a record offset, or -1
     */
    public int recordAt(int indexSlot) {
        if (count == 0) {
            return -1;
        }
        return buffer.getInt(indexOffset() + indexSlot * Integer.BYTES) - 1;
    }

    /**
     * Index slots; {@code 0} for an empty image.
     *
     * @return the number of index slots
     */
    public int indexSlots() {
        return count == 0 ? 0 : indexMask + 1;
    }

    /**
     * The image's memory, records first; bounds-checked. Read it only while holding a reference.
     *
     * @return the buffer over the block
     */
    public DirectBuffer buffer() {
        return buffer;
    }

    /**
     * Entries held.
     *
     * @return the entry count
     */
    public int size() {
        return count;
    }

    /**
     * Bytes of records (headers, keys and values), without the index.
     *
     * @return record bytes
     */
    public int recordsLength() {
        return recordsLength;
    }

    /**
     * Off-heap bytes the image holds, records and index.
     *
     * @return block size
     */
    public long blockBytes() {
        return blockBytes;
    }

    @Override
    public String toString() {
        return "SegmentImage[" + count + " entries, " + blockBytes + " bytes]";
    }
}
