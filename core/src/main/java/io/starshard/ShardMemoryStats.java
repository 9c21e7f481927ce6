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
 * @param freeListBytes  bytes of freed blocks waiting for reuse (part of the free bytes)
 * @param entries        live entries
 */
public record ShardMemoryStats(int shard, long tableBytes, long arenaBytes, long liveEntryBytes, long freeListBytes,
                               long entries) {

    /**
     * Every off-heap byte this shard holds.
     *
     * @return {@code tableBytes + arenaBytes}
     */
    public long reservedBytes() {
        return tableBytes + arenaBytes;
    }

    /**
     * Arena bytes holding no live entry: freed blocks, the rounding of blocks to their size class, and the part of
     * a chunk not carved yet.
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
