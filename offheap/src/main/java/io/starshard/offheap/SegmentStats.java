package io.starshard.offheap;

/**
 * A point-in-time description of one segment, taken under the segment owner's lock.
 *
 * @param entries            live entries
 * @param capacity           slots in the table (a multiple of 8)
 * @param tombstones         DELETED slots awaiting the next rebuild
 * @param tableBytes         bytes of the control and slot arrays
 * @param arenaBytes         bytes of arena chunks reserved for indirect entries (0 for inline segments)
 * @param liveEntryBytes     bytes of live indirect entries, headers included, without size-class rounding
 * @param freeListBytes      bytes of freed arena blocks waiting for reuse
 * @param growths            times the table doubled
 * @param rebuilds           times the table was rebuilt at the same size to drop tombstones
 */
public record SegmentStats(int entries, int capacity, int tombstones, long tableBytes, long arenaBytes,
                           long liveEntryBytes, long freeListBytes, long growths, long rebuilds) {

    /**
     * Everything this segment holds off-heap.
     *
     * @return {@code tableBytes + arenaBytes}
     */
    public long allocatedBytes() {
        return tableBytes + arenaBytes;
    }

    /**
     * Fraction of arena bytes not holding live entry bytes (size-class rounding, free blocks, chunk tails).
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
