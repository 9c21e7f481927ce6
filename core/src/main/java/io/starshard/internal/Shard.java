package io.starshard.internal;

import io.starshard.offheap.Segment;
import io.starshard.offheap.SegmentImage;

import java.util.concurrent.locks.StampedLock;

/**
 * One shard: a {@link StampedLock} and the off-heap {@link Segment} it guards.
 *
 * <p>Why it extends the lock instead of holding one: the lock's state word is the hottest shared field of the
 * map (every writer CASes it, every optimistic reader loads it twice); making the shard <em>be</em> the lock puts
 * that word in the shard object itself, one dependent load less on every operation.
 *
 * <p>Protocol: writers hold the write lock; readers follow {@link ReadProtocol} (an optimistic stamp inside an
 * epoch section, the segment's optimistic readers, validation, the read lock as fallback).
 */
final class Shard extends StampedLock {
    private static final long serialVersionUID = 1L;

    /** The shard's storage; its memory is released under the write lock when the map closes. */
    final transient Segment segment;

    /**
     * Set, under this shard's lock, once this shard is the previous shard of a rebalance and its last entry has
     * left it. Nothing is inserted into a previous shard, so a drained shard stays empty: readers and writers skip
     * it without locking it.
     */
    transient volatile boolean drained;

    /**
     * The last copy of this shard a {@code CACHED} snapshot made, and the change hook armed with it; the copy is
     * reused while the segment's pending hook is still that mark (no change since). Guarded by this shard's lock
     * (read lock and the snapshot store's lock to use it, write lock to drop it on release); the field holds one
     * reference of the image.
     */
    transient SegmentImage cachedImage;
    transient Segment.ChangeHook cacheMark;

    Shard(Segment segment) {
        this.segment = segment;
    }

    /** The write lock, or {@link WouldBlock} if {@code nonBlocking} and it is taken: the stamp. */
    long acquireWrite(boolean nonBlocking) {
        if (!nonBlocking) {
            return writeLock();
        }
        final long stamp = tryWriteLock();
        if (stamp == 0) {
            throw WouldBlock.INSTANCE;
        }
        return stamp;
    }

    /** A read lock, or {@link WouldBlock} if {@code nonBlocking} and it is not free now: the stamp. */
    long acquireRead(boolean nonBlocking) {
        if (!nonBlocking) {
            return readLock();
        }
        final long stamp = tryReadLock();
        if (stamp == 0) {
            throw WouldBlock.INSTANCE;
        }
        return stamp;
    }
}
