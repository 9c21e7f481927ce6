package io.starshard.offheap;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * A segment's entries as exported records ({@link RecordDescriptor}) and back: {@link Segment#exportRange} and
 * {@link Segment#importRecords}. Entries travel as their raw bytes, never decoded or re-encoded, so iteration,
 * moving entries between segments and saving them share one format.
 */
final class SegmentRecords {
    private SegmentRecords() {
    }

    /** {@link Segment#exportRange} on the segment's current table {@code t}; requires the owner's lock. */
    static long export(Segment segment, Table t, int fromSlot, int toSlot, MutableDirectBuffer out, int outOffset,
                       int maxBytes, long routingFrom, long routingTo) {
        final SegmentSpec spec = segment.spec();
        final boolean inline = spec.isInline();
        final int end = Math.min(toSlot, segment.slotLimit());
        int written = 0;
        int slot = fromSlot;
        while (true) {
            final int next = slot < end ? segment.nextFull(slot) : -1;
            if (next < 0 || next >= end) {
                return ((long) end << 32) | written;
            }
            final long slotAddress = segment.slotAddress(next);
            final long hash = MemoryAccess.getLong(slotAddress + SlotDescriptor.HASH_OFFSET);
            final long routing = KeyHasher.routingBits(hash);
            if (routing < routingFrom || routing >= routingTo) {
                slot = next + 1;
                continue;
            }
            final long entryAddress = inline ? 0 : segment.entryAddress(slotAddress);
            final int keyLength = inline ? spec.keyWidth() : EntryArena.keyLength(entryAddress);
            final int valueLength = inline ? spec.valueWidth() : EntryArena.valueLength(entryAddress);
            final int record = RecordDescriptor.recordLength(keyLength, valueLength);
            if (record > maxBytes - written) {
                return ((long) next << 32) | written;
            }
            final int at = outOffset + written;
            Segment.ensureCapacity(out, at, record);
            RecordDescriptor.writeHeader(out, at, hash, keyLength, valueLength);
            // The slot was found FULL just above under the owner's lock: copy straight from its address rather
            // than through readKey/readValue, which would look the table and the slot up again.
            final int keyAt = RecordDescriptor.keyOffset(at);
            final int valueAt = RecordDescriptor.valueOffset(at, keyLength);
            if (inline) {
                Segment.writeKeyBits(out, keyAt, spec.hasher().unhashFixed(hash), keyLength);
                MemoryAccess.copyToBuffer(slotAddress + SlotDescriptor.VALUE_OFFSET, out, valueAt, valueLength);
            } else {
                EntryArena.copyKey(entryAddress, out, keyAt);
                EntryArena.copyValue(entryAddress, out, valueAt);
            }
            written += record;
            slot = next + 1;
        }
    }

    /**
     * {@link Segment#importRecords} after the region was checked to lie in its buffer: every record is checked
     * before the first is applied.
     */
    static int importAll(Segment segment, DirectBuffer records, int offset, int length) {
        int count = 0;
        for (int at = offset, end = offset + length; at < end; count++) {
            at += checkedRecordLength(segment, records, at, end);
        }
        for (int at = offset, end = offset + length; at < end; ) {
            final int keyLength = RecordDescriptor.keyLength(records, at);
            final int valueLength = RecordDescriptor.valueLength(records, at);
            final int keyAt = RecordDescriptor.keyOffset(at);
            segment.put(RecordDescriptor.hash(records, at), records, keyAt, keyLength,
                records, RecordDescriptor.valueOffset(at, keyLength), valueLength);
            at += RecordDescriptor.recordLength(keyLength, valueLength);
        }
        return count;
    }

    /** {@link RecordDescriptor#checkedRecordLength}, plus what the segment requires of an entry. */
    private static int checkedRecordLength(Segment segment, DirectBuffer records, int at, int end) {
        final int length = RecordDescriptor.checkedRecordLength(records, at, end);
        final int keyLength = RecordDescriptor.keyLength(records, at);
        segment.checkEntrySize(keyLength, RecordDescriptor.valueLength(records, at));
        final SegmentSpec spec = segment.spec();
        if (spec.isInline() && spec.hasher().hashFixed(records, RecordDescriptor.keyOffset(at), spec.keyWidth())
            != RecordDescriptor.hash(records, at)) {
            throw new IllegalArgumentException("record at offset " + at + " has a hash that does not match its key"
                + " under this segment's hasher (different seed?)");
        }
        return length;
    }
}
