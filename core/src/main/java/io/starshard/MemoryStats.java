package io.starshard;

/**
 * Off-heap memory of a map: what it holds and how efficiently.
 *
 * @param usedBytes      every off-heap byte the map holds, including memory retired by growth and waiting for
 *                       readers to leave; 0 after {@code close()}
 * @param budgetBytes    the configured budget, or {@link Long#MAX_VALUE} for none
 * @param peakBytes      the highest {@code usedBytes} seen
 * @param tableBytes     control bytes and slots of all shards
 * @param arenaBytes     arena chunks of all shards (indirect entries)
 * @param liveEntryBytes bytes of live indirect entries, headers included
 * @param entries        live entries
 */
public record MemoryStats(long usedBytes, long budgetBytes, long peakBytes, long tableBytes, long arenaBytes,
                          long liveEntryBytes, long entries) {

    /**
     * Arena bytes holding no live entry: entries removed or replaced in chunks compaction has not emptied yet, the
     * rounding of entries to 8 bytes, and the parts of chunks not carved yet.
     *
     * @return {@code arenaBytes - liveEntryBytes}
     */
    public long freeArenaBytes() {
        return Math.max(0, arenaBytes - liveEntryBytes);
    }

    /**
     * The share of the arena that holds no live entry; per shard in {@link ShardMemoryStats#fragmentation()}.
     *
     * @return {@code freeArenaBytes / arenaBytes}, 0 for an empty arena or an inline format
     */
    public double fragmentation() {
        return arenaBytes == 0 ? 0.0 : (double) freeArenaBytes() / arenaBytes;
    }

    /**
     * Off-heap bytes per entry.
     *
     * @return {@code usedBytes / entries}, or 0 for an empty map
     */
    public double bytesPerEntry() {
        return entries == 0 ? 0.0 : (double) usedBytes / entries;
    }
}
