package io.starshard.offheap;

/**
 * A point-in-time description of one segment, taken under the segment owner's lock.
 *
 * @param entries            live entries
 * @param capacity           slots in the table (a multiple of 8)
 * @param tombstones         DELETED slots awaiting the next rebuild
 * @param tableBytes         bytes of the control and slot arrays
 * @param arenaBytes         bytes of arena chunks reserved for indirect entries (0 for inline segments)
 * @param liveEntryBytes     bytes of live indirect entries, headers included, without the rounding to 8 bytes
 * @param relocatedBytes     bytes of entries compaction has copied out of sparse chunks
 * @param growths            times the table doubled
 * @param rebuilds           times the table was rebuilt at the same size to drop tombstones
 * @param shrinks            times the table was replaced by a smaller one
 * @param longestMaintenanceStepNanos the longest one step of compaction or shrinking held the owner's lock
 */
public record SegmentStats(int entries, int capacity, int tombstones, long tableBytes, long arenaBytes,
                           long liveEntryBytes, long relocatedBytes, long growths, long rebuilds, long shrinks,
                           long longestMaintenanceStepNanos) {

    /**
     * Everything this segment holds off-heap.
     *
     * @return {@code tableBytes + arenaBytes}
     */
    public long allocatedBytes() {
        return tableBytes + arenaBytes;
    }

    /**
     * Fraction of arena bytes not holding live entry bytes (entries removed or replaced in chunks not yet emptied,
     * the rounding to 8 bytes, the open chunk's uncarved end).
     *
     * @return 0 for a perfectly packed arena (or an inline segment), up to 1
     */
    public double fragmentation() {
        return arenaBytes == 0 ? 0.0 : 1.0 - (double) liveEntryBytes / arenaBytes;
    }

    /**
     * Fraction of slots that hold entries.
     *
     * @return entries / capacity
     */
    public double loadFactor() {
        return capacity == 0 ? 0.0 : (double) entries / capacity;
    }
}
