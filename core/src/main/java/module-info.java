/**
 * The map: {@link io.starshard.ShardedHashMap} and its public types. The engine in {@code io.starshard.internal}
 * is not exported.
 */
module io.starshard {
    requires transitive io.starshard.codec;
    requires transitive io.starshard.offheap;
    requires static chronicle.bytes;
    requires static chronicle.core;

    exports io.starshard;
}
