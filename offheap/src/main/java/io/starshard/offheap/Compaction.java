package io.starshard.offheap;

import org.agrona.DirectBuffer;

/**
 * Gives a segment's memory back while it is in use: empties sparse arena chunks and shrinks a table that has
 * become much larger than its entries, in steps that each hold the owner's lock for about the spec's maximum
 * pause at most.
 *
 * <h2>Emptying chunks</h2>
 * The arena chooses the chunks to empty ({@link EntryArena#chooseVictims}); from then on nothing new is packed
 * there. A step walks the slots of the tables (the draining one first, while a growth or a shrink drains it)
 * from where the last step stopped, and moves every entry that lies in a chunk being emptied: its bytes are
 * copied into the open chunk ({@link EntryArena#relocate}) and the slot is repointed. A chunk whose last entry
 * leaves is returned through the epoch domain. The slot positions never change, so a walk that resumes after
 * other writes is still valid; if the tables were replaced meanwhile the walk starts over, and a full walk
 * that moved nothing while chunks are still marked gives them up (their entries must have gone elsewhere).
 *
 * <h2>Shrinking the table</h2>
 * When the entries fill less than {@code 1/}{@value #SHRINK_BELOW} of the table (and it is larger than the
 * table the segment started with), a table for twice the entries is published exactly as a growth publishes
 * its next one, and the old table is drained into it, here step by step and by the inserts as usual.
 *
 * <h2>Who runs it</h2>
 * The map runs a step after a write that left the segment {@link #due}, and on an explicit compaction; the
 * segment's allocations go through {@link #allocateEntry} and {@link #allocateWithNewValue}, which compact when
 * the budget refuses and try once more. A rebalance's moves do not run a step after each entry, so a step of a
 * rebalance is not lengthened unless the budget refuses it.
 */
final class Compaction {
    /** A table is shrunk once its entries fill less than {@code 1/SHRINK_BELOW} of its maximum fill. */
    static final int SHRINK_BELOW = 8;
    /** Groups of the draining table moved between two looks at the clock. */
    private static final int DRAIN_GROUPS_PER_CHECK = 16;
    /** Work units between two looks at the clock: a group visited is one, an entry moved is {@value}/4. */
    private static final int CLOCK_EVERY = 64;

    private final Segment segment;
    private final EntryArena arena;
    private final TableGrowth growth;
    private final OffHeapMemory memory;
    private final EpochDomain epochs;
    private final int slotSize;
    private final int minGroups;
    private final long maxPauseNanos;
    /** The draining table was published by a shrink, so steps drain it. */
    private boolean shrinking;
    /** The table the walk for entries to move is in, or null to start a new walk. */
    private Table scanTable;
    private int scanGroup;
    /** Whether the current walk has moved an entry. */
    private boolean walkMoved;
    private long longestStepNanos;
    private long shrinks;

    Compaction(Segment segment, EntryArena arena, TableGrowth growth, OffHeapMemory memory, EpochDomain epochs,
               SegmentSpec spec) {
        this.segment = segment;
        this.arena = arena;
        this.growth = growth;
        this.memory = memory;
        this.epochs = epochs;
        this.slotSize = spec.slotSize();
        this.minGroups = Table.groupsFor(spec.initialEntries());
        this.maxPauseNanos = spec.maxPauseNanos();
    }

    /** Whether a step has work to do: a shrink under way or due, or chunks to empty or worth choosing. Cheap. */
    boolean due() {
        return shrinking || (arena != null && arena.compactionDue()) || shrinkDue(segment.tableOrNull());
    }

    private boolean shrinkDue(Table t) {
        return t != null && t.groups > minGroups && (long) segment.size() * SHRINK_BELOW < t.maxFill;
    }

    /**
     * One step of whatever is due, bounded by the maximum pause.
     *
     * @param chooseAll choose every chunk worth emptying, not only enough to bring the free bytes down
     * @return whether work remains
     */
    boolean step(boolean chooseAll) {
        final long start = System.nanoTime();
        final long deadline = start + maxPauseNanos;
        try {
            if (!shrink(deadline)) {
                return true;
            }
            if (arena == null) {
                return false;
            }
            if (!arena.evacuating() && (chooseAll || arena.compactionDue())) {
                arena.chooseVictims(chooseAll, chooseAll);
            }
            if (!arena.evacuating()) {
                return false;
            }
            if (!evacuate(deadline)) {
                return true;
            }
            // A round copies at most one maximum chunk of survivors: an explicit compaction goes on with the next
            // round (the next call chooses again, and ends when nothing is worth emptying); after a write, another
            // round follows only while compaction is still due.
            return chooseAll || arena.compactionDue();
        } finally {
            longestStepNanos = Math.max(longestStepNanos, System.nanoTime() - start);
        }
    }

    /**
     * {@link EntryArena#allocateEntry}, compacting if the budget refuses: a write is refused for the budget only
     * once compaction could not make room ({@link #makeRoom(int)}).
     *
     * @throws OffHeapMemoryExhaustedException after the last attempt, with what the segment holds
     */
    long allocateEntry(DirectBuffer key, int keyOffset, int keyLength, DirectBuffer value, int valueOffset,
                       int valueLength) {
        for (int attempt = 0; ; attempt++) {
            try {
                return arena.allocateEntry(key, keyOffset, keyLength, value, valueOffset, valueLength);
            } catch (OffHeapMemoryExhaustedException refused) {
                if (!makeRoom(attempt)) {
                    throw refused.withDetail(describeMemory());
                }
            }
        }
    }

    /**
     * {@link EntryArena#allocateWithNewValue} for the entry the reference at {@code refAddress} names, compacting
     * if the budget refuses. The entry may have been moved by then: the caller reads the reference again.
     *
     * @throws OffHeapMemoryExhaustedException after the last attempt, with what the segment holds
     */
    long allocateWithNewValue(long refAddress, DirectBuffer value, int valueOffset, int valueLength) {
        for (int attempt = 0; ; attempt++) {
            try {
                return arena.allocateWithNewValue(MemoryAccess.getLong(refAddress), value, valueOffset, valueLength);
            } catch (OffHeapMemoryExhaustedException refused) {
                if (!makeRoom(attempt)) {
                    throw refused.withDetail(describeMemory());
                }
            }
        }
    }

    /**
     * What to do after the budget refused allocation number {@code attempt} of a write: first compact, then wait
     * until the emptied chunks are freed (readers gone, the releaser thread done); then give up.
     *
     * @return whether to try again
     */
    private boolean makeRoom(int attempt) {
        if (attempt == 0) {
            makeRoom();
            return true;
        }
        if (attempt == 1) {
            epochs.synchronize();   // emptied chunks may wait for readers, or for the releaser thread
            return true;
        }
        return false;
    }

    /** What the segment holds, for a refusal's message: live entry bytes, and what compaction left free. */
    private String describeMemory() {
        final Table d = segment.draining();
        return "this shard holds " + segment.size() + " entries of " + arena.liveEntryBytes() + " bytes in "
            + arena.reservedBytes() + " bytes of arena chunks (" + arena.freeBytes() + " free after compaction) and "
            + (segment.currentTable().bytes + (d == null ? 0 : d.bytes)) + " bytes of table";
    }

    /**
     * After the budget refused an allocation: empties chunks worth emptying, round after round within one pause,
     * and frees the emptied chunks that no reader can still be in, so that the caller can try once more.
     */
    void makeRoom() {
        if (arena == null) {
            return;
        }
        final long start = System.nanoTime();
        final long deadline = start + maxPauseNanos;
        try {
            // Round after round: the chunks emptied in one are freed before the next chooses, so that a full
            // budget gets room back for the copies of the next round.
            while (arena.chooseVictims(true, false) && evacuate(deadline)) {
                epochs.reclaim();
                if (System.nanoTime() - deadline >= 0) {
                    break;
                }
            }
        } finally {
            longestStepNanos = Math.max(longestStepNanos, System.nanoTime() - start);
        }
        epochs.reclaim();
    }

    /**
     * Moves the entries of the chunks being emptied, from where the walk stands.
     *
     * @return true when no chunk is left to empty, false if the deadline came first
     */
    private boolean evacuate(long deadline) {
        int work = 0;
        while (arena.evacuating()) {
            final Table d = segment.draining();
            final Table t = segment.currentTable();
            if (scanTable == null || (scanTable != d && scanTable != t)) {
                scanTable = d != null ? d : t;   // a new walk: the draining table first
                scanGroup = 0;
                walkMoved = false;
            }
            final Table walked = scanTable;
            while (scanGroup < walked.groups) {
                final int group = scanGroup++;
                for (long full = ControlBytes.matchFull(MemoryAccess.getLong(walked.controlWordAddress(group)));
                     full != 0; full &= full - 1) {
                    final long refAddress = walked.slotAddress(ControlBytes.slot(group, full))
                        + SlotDescriptor.REFERENCE_OFFSET;
                    final long ref = MemoryAccess.getLong(refAddress);
                    if (arena.isEvacuating(ref)) {
                        MemoryAccess.putLong(refAddress, arena.relocate(ref));
                        walkMoved = true;
                        work += CLOCK_EVERY / 4;
                    }
                }
                if (!arena.evacuating()) {
                    scanTable = null;
                    return true;
                }
                if (++work >= CLOCK_EVERY) {
                    work = 0;
                    if (System.nanoTime() - deadline >= 0) {
                        return false;
                    }
                }
            }
            if (walked == d) {
                scanTable = t;   // the draining table is done: the walk goes on in the table
                scanGroup = 0;
            } else {
                if (!walkMoved) {
                    if (Checks.ENABLED) {
                        throw new IllegalStateException("a full walk of the tables found no entry in the chunks"
                            + " being emptied, which still count live bytes");
                    }
                    arena.abandonVictims();
                }
                scanTable = null;
            }
        }
        return true;
    }

    /**
     * Starts a shrink if one is due, and drains the old table into the smaller one.
     *
     * @return true when no shrink is under way any more, false if the deadline came first
     */
    private boolean shrink(long deadline) {
        if (!shrinking) {
            final Table current = segment.currentTable();
            if (!shrinkDue(current)) {
                return true;
            }
            while (segment.draining() != null) {   // a growth's drain that no insert finished: finish it first
                growth.drain(current, DRAIN_GROUPS_PER_CHECK);
                if (segment.draining() != null && System.nanoTime() - deadline >= 0) {
                    return false;
                }
            }
            final int groups = Math.max(minGroups, Table.groupsFor((long) segment.size() * 2));
            if (groups >= current.groups) {
                return true;
            }
            final Table next;
            try {
                next = Table.allocate(memory, groups, slotSize);
            } catch (OffHeapMemoryExhaustedException | IllegalStateException refused) {
                return true;   // tried again after the next write; the larger table stays meanwhile
            }
            growth.dropPrepared();
            growth.publish(next, current);
            shrinks++;
            shrinking = true;
        }
        while (segment.draining() != null) {
            growth.drain(segment.currentTable(), DRAIN_GROUPS_PER_CHECK);
            if (segment.draining() != null && System.nanoTime() - deadline >= 0) {
                return false;
            }
        }
        shrinking = false;
        return true;
    }

    /** Forgets the work under way (the segment was cleared or released: its tables and chunks are gone). */
    void reset() {
        shrinking = false;
        scanTable = null;
        scanGroup = 0;
        walkMoved = false;
    }

    /** The longest a step has held the lock, in nanoseconds. */
    long longestStepNanos() {
        return longestStepNanos;
    }

    /** Times the table was shrunk. */
    long shrinks() {
        return shrinks;
    }
}
