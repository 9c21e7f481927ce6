package io.starshard;

/**
 * How snapshots of a map are produced, chosen at build time.
 *
 * <p>Recorded now so that maps built today keep their configuration; snapshots themselves arrive in a later
 * release (until then the mode has no observable effect).
 */
public enum SnapshotMode {
    /** Rebuild the snapshot on every call. */
    CLONE,
    /** Reuse the previous snapshot while no shard changed; rebuild only the shards that did. */
    CACHED,
    /** Per-shard copy-on-write views. */
    COW
}
