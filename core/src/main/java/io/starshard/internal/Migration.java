package io.starshard.internal;

import io.starshard.RebalanceOptions;
import io.starshard.offheap.KeyHasher;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * A rebalance in progress: the previous shard array whose entries are being moved into the active one.
 *
 * <p>The invariant a migration keeps: a key is in at most one place, either in its previous shard (not moved yet)
 * or in its active shard. Nothing is ever inserted into a previous shard while a migration runs, so previous
 * tables never grow and their slot indices are stable: a per-shard cursor can walk them while writers remove
 * entries behind it. A previous shard whose last entry has left is <em>drained</em> and is skipped by everyone.
 *
 * <pre>
 *  hash space (routing bits, 0 .. 2^32)
 *  previous (3):  |     P0      |     P1      |     P2      |     entries move as raw bytes,
 *  active   (4):  |   A0   |   A1   |   A2   |   A3   |          routed by their stored hash
 *  shard ranges are contiguous and ordered, so A1 is fed by exactly P0 and P1
 * </pre>
 */
final class Migration {
    /** The shards entries move out of; a slot is null for a shard that was never created. */
    final Shard[] previous;
    final int previousCount;
    final int targetCount;
    /** Next slot to move, per previous shard; read and written only under that shard's write lock. */
    final int[] cursors;
    /** Where the next advancing thread starts, so that concurrent advancers spread over the shards. */
    final AtomicInteger nextShard = new AtomicInteger();
    final LongAdder movedEntries = new LongAdder();
    final LongAdder movedBytes = new LongAdder();
    /** The longest time a step held its previous shard's lock, in nanoseconds. */
    final AtomicLong longestStepNanos = new AtomicLong();
    final long startNanos = System.nanoTime();
    /**
     * Opens once the migration is over for a caller of {@code awaitRebalance}: at its end, or for a background one
     * once its thread has delivered the last progress report and stopped, so that a progress bar drawn by the
     * listener is complete when the wait returns.
     */
    final CountDownLatch over = new CountDownLatch(1);
    /** How steps are bounded, for every thread that advances this migration. */
    final RebalanceOptions options;
    final long maxPauseNanos;

    Migration(Shard[] previous, int targetCount, RebalanceOptions options) {
        this.previous = previous;
        this.previousCount = previous.length;
        this.targetCount = targetCount;
        this.cursors = new int[previous.length];
        this.options = options;
        this.maxPauseNanos = options.maxPause().toNanos();
    }

    /** The previous shard a hash was routed to, or null if it was never created or has been drained. */
    Shard previousFor(long hash) {
        final Shard shard = previous[KeyHasher.shardIndex(hash, previousCount)];
        return shard == null || shard.drained ? null : shard;
    }

    /** Index of the first previous shard whose range overlaps {@code [routingFrom, routingTo)}. */
    int firstPreviousOverlapping(long routingFrom) {
        return (int) ((routingFrom * previousCount) >>> 32);
    }

    /** Index of the last previous shard whose range overlaps {@code [routingFrom, routingTo)}, a non-empty range. */
    int lastPreviousOverlapping(long routingTo) {
        return (int) (((routingTo - 1) * previousCount) >>> 32);
    }

    /** Records an entry moved to its active shard. */
    void moved(int keyLength, int valueLength) {
        movedEntries.increment();
        movedBytes.add(keyLength + (long) valueLength);
    }

    /** Whether every previous shard has been drained (a previous shard never fills again). */
    boolean allDrained() {
        for (Shard shard : previous) {
            if (shard != null && !shard.drained) {
                return false;
            }
        }
        return true;
    }
}
