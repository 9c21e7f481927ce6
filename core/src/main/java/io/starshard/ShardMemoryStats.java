package io.starshard;

/**
 * Off-heap memory of one shard: what it reserves, how much of that holds live entries, and how much is free.
 * A shard whose free share stays high while the map's other shards are packed is where memory is wasted; the
 * per-shard view shows it where the map's total ({@link MemoryStats}) averages it away.
 *
 * @param shard          the shard's index in the current shard array
 * @param tableBytes     control bytes and slots of the shard's table (both tables while one grows)
 * @param arenaBytes     arena chunks reserved for indirect entries (0 for inline formats)
 * @param liveEntryBytes bytes of the live indirect entries in those chunks, headers included
 * @param entries        live entries
 * @param relocatedBytes bytes of entries compaction has copied out of sparse chunks: the price of the memory it
 *                       gave back
 * @param longestCompactionStepNanos the longest one step of compaction or table shrinking held the shard's lock
 */
public record ShardMemoryStats(int shard, long tableBytes, long arenaBytes, long liveEntryBytes, long entries,
                               long relocatedBytes, long longestCompactionStepNanos) {

    /**
     * Every off-heap byte this shard holds.
     *
     * @return {@code tableBytes + arenaBytes}
     */
    public long reservedBytes() {
        return tableBytes + arenaBytes;
    }

    /**
     * Arena bytes holding no live entry: entries removed or replaced in chunks not emptied yet, the rounding of
     * entries to 8 bytes, and the part of the open chunk not carved yet.
     *
     * @return {@code arenaBytes - liveEntryBytes}
     */
    public long freeArenaBytes() {
        return Math.max(0, arenaBytes - liveEntryBytes);
    }

    /**
     * The share of the arena that holds no live entry.
     *
     * @return {@code freeArenaBytes / arenaBytes}, 0 for an empty arena or an inline format
     */
    public double fragmentation() {
        return arenaBytes == 0 ? 0.0 : (double) freeArenaBytes() / arenaBytes;
    }
}
