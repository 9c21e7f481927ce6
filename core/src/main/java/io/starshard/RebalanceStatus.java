package io.starshard;

/**
 * Where a map's rebalance stands: from {@link ShardedHashMap#rebalanceStatus()}, the online rebalance methods and
 * a {@link RebalanceOptions#listener listener}.
 *
 * <p>Counts are taken without stopping the map, so while writers run they are approximate; they are exact when
 * nothing is written. Entries moved include those moved by writers: a write to a key not moved yet moves it
 * first.
 *
 * @param state            {@link State#MIGRATING} while entries are being moved, else {@link State#IDLE}
 * @param fromShards       the shard count before the (last) rebalance; equal to {@code toShards} if none ran
 * @param toShards         the shard count the map routes new writes to
 * @param movedEntries     entries moved so far (by the last rebalance, when idle)
 * @param movedBytes       key and value bytes moved so far
 * @param remainingEntries entries still in the previous shards
 * @param remainingBytes   key and value bytes still in the previous shards
 * @param progress         {@code movedEntries / (movedEntries + remainingEntries)}; 1.0 when idle
 * @param longestStep      the longest time one step of the mover held a shard lock (writers that move their own
 *                         key hold it for one entry); zero if none ran
 */
public record RebalanceStatus(State state, int fromShards, int toShards, long movedEntries, long movedBytes,
                              long remainingEntries, long remainingBytes, double progress,
                              java.time.Duration longestStep) {

    /** Whether entries are being moved. */
    public enum State {
        /** No rebalance runs; the map has one shard array. */
        IDLE,
        /** A rebalance runs: keys are in their previous or their new shard, and operations consult both. */
        MIGRATING
    }

    /**
     * Whether a rebalance is running.
     *
     * @return {@code state() == MIGRATING}
     */
    public boolean migrating() {
        return state == State.MIGRATING;
    }
}
