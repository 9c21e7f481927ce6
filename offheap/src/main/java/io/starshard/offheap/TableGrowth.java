package io.starshard.offheap;

/**
 * Grows (or cleans) a segment's table without a pause: the next table is prepared ahead, published in O(1), and
 * the old one is drained into it a few groups per insert.
 *
 * <pre>
 *  load 93/128 allocate the next table (twice the groups, or the same to drop tombstones), control bytes not set;
 *             a presized table waits until it holds the entries it was sized for, then prepares faster
 *  ...        each insert initialises its share of it (what is left over the inserts left before the switch, at
 *             least {@value #FILL_BYTES_PER_INSERT} bytes): control bytes set to EMPTY, then one byte written
 *             per page of the slots (a page fault every few inserts)
 *  load 3/4   publish: draining = old table, table = next   (O(1) under the lock; an insert whose entry then
 *             does not fit the budget gives the table back unpublished, so a refused write changes nothing)
 *  ...        each insert moves {@value #DRAIN_GROUPS_PER_INSERT} groups of the draining table into the table,
 *             marking each moved slot DELETED there, so probe chains through it stay intact
 *  drained    the draining table is retired to the epoch domain
 * </pre>
 *
 * <p>A next table small enough to initialise at once ({@value #SYNC_FILL_BYTES} control bytes) is not prepared
 * ahead: it is allocated when the table is full, as before, and only the drain is incremental.
 *
 * <p>Why prepare so late and drain so fast: from the preparation to the end of the drain the segment holds three
 * times the table memory (the old table and one twice as large). Prepared at 93/128 load and drained
 * {@value #DRAIN_GROUPS_PER_INSERT} groups per insert, that lasts {@code 5/128 x capacity} inserts of the
 * {@code 3/8 x capacity} a doubling serves: a tenth of the sizes a growing map passes through, where preparing at
 * 5/8 and draining 2 groups per insert made it half. The drain's total work is the same at any rate; only its
 * share per insert grows (a few microseconds at most).
 *
 * <p>Why the rates suffice: the next table has {@code 2 x capacity x 17} bytes (control and 16-byte slots) and
 * the load goes from 93/128 to 3/4 in {@code 3/128 x capacity} inserts, about 1,450 bytes per insert: at most one
 * new page, so no insert pays more than one page fault for it. A doubled table reaches its own 3/4 after at least
 * {@code 3/4 x capacity} inserts, while the old table has {@code capacity / 8} groups, so a sixth of a group per
 * insert would drain it. The fill step is recomputed from what is left, so a preparation that starts late (a
 * presized table passing its expected entries) still ends by the switch; the synchronous fallbacks (finish a fill
 * or a drain under the lock) keep the segment correct if one is reached. A presized table that only churns
 * (removes and inserts below its expected entries) prepares nothing: its tombstone rebuild allocates the next
 * table at the switch, and only the drain is incremental.
 *
 * <p>While a table drains, a key is in exactly one of the two tables: lookups try the table, then the draining
 * table (racy readers included; their stamp catches a move in between), and inserts go to the table. Only inserts
 * drain: a segment that only loses entries (the previous segment of a rebalance, a scan that removes) keeps its
 * slot numbering while a cursor walks it. All of it runs under the segment owner's write lock.
 */
final class TableGrowth {
    /** The next table is prepared from {@code (d - 1) / d} of the maximum fill (3/4 load): 93/128 load. */
    static final int PREPARE_AT_DENOMINATOR = 32;
    /** Groups of the draining table moved per insert. */
    static final int DRAIN_GROUPS_PER_INSERT = 8;
    /**
     * Bytes of the prepared table initialised per insert: its control bytes set to EMPTY, then its slot pages
     * touched. A page the process has never used costs a page fault on first touch; touched here, a few per
     * thousand inserts, they are not paid all at once by the inserts and drains right after the switch, which
     * would otherwise each land on a new page.
     */
    static final int FILL_BYTES_PER_INSERT = 512;
    /** A next table with at most this many control bytes is prepared synchronously when it is needed. */
    static final long SYNC_FILL_BYTES = 64 * 1024;

    private final Segment segment;
    private final OffHeapMemory memory;
    private final int slotSize;
    /** The table the next growth publishes, unpublished (no reader can see it); null until the load is 93/128. */
    private Table prepared;
    /** Bytes of {@link #prepared} initialised so far: control bytes set to EMPTY, then slot pages touched. */
    private long preparedFilled;
    /** The next group of the segment's draining table to move. */
    private int drainGroup;
    /** The prepared table {@link #next} handed out, until it is published or given back. */
    private Table takenFromPrepared;

    /**
     * The entries the segment's first table was sized for. No next table is prepared while the segment holds
     * fewer: a table presized for its expected entries sits near its maximum load, and preparing ahead would
     * allocate a second, twice larger table for every presized segment that never grows.
     */
    private final int presizedEntries;

    /** Control bytes above which the next table is prepared ahead ({@link #SYNC_FILL_BYTES}; lower in tests). */
    private final long syncFillBytes;

    TableGrowth(Segment segment, OffHeapMemory memory, int slotSize, long syncFillBytes, int presizedEntries) {
        this.presizedEntries = presizedEntries;
        this.segment = segment;
        this.memory = memory;
        this.slotSize = slotSize;
        this.syncFillBytes = syncFillBytes;
    }

    /** Bytes of the prepared table (allocated, so accounted), for the segment's stats. */
    long preparedBytes() {
        return prepared == null ? 0 : prepared.bytes;
    }

    /**
     * The work an insert does for growth before it looks for its slot: drain some groups, or prepare the next
     * table. Never throws for lack of memory: a prepared table the budget refuses is tried again later.
     */
    void beforeInsert(Table current, int entries, int filled) {
        if (segment.draining() != null) {
            drain(current, DRAIN_GROUPS_PER_INSERT);
            return;
        }
        if (prepared == null) {
            if ((long) filled * PREPARE_AT_DENOMINATOR >= (long) current.maxFill * (PREPARE_AT_DENOMINATOR - 1)
                    && entries >= Math.min(presizedEntries, current.maxFill)) {
                try {
                    final int groups = nextGroups(current, entries);
                    if ((long) groups * ControlBytes.GROUP_WIDTH > syncFillBytes) {
                        prepared = Table.allocateUninitialised(memory, groups, slotSize);
                        preparedFilled = 0;
                    }
                } catch (OffHeapMemoryExhaustedException | IllegalStateException e) {
                    // Not needed yet: a later insert tries again, and the switch reports what is still wrong then.
                    prepared = null;
                }
            }
        } else if (preparedFilled < prepared.bytes) {
            // Enough per insert to be done by the switch, however late the preparation started.
            final long left = prepared.bytes - preparedFilled;
            final long insertsLeft = Math.max(1, current.maxFill - filled);
            final long step = Math.max(FILL_BYTES_PER_INSERT, (left + insertsLeft - 1) / insertsLeft);
            final long to = Math.min(prepared.bytes, preparedFilled + step);
            if (preparedFilled < prepared.capacity) {
                prepared.fillControl(preparedFilled, Math.min(to, prepared.capacity));
            }
            prepared.touchSlotPages(preparedFilled, to);
            preparedFilled = to;
        }
    }

    /**
     * The next table, for when {@code current} is full: finishes a drain still running (rare), and takes the
     * prepared table or allocates one now. Unpublished: the caller either {@link #publish}es it or gives it back
     * with {@link #giveBack} if the write fails for another reason, so that a refused write leaves the memory as
     * it was.
     *
     * @throws OffHeapMemoryExhaustedException if the next table cannot be allocated (nothing changed)
     * @throws IllegalStateException           if the segment is at its maximum size
     */
    Table next(Table current, int entries) {
        if (segment.draining() != null) {
            drain(current, Integer.MAX_VALUE);
        }
        final int groups = nextGroups(current, entries);
        Table next = prepared;
        if (next != null && next.groups != groups) {
            memory.free(next.address, next.bytes);   // never published: no reader can see it
            next = null;
            prepared = null;
        }
        if (next == null) {
            return Table.allocate(memory, groups, slotSize);
        }
        if (preparedFilled < next.capacity) {
            next.fillControl(preparedFilled, next.capacity);
        }
        prepared = null;
        takenFromPrepared = next;
        return next;
    }

    /** Makes {@code next} the segment's table and {@code current} the draining one. */
    void publish(Table next, Table current) {
        takenFromPrepared = null;
        drainGroup = 0;
        segment.publishGrowth(next, current);
    }

    /** A table from {@link #next} that will not be published now: kept as prepared if it was, else freed. */
    void giveBack(Table next) {
        if (next == takenFromPrepared) {
            prepared = next;
            preparedFilled = Math.max(preparedFilled, next.capacity);
        } else {
            memory.free(next.address, next.bytes);   // never published: no reader can see it
        }
        takenFromPrepared = null;
    }

    /** Moves up to {@code groups} groups of the draining table into {@code current}; retires it when done. */
    void drain(Table current, int groups) {
        final Table old = segment.draining();
        final int end = (int) Math.min(old.groups, (long) drainGroup + groups);
        for (int group = drainGroup; group < end; group++) {
            for (long full = ControlBytes.matchFull(MemoryAccess.getLong(old.controlWordAddress(group))); full != 0;
                 full &= full - 1) {
                final int from = ControlBytes.slot(group, full);
                segment.moveSlot(old, from, current);
            }
        }
        drainGroup = end;
        if (end == old.groups) {
            segment.endDrain(old);
        }
    }

    /**
     * Forgets every growth in progress (the segment was cleared or released): frees the prepared table, which no
     * reader can see because it was never published.
     */
    void reset() {
        dropPrepared();
        drainGroup = 0;
    }

    /** Frees the prepared table, if any (never published, so no reader can see it): the table is shrinking. */
    void dropPrepared() {
        if (prepared != null) {
            memory.free(prepared.address, prepared.bytes);
            prepared = null;
        }
        preparedFilled = 0;
    }

    /** Twice the groups if the live entries need it, else the same (a rebuild that drops the tombstones). */
    private static int nextGroups(Table t, int entries) {
        if ((long) (entries + 1) * 2 <= t.maxFill) {
            return t.groups;
        }
        if (t.groups == ControlBytes.MAX_GROUPS) {
            throw new IllegalStateException("segment is at its maximum of " + (long) ControlBytes.MAX_GROUPS
                * ControlBytes.GROUP_WIDTH + " slots; use more shards");
        }
        return (int) Math.min(ControlBytes.MAX_GROUPS, (long) t.groups * 2);
    }
}
