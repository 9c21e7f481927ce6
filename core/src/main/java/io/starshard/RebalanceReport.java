package io.starshard;

import java.time.Duration;

/**
 * The outcome of {@link ShardedHashMap#rebalanceTo(int)}.
 *
 * @param fromShards   the shard count before
 * @param toShards     the shard count after
 * @param movedEntries entries moved from the old shards to the new ones (0 when the count did not change)
 * @param movedBytes   key and value bytes moved, copied as they were (never decoded or re-encoded)
 * @param duration     from the start of the rebalance to the release of the old shards
 */
public record RebalanceReport(int fromShards, int toShards, long movedEntries, long movedBytes, Duration duration) {
}
