package io.starshard.internal;

import io.starshard.internal.ThreadContext.Frame;
import io.starshard.offheap.OffHeapMemoryExhaustedException;
import io.starshard.offheap.Segment;

/**
 * The one write path of the map. Every write, object or {@code long}, is one of three methods, each of them
 * "route → write lock → check open → find → mutate → count":
 * <ul>
 *   <li>{@link #putVal}: insert, or replace the value of a present key (put, set, putIfAbsent, putLong,
 *       putAll);</li>
 *   <li>{@link #replaceNode}: replace or remove a present key, optionally only if its value equals an expected
 *       one (replace, remove, their conditional forms, removeLong, batchRemove);</li>
 *   <li>{@link #remap}: compute the new value from the current one under the lock (compute, computeIfAbsent,
 *       computeIfPresent, merge, addAndGetLong).</li>
 * </ul>
 * The key (and value) are already encoded in the thread's {@link Frame}: a failing codec has changed nothing.
 * The segment makes every allocation a write needs before it changes anything, so a full memory budget changes
 * nothing either; the entry count is updated under the same lock as the segment.
 *
 * <p>A put or replace that the budget refuses, after its own shard compacted, is tried once more after every
 * shard has been compacted ({@link ShardTable#compact}): memory that other shards hold free is given back to the
 * budget first. The remapping methods are not retried, so that a remapping function runs at most once per call.
 */
final class WriteCore {
    /** A write core result: the key was absent (and, for {@link #putVal}, has been inserted). */
    static final int ABSENT = -1;
    /** A write core result: the key was present; its value was not copied out. */
    static final int PRESENT = -2;
    /** A {@link #replaceNode} result: the current value did not equal the expected one; nothing changed. */
    static final int MISMATCH = -3;
    /** A {@link Remapping} result: remove the key (or leave it absent). */
    static final int REMOVE = -1;
    /** A {@link Remapping} result: change nothing. */
    static final int KEEP = -2;

    private final ShardTable shards;
    private final EntryCodec<?, ?> codec;
    /**
     * The persisted map's journal, or null for a map in memory only. Set once, before the map is handed to its user
     * (a persisted map replays its journal into the engine first, without journaling the replay).
     */
    private Journal journal;

    WriteCore(ShardTable shards, EntryCodec<?, ?> codec) {
        this.shards = shards;
        this.codec = codec;
    }

    /** Journals every later write; called before the map is published. */
    void attachJournal(Journal journal) {
        this.journal = journal;
    }

    /** @return the journal, or null for a map in memory only */
    Journal journal() {
        return journal;
    }

    /**
     * Inserts the entry in {@code f}, or replaces the value of its key unless {@code onlyIfAbsent}.
     *
     * @return {@link #ABSENT} if the key was new (inserted); otherwise the length of the previous value, copied
     *         into {@code f.read} when {@code wantPrevious}, or {@link #PRESENT}
     */
    int putVal(ThreadContext ctx, Frame f, boolean onlyIfAbsent, boolean wantPrevious) {
        try {
            return putValOnce(ctx, f, onlyIfAbsent, wantPrevious);
        } catch (OffHeapMemoryExhaustedException refused) {
            compactOrHandOver(ctx);
            try {
                return putValOnce(ctx, f, onlyIfAbsent, wantPrevious);
            } catch (OffHeapMemoryExhaustedException again) {
                throw shards.refusedAfterCompaction(again);
            }
        }
    }

    private int putValOnce(ThreadContext ctx, Frame f, boolean onlyIfAbsent, boolean wantPrevious) {
        final Shard shard = shards.lockForWrite(ctx, f, true);
        try {
            final Segment segment = shard.segment;
            final int slot = segment.find(f.hash, f.key, 0, f.keyLength);
            if (slot < 0) {
                insert(segment, f);
                return ABSENT;
            }
            final int previous = wantPrevious ? segment.readValue(slot, f.read, 0) : PRESENT;
            if (!onlyIfAbsent) {
                replaceValue(segment, slot, f, f.valueLength);
            }
            return previous;
        } finally {
            ShardTable.unlockWrite(shard);
        }
    }

    /**
     * Replaces the value of the key in {@code f} with {@code f}'s value, or removes the key, provided it is present
     * and (if {@code expected} is not null) its value equals {@code expected}.
     *
     * @return {@link #ABSENT}, {@link #MISMATCH}, or the length of the previous value, copied into {@code f.read}
     *         when {@code wantPrevious} (else {@link #PRESENT})
     */
    int replaceNode(ThreadContext ctx, Frame f, boolean remove, Object expected, boolean wantPrevious) {
        try {
            return replaceNodeOnce(ctx, f, remove, expected, wantPrevious);
        } catch (OffHeapMemoryExhaustedException refused) {
            compactOrHandOver(ctx);
            try {
                return replaceNodeOnce(ctx, f, remove, expected, wantPrevious);
            } catch (OffHeapMemoryExhaustedException again) {
                throw shards.refusedAfterCompaction(again);
            }
        }
    }

    private int replaceNodeOnce(ThreadContext ctx, Frame f, boolean remove, Object expected, boolean wantPrevious) {
        final Shard shard = shards.lockForWrite(ctx, f, false);
        if (shard == null) {
            return ABSENT;
        }
        try {
            final Segment segment = shard.segment;
            final int slot = segment.find(f.hash, f.key, 0, f.keyLength);
            if (slot < 0) {
                return ABSENT;
            }
            int previous = PRESENT;
            if (wantPrevious || expected != null) {
                previous = segment.readValue(slot, f.read, 0);
                if (expected != null && !ValueEquality.valueEquals(expected, codec.decodeRead(f, previous))) {
                    return MISMATCH;
                }
            }
            if (remove) {
                removeAt(segment, slot, f);
            } else {
                replaceValue(segment, slot, f, f.valueLength);
            }
            return previous;
        } finally {
            ShardTable.unlockWrite(shard);
        }
    }

    /**
     * Compacts every shard before the one retry of a write the budget refused; an operation that must not wait
     * (compaction takes every shard's lock in turn) is handed over instead: nothing has changed yet.
     */
    private void compactOrHandOver(ThreadContext ctx) {
        if (ctx.nonBlockingFor == shards) {
            throw WouldBlock.INSTANCE;
        }
        shards.compact();
    }

    /** A new value computed from the current one, under the key's shard write lock. */
    interface Remapping {
        /**
         * @param f       the frame: the current value is in {@code f.read} if {@code current >= 0}
         * @param current the current value's length, or {@link #ABSENT}
         * @return {@link #REMOVE}, {@link #KEEP}, or the length of the new value, encoded into {@code f.value}
         */
        int remap(Frame f, int current);
    }

    /**
     * Applies {@code remapping} to the key in {@code f} under its shard's write lock.
     *
     * @param create whether an absent key may be inserted (creating its shard if needed)
     */
    void remap(ThreadContext ctx, Frame f, Remapping remapping, boolean create) {
        if (journal != null && ctx.nonBlockingFor == shards) {
            // The journal lane is locked after the function ran, and might be taken: the function would then run
            // twice. A persisted map's remapping runs where it may wait.
            throw WouldBlock.INSTANCE;
        }
        final Shard shard = shards.lockForWrite(ctx, f, create);
        if (shard == null) {
            return;
        }
        try {
            final Segment segment = shard.segment;
            final int slot = segment.find(f.hash, f.key, 0, f.keyLength);
            final int current = slot >= 0 ? segment.readValue(slot, f.read, 0) : ABSENT;
            final int updated = remapping.remap(f, current);
            if (updated >= 0) {
                f.valueLength = updated;
                if (slot >= 0) {
                    replaceValue(segment, slot, f, updated);
                } else {
                    insert(segment, f);
                }
            } else if (updated == REMOVE && slot >= 0) {
                removeAt(segment, slot, f);
            }
        } finally {
            ShardTable.unlockWrite(shard);
        }
    }

    private boolean nonBlocking(Frame f) {
        return f.owner.nonBlockingFor == shards;
    }

    // The three changes a write makes to a segment, each journaled for a persisted map: the lane is locked (and its
    // file grown) before the segment changes, so a full disk changes nothing, and the record is appended after the
    // segment accepted the change, so a full budget journals nothing. Both happen under the key's shard lock.

    private void insert(Segment segment, Frame f) {
        final JournalLane lane = journal == null ? null
            : journal.lock(f.hash, JournalFormat.recordLength(f.keyLength, f.valueLength), nonBlocking(f));
        try {
            segment.insert(f.hash, f.key, 0, f.keyLength, f.value, 0, f.valueLength);
            if (lane != null) {
                lane.appendPut(f.key.byteArray(), f.keyLength, f.value.byteArray(), f.valueLength);
            }
        } finally {
            if (lane != null) {
                lane.unlock();
            }
        }
        shards.added();
    }

    private void replaceValue(Segment segment, int slot, Frame f, int valueLength) {
        final JournalLane lane = journal == null ? null
            : journal.lock(f.hash, JournalFormat.recordLength(f.keyLength, valueLength), nonBlocking(f));
        try {
            segment.replaceValue(slot, f.value, 0, valueLength);
            if (lane != null) {
                lane.appendPut(f.key.byteArray(), f.keyLength, f.value.byteArray(), valueLength);
            }
        } finally {
            if (lane != null) {
                lane.unlock();
            }
        }
    }

    /**
     * Removes the entry at {@code slot}, whose key is in {@code f.key}, and counts it.
     */
    void removeAt(Segment segment, int slot, Frame f) {
        final JournalLane lane = journal == null ? null
            : journal.lock(f.hash, JournalFormat.recordLength(f.keyLength, 0), nonBlocking(f));
        try {
            segment.removeAt(slot);
            if (lane != null) {
                lane.appendRemove(f.key.byteArray(), f.keyLength);
            }
        } finally {
            if (lane != null) {
                lane.unlock();
            }
        }
        shards.removed(1);
    }
}
