package io.starshard;

/**
 * How entries are spread over shards, from {@link ShardedHashMap#shardStats()}.
 *
 * <p>Taken shard by shard without a global lock, so under concurrent writes the numbers are per-shard
 * consistent, not a single point in time.
 *
 * @param totalShards       shards the map routes to
 * @param initializedShards shards whose storage has been allocated (first write)
 * @param emptyShards       shards holding no entries, allocated or not
 * @param averageLoad       entries per shard over all shards
 * @param maxLoad           entries in the fullest shard
 */
public record ShardStats(int totalShards, int initializedShards, int emptyShards, double averageLoad, long maxLoad) {
}
