package io.starshard.jmh.map;

/** The maps compared side by side in {@link MapBenchmark}. */
public enum MapImpl {
    /** {@code io.starshard.ShardedHashMap}, default configuration (64 shards). */
    STARSHARD,
    /** {@code java.util.concurrent.ConcurrentHashMap}. */
    CHM,
    /** Chronicle Map 2026.1, in memory. */
    CHRONICLE,
    /** OHC 0.7.4 off-heap cache, sized so it never evicts. */
    OHC,
    /** Caffeine 3.3 bounded cache, sized so it never evicts. */
    CAFFEINE
}
