package io.starshard.jmh.map;

/** The maps compared side by side in {@link MapBenchmark}. */
public enum MapImpl {
    /** {@code io.starshard.ShardedHashMap}, default configuration (64 shards). */
    STARSHARD,
    /** {@code java.util.concurrent.ConcurrentHashMap}; each lookup passes the very {@code Long} that is stored. */
    CHM,
    /**
     * {@code ConcurrentHashMap<Long, Long>} ({@code long -> long} only) whose stored key, stored value and
     * lookup key are three distinct objects, as when a caller boxes its own key: {@code equals} compares
     * instead of hitting identity, and the value is not the object the comparison just loaded.
     */
    CHM_DISTINCT_BOXES,
    /** Chronicle Map 2026.1, in memory. */
    CHRONICLE,
    /** OHC 0.7.4 off-heap cache, sized so it never evicts. */
    OHC,
    /** Caffeine 3.3 bounded cache, sized so it never evicts. */
    CAFFEINE
}
