package io.starshard;

/**
 * What a map's snapshots have cost so far: how many were taken, how many shard copies they made and reused, and
 * the off-heap bytes their copies hold now. The counters only grow; {@code imageBytes} comes back as snapshots
 * close.
 *
 * <p>Why it exists: the modes differ only in cost, so the cost must be observable (the tests of each mode's
 * promise read these counters, and so can a dashboard).
 *
 * @param snapshots        snapshots taken, versioned or not
 * @param shardCopies      shard copies made, for any reason
 * @param reusedCopies     shard copies a {@link SnapshotMode#CACHED} snapshot reused instead of copying
 * @param copiesOnWrite    shard copies a write made because a {@link SnapshotMode#COW} snapshot held the shard
 * @param imageBytes       off-heap bytes the copies of every open snapshot (and the cache) hold now; not part
 *                         of the map's memory budget
 * @param retainedVersions versioned snapshots the map retains now
 * @param latestVersion    the version of the last snapshot taken, 0 if none
 */
public record SnapshotStats(long snapshots, long shardCopies, long reusedCopies, long copiesOnWrite,
                            long imageBytes, int retainedVersions, long latestVersion) {
}
