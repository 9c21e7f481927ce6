package io.starshard.internal;

import io.starshard.offheap.Segment;

import java.util.concurrent.locks.StampedLock;

/**
 * One shard: a {@link StampedLock} and the off-heap {@link Segment} it guards.
 *
 * <p>Why it extends the lock instead of holding one: the lock's state word is the hottest shared field of
 * the map (every writer CASes it, every optimistic reader loads it twice). Making the shard <em>be</em> the lock
 * puts that word in the shard object itself, one pointer less on the hot path, and the trailing padding keeps
 * the next shard's lock word off this cache line (shards are allocated one after another).
 *
 * <p>Protocol (see {@code ShardedHashMap}): writers hold the write lock; readers try an optimistic stamp inside
 * an epoch section, read through the segment's racy readers, validate, and fall back to the read lock.
 */
public final class Shard extends StampedLock {
    private static final long serialVersionUID = 1L;

    /** The shard's storage; its memory is released (under the write lock) when the map closes. */
    public final transient Segment segment;

    /** Padding: keeps the following object's fields off the lock state's cache line. */
    long p01, p02, p03, p04, p05, p06, p07, p08;

    /**
     * Creates a shard around a segment.
     *
     * @param segment the shard's storage
     */
    public Shard(Segment segment) {
        this.segment = segment;
    }
}
