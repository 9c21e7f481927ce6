package io.starshard;

/**
 * How {@link ShardedHashMap#snapshot()} copies the map; chosen once, when the map is built
 * ({@link ShardedHashMapBuilder#snapshotMode}). Every mode gives the same snapshot (per-shard consistent,
 * immutable, off-heap); they differ in when the copying is paid and by whom.
 *
 * <p>Which to choose, in short ({@code docs/snapshots.md} has the measurements): {@link #CLONE} for occasional
 * snapshots; {@link #CACHED} for frequent snapshots of a map whose writes touch few shards between two of them;
 * {@link #COW} for snapshots that must be taken instantly, or often, of a large map.
 */
public enum SnapshotMode {
    /**
     * Every snapshot copies every shard's entries, shard by shard under each shard's read lock. Costs
     * O(entries) per snapshot, in the thread that takes it; writers pay nothing.
     */
    CLONE,
    /**
     * Like {@link #CLONE}, but a shard whose entries have not changed since the previous snapshot reuses that
     * snapshot's copy (a one-shot change hook armed with the copy tells). The map keeps the last copy of every shard, off-heap,
     * until the shard changes and another snapshot is taken, or the map closes.
     */
    CACHED,
    /**
     * Copy-on-write: taking a snapshot copies nothing (O(shards)); a shard is copied when it is next written
     * while a snapshot still holds its old state, by that write, or when the snapshot is iterated. A write to a
     * shard no snapshot holds pays one field load. Reading a key of a shard not yet copied reads the live shard
     * under its read lock.
     */
    COW
}
